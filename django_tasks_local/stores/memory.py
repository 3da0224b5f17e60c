"""The memory store: this process's results of one alias, by id, with an LRU of
finished ones and event-driven waiting. The default store (``STORE = "memory"``).

The store keeps a small mutable ``Record`` per result, never a ``TaskResult``: a
``TaskResult`` a caller holds is frozen and is only ever changed by its own
``refresh()``. ``get()`` builds a fresh snapshot each time. The record hangs on
its job (``job.entry``), so the worker's reports reach it without a lookup.

Records that are READY or RUNNING live in ``_active``; a finished record moves to
``_finished``, an ordered dict kept in least-recently-used order (enqueued,
finished, or read counts as use), and the oldest is evicted past ``max_results``.
So active records can never be evicted.

One lock, held only to copy or change a few fields: no I/O, no signal and no user
code runs under it. The worker's two writes per task (``mark_running``,
``finish``) take no lock under the GIL, in an order the readers rely on (see
``finish``): a lock taken by every worker for every task makes busy worker
threads queue behind it. Waiting is event-driven: a waiter hangs a ``Waiter`` (a
one-shot event) on the record, made only when someone actually waits.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.tasks.base import Task, TaskError, TaskResult, TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist

from ..execution import Outcome
from ..jobs import Job, with_run_after
from ..results import build_result, to_datetime
from ..scheduler import Scheduler

#: Whether attribute writes are serialised by the GIL (see ``mark_running``).
_GIL_ENABLED = getattr(sys, "_is_gil_enabled", lambda: True)()

READY = TaskResultStatus.READY
RUNNING = TaskResultStatus.RUNNING
SUCCESSFUL = TaskResultStatus.SUCCESSFUL
FAILED = TaskResultStatus.FAILED


class Record:
    """One result's mutable state, for as long as the store keeps it.

    Every finished result the store keeps costs one of these, so it holds only
    what a snapshot needs (the alias is the store's): no arguments are kept as
    empty containers (``()`` and None, shared, stand for them), and the job is
    not referenced, so it is freed once the task has run.
    """

    __slots__ = (
        "args",
        "earlier",
        "enqueued_at",
        "error",
        "finished_at",
        "id",
        "kwargs",
        "metadata",
        "return_value",
        "started_at",
        "status",
        "task",
        "waiters",
        "worker_id",
    )

    def __init__(self, job: Job) -> None:
        self.id = job.id
        self.task: Task = job.task
        self.args: list[Any] | tuple[()] = job.args or ()
        self.kwargs: dict[str, Any] | None = job.kwargs or None
        self.enqueued_at = job.enqueued_at
        self.status = READY
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.worker_id: str | None = None
        self.return_value: Any = None
        #: (exception class path, traceback) of a failure, else None.
        self.error: tuple[str, str] | None = None
        #: Events of threads blocked in ``wait()``; None while nobody waits.
        self.waiters: list[Waiter] | None = None
        #: The result's metadata (reserved keys included); None for none. A save
        #: replaces the dict, never changes it in place.
        self.metadata: dict[str, Any] | None = job.metadata
        #: The attempts before this one, once the task was retried: (worker ids,
        #: errors, when the first started, when the last started); else None.
        self.earlier: Earlier | None = None


#: Worker ids, (class path, traceback) errors, first and last start times.
Earlier = tuple[tuple[str, ...], tuple[tuple[str, str], ...], float, float]


class Waiter:
    """A one-shot event on a bare lock, held until ``set()``: what ``wait()``
    blocks on. ``threading.Event`` is a ``Condition`` written in Python (about
    3 µs to make, set and wait on, on an idle result's path); a lock is C (0.5
    µs). Set once, by the thread that finishes the record."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        """True once set; False if ``timeout`` seconds passed first."""
        return self._lock.acquire(True, -1 if timeout is None else max(timeout, 0))


def hang_waiter(holder: Any) -> Waiter | None:
    """A ``Waiter`` hung on ``holder`` (a record with ``status`` and ``waiters``)
    if its result is not final, else None. Under the store's lock.

    ``finish()`` takes no lock: it writes the final status, then takes the list
    of waiters (leaving None). So the list is read once, and the status read
    again once the event is hung: still not final, and ``finish()`` will find
    the event; final, and the caller must not wait (it may or may not be set).
    """
    if holder.status not in (READY, RUNNING):
        return None
    event = Waiter()
    waiters = holder.waiters
    if waiters is None:
        holder.waiters = [event]
    else:
        waiters.append(event)
    if holder.status not in (READY, RUNNING):
        return None
    return event


def unhang_waiter(holder: Any, event: Waiter) -> None:
    """Take back a waiter that gave up (its timeout passed). Under the lock."""
    waiters = holder.waiters
    if waiters and event in waiters:
        waiters.remove(event)


class MemoryStore:
    """Records of one alias in this process, safe to use from any thread."""

    def __init__(self, alias: str, max_results: int) -> None:
        self.alias = alias
        self.max_results = max_results
        self._lock = threading.Lock()
        self._active: dict[str, Record] = {}
        self._finished: OrderedDict[str, Record] = OrderedDict()

    # -- lifecycle: nothing to start; the scheduler is the queue -----------------------

    def start(
        self,
        scheduler: Scheduler,
        push: Callable[[Job], None],
        announce: Callable[[TaskResult], None],
    ) -> None:
        """Nothing feeds the scheduler but enqueues, and nothing ends elsewhere."""

    def detach(self, scheduler: Scheduler) -> list[Job]:
        """Deferred jobs not yet due are dropped when the alias closes: they are
        in this process's memory only."""
        return scheduler.drain()

    def close(self, scheduler: Scheduler) -> None:
        """Nothing to write anywhere."""

    def join(self, scheduler: Scheduler | None, timeout: float | None) -> bool:
        return True if scheduler is None else scheduler.wait_idle(timeout)

    # -- enqueue -----------------------------------------------------------------------

    def add(self, job: Job) -> None:
        record = job.entry = Record(job)
        with self._lock:
            self._active[record.id] = record

    def schedule(self, job: Job, push: Callable[[Job], None]) -> None:
        """The scheduler is this store's queue: at once."""
        push(job)

    def discard(self, job: Job) -> None:
        """Forget a job that was never queued (enqueue failed half-way)."""
        with self._lock:
            self._active.pop(job.id, None)

    def mark_running(self, job: Job, started_at: float, worker_id: str) -> TaskResult:
        """The worker said it began ``job``: RUNNING. Return the snapshot.

        Without the store's lock where the GIL allows it: every worker takes
        that lock to finish its task, and a second acquisition per task is one
        more place where worker threads queue behind each other (measured: most
        of the thread switches of a busy pool). Only the thread reporting
        ``record`` writes it until it finishes, and under the GIL each attribute
        write is atomic and seen in program order. ``started_at`` and
        ``worker_id`` are written before ``status``, and readers read ``status``
        first (``_state``), so a reader that sees RUNNING sees both, and one that
        still sees READY ignores them.
        """
        record: Record = job.entry
        if _GIL_ENABLED:
            record.started_at = started_at
            record.worker_id = worker_id
            record.status = RUNNING
        else:  # free-threaded Python: no such ordering, so take the lock
            with self._lock:
                record.started_at = started_at
                record.worker_id = worker_id
                record.status = RUNNING
        return _snapshot(
            self.alias,
            record,
            (RUNNING, started_at, None, worker_id, None, None, record.earlier),
        )

    def finish(
        self, job: Job, outcome: Outcome, worker_id: str | None = None
    ) -> tuple[TaskResult, list[Waiter] | None]:
        """Record how ``job`` ended; evict past ``max_results``.

        Return the final snapshot and the waiters to wake: the caller wakes them
        after sending ``task_finished``, so ``wait()`` returns after the receivers
        ran.

        Without the store's lock where the GIL allows it, like ``mark_running``
        (measured: with the lock, busy workers queued behind it for 1.4 thread
        switches per task, and a deep queue drained at half speed). Only the
        thread reporting ``record`` writes it, in an order readers rely on:

        - the outcome's fields, then ``status`` last; readers read ``status``
          first and ignore the end fields of a record not yet finished;
        - then the waiters are taken; ``wait()`` registers before it reads
          ``status``, so either it sees the final status or it is taken here;
        - then into ``_finished`` before out of ``_active``, so ``get()`` always
          finds the record; each dict operation is one atomic C call.
        """
        if _GIL_ENABLED:
            return self._finish(job.entry, outcome, worker_id)
        with self._lock:  # free-threaded Python: no such ordering
            return self._finish(job.entry, outcome, worker_id)

    def _finish(
        self, record: Record, outcome: Outcome, worker_id: str | None
    ) -> tuple[TaskResult, list[Waiter] | None]:
        if outcome.metadata is not None:
            record.metadata = outcome.metadata
        if outcome.ok:
            record.return_value = outcome.return_value
            status = SUCCESSFUL
        else:
            class_path, traceback = outcome.error_class_path, outcome.traceback
            assert class_path is not None and traceback is not None  # see failure()
            record.error = (class_path, traceback)
            status = FAILED
        if record.started_at is None and worker_id is not None:
            record.started_at = outcome.started_at
        if worker_id is not None:
            record.worker_id = worker_id
        record.finished_at = outcome.finished_at
        record.status = status
        waiters, record.waiters = record.waiters, None
        finished = self._finished
        finished[record.id] = record
        self._active.pop(record.id, None)
        while len(finished) > self.max_results:
            try:
                finished.popitem(last=False)
            except KeyError:  # another thread evicted the last one over the limit
                break
        return _snapshot(self.alias, record, _state(record)), waiters

    def retry(
        self, job: Job, outcome: Outcome, worker_id: str | None, due: float
    ) -> tuple[TaskResult, Job]:
        """``job``'s attempt failed and is retried at ``due``: READY again, with
        the attempt's worker id and error kept. Return the READY snapshot and
        the job of the next attempt (for the runtime to queue).

        Under the lock (a rare path): several fields go back to their READY
        values, which the lock-free ordering of ``finish`` does not cover."""
        record: Record = job.entry
        assert outcome.error_class_path is not None and outcome.traceback is not None
        started = record.started_at or outcome.started_at
        ids, errors, first, _ = record.earlier or ((), (), started, started)
        earlier: Earlier = (
            (*ids, worker_id or record.worker_id or "unknown"),
            (*errors, (outcome.error_class_path, outcome.traceback)),
            first,
            started,
        )
        task = with_run_after(job.task, to_datetime(due))
        with self._lock:
            if outcome.metadata is not None:
                record.metadata = outcome.metadata
            record.earlier = earlier
            record.task = task
            record.started_at = None
            record.worker_id = None
            record.status = READY
            state = _state(record)
        following = Job(
            job.id,
            task,
            job.args,
            job.kwargs,
            job.backend,
            job.enqueued_at,
            job.attempt + 1,
            job.max_attempts,
            earlier[0],
            earlier[1],
            record.metadata,
        )
        following.entry = record
        return _snapshot(self.alias, record, state), following

    def save_metadata(self, result_id: str, raw: dict[str, Any]) -> None:
        with self._lock:
            record = self._active.get(result_id) or self._finished.get(result_id)
            if record is None:
                raise TaskResultDoesNotExist(result_id)
            record.metadata = raw

    def get(self, result_id: str) -> TaskResult:
        """A snapshot of the result's current state; reading counts as use."""
        with self._lock:
            # _active first: finish() (lock-free) adds to _finished before it
            # removes from _active, so a record missing from _active is found in
            # _finished. The other order could miss it between the two steps.
            record = self._active.get(result_id)
            if record is None:
                record = self._finished.get(result_id)
                if record is None:
                    raise TaskResultDoesNotExist(result_id)
                _touch(self._finished, result_id)
            state = _state(record)
        return _snapshot(self.alias, record, state)

    def wait(self, result_id: str, timeout: float | None = None) -> TaskResult:
        """Block until the result is finished and return its final snapshot.

        Raise ``TimeoutError`` past ``timeout`` seconds, ``TaskResultDoesNotExist``
        for an unknown id. Event-driven: nothing polls.
        """
        with self._lock:
            # _active first, as in get(): finish() may be moving the record.
            record = self._active.get(result_id) or self._finished.get(result_id)
            if record is None:
                raise TaskResultDoesNotExist(result_id)
            event = hang_waiter(record)
        if event is not None and not event.wait(timeout):
            with self._lock:
                unhang_waiter(record, event)
            raise TimeoutError(
                f"Task result {result_id} of alias {self.alias!r} did not finish "
                f"within {timeout} seconds."
            )
        with self._lock:
            if self._finished.get(result_id) is record:
                _touch(self._finished, result_id)
            state = _state(record)
        return _snapshot(self.alias, record, state)

    def is_running(self, result_id: str) -> bool:
        """Whether the result is RUNNING here (not counted as a use)."""
        with self._lock:
            record = self._active.get(result_id)
            return record is not None and record.status == RUNNING

    # -- reads for operators (the admin, the board): off the hot path ----------------

    def snapshots(self) -> list[TaskResult]:
        """A snapshot of every result kept here, READY and RUNNING ones first,
        then finished ones; none counts as a use (an operator looking must not
        change what is evicted). The records are copied under the lock and the
        snapshots built after it, so enqueues wait only for the copy."""
        with self._lock:
            records = [*self._active.values(), *self._finished.values()]
            states = [_state(record) for record in records]
        return [
            _snapshot(self.alias, record, state)
            for record, state in zip(records, states, strict=True)
        ]

    def peek(self, result_id: str) -> TaskResult:
        """``get()`` that does not count as a use."""
        with self._lock:
            record = self._active.get(result_id) or self._finished.get(result_id)
            if record is None:
                raise TaskResultDoesNotExist(result_id)
            state = _state(record)
        return _snapshot(self.alias, record, state)

    def forget(self, result_id: str) -> bool:
        """Delete a finished result (an operator's delete); False if it is not
        kept here finished (READY and RUNNING results are never deleted)."""
        with self._lock, contextlib.suppress(KeyError):
            # finish() evicts without the lock: the record may go meanwhile.
            del self._finished[result_id]
            return True
        return False

    def counts(self) -> dict[str, int]:
        """How many records are active and finished (for tests and diagnostics)."""
        with self._lock:
            return {"active": len(self._active), "finished": len(self._finished)}


def _touch(finished: OrderedDict[str, Record], result_id: str) -> None:
    """Mark a finished record as just used, unless it was evicted meanwhile
    (``finish`` evicts without the lock)."""
    with contextlib.suppress(KeyError):
        finished.move_to_end(result_id)


def _state(record: Record) -> tuple:
    """The mutable fields of a record, copied while the lock is held.

    ``status`` is read first, and only the fields that status has are read:
    ``mark_running`` and ``finish`` write without the lock, the other fields
    first and ``status`` last.
    """
    status = record.status
    if status is READY:
        return (READY, None, None, None, None, None, record.earlier)
    if status is RUNNING:
        return (
            RUNNING,
            record.started_at,
            None,
            record.worker_id,
            None,
            None,
            record.earlier,
        )
    return (
        status,
        record.started_at,
        record.finished_at,
        record.worker_id,
        record.return_value,
        record.error,
        record.earlier,
    )


def _snapshot(alias: str, record: Record, state: tuple) -> TaskResult:
    """A ``TaskResult`` of ``record`` in ``state``; fresh argument containers
    where the record keeps none (``or`` makes a new empty one per snapshot)."""
    status, started_at, finished_at, worker_id, return_value, error, earlier = state
    last_attempted_at = None
    if earlier is None:
        worker_ids = [] if worker_id is None else [worker_id]
        errors = (
            []
            if error is None
            else [TaskError(exception_class_path=error[0], traceback=error[1])]
        )
    else:
        ids, earlier_errors, first_started, last_started = earlier
        worker_ids = [*ids] if worker_id is None else [*ids, worker_id]
        errors = [
            TaskError(exception_class_path=path, traceback=text)
            for path, text in (
                earlier_errors if error is None else (*earlier_errors, error)
            )
        ]
        last_attempted_at = started_at or last_started
        started_at = first_started
    return build_result(
        task=record.task,
        result_id=record.id,
        status=status,
        enqueued_at=record.enqueued_at,
        started_at=started_at,
        last_attempted_at=last_attempted_at,
        finished_at=finished_at,
        args=record.args or [],
        kwargs=record.kwargs or {},
        backend=alias,
        errors=errors,
        worker_ids=worker_ids,
        return_value=return_value,
        raw_metadata=record.metadata,
    )
