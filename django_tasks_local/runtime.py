"""The shared state of one alias: store, scheduler and pool, and their lifecycle.

Django creates one backend instance per thread; they all reach the same
``Runtime`` through a registry keyed by alias and configuration. A runtime makes
its store at once (no thread) and its scheduler and pool on the first enqueue.

::

    enqueue() ─► validate once ─► Job ─► store.add ─► task_enqueued ─► scheduler.push
    pool worker ─► started(job) ─► store: RUNNING ─► task_started
                ─► finished(job) ─► store: SUCCESSFUL/FAILED ─► task_finished ─► waiters

The store is reached through the ``Store`` protocol only (``stores/``), and the
pool through ``Pool``: the runtime is the one place that knows both.

Signals are sent here, outside every lock, from the thread that learned the fact
(a worker thread, or the process pool's supervisor thread).

Lifecycle: ``close()`` drops deferred jobs not yet due (failing them with
``TaskDropped`` and one warning that counts them), lets running and due jobs
finish, then stops the workers; a later enqueue starts a fresh pool. The same
happens for every runtime at interpreter exit. A process forked after use starts
with an empty registry, so its runtimes, pools and stores are fresh.
"""

from __future__ import annotations

import atexit
import logging

# multiprocessing registers its exit handler (which joins every child process)
# when multiprocessing.util is first imported. Importing it before our handler is
# registered makes ours run first (atexit is last in, first out), so the drain at
# exit can still use the process pool's workers and then stop them.
import multiprocessing.util  # noqa: F401
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.tasks.base import Task, TaskResult, TaskResultStatus
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.utils.json import normalize_json

from . import dispatch
from .exceptions import TaskDropped
from .execution import Outcome, current_result_id, failure
from .ids import new_result_id
from .jobs import Job
from .options import PoolOptions
from .pools import Pool
from .results import build_result, normalize_args, normalize_kwargs
from .scheduler import Scheduler
from .stores import Store
from .stores.database import DatabaseStore
from .stores.memory import MemoryStore

logger = logging.getLogger("django_tasks_local")

#: Validated tasks remembered per runtime; past this the memo is cleared (tasks
#: made with ``using()`` per call would otherwise grow it without bound).
VALIDATED_TASKS_LIMIT = 1024


class Runtime:
    """Everything one alias shares across backend instances and threads."""

    def __init__(
        self,
        alias: str,
        backend_class: type,
        options: PoolOptions,
        pool_class: type[Pool],
        validate_task: Callable[[Task], None],
    ) -> None:
        self.alias = alias
        self.backend_class = backend_class
        self.options = options
        self.pool_class = pool_class
        self.store: Store
        if options.store == "database":
            self.store = DatabaseStore(alias, options, f"tasks-{alias}")
        else:
            assert options.max_results is not None  # options refuse None here
            self.store = MemoryStore(alias, options.max_results)
        #: The backend's ``validate_task`` (Django's rules for this alias).
        self._validate_task = validate_task
        #: Tasks this alias has validated (``Task`` is frozen and hashable).
        self._validated: set[Task] = set()
        #: The same, by ``id()``: hashing a ``Task`` hashes all its fields (about
        #: 1 µs per enqueue). The value keeps the task alive, so no other object
        #: can take its id while it is in here.
        self._validated_ids: dict[int, Task] = {}
        self._lock = threading.Lock()
        self._scheduler: Scheduler | None = None
        self._pool: Pool | None = None

    # -- enqueue ----------------------------------------------------------------

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        """Validate (once per task), store, announce and queue one task; return
        it READY."""
        if self._validated_ids.get(id(task)) is not task:
            self._validate_once(task)
        try:
            args = normalize_args(args)
            kwargs = normalize_kwargs(kwargs)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"Arguments of task {task.module_path} (alias {self.alias!r}) must be "
                f"JSON-serialisable: {exc}. Pass ids or plain data, not objects."
            ) from exc
        now = time.time()
        job = Job(
            new_result_id(),
            task,
            args,
            kwargs,
            self.alias,
            now,
            1,
            getattr(task, "max_attempts", None) or self.options.max_attempts,
            metadata=_metadata_of(task),
        )
        result = build_result(
            task=task,
            result_id=job.id,
            status=TaskResultStatus.READY,
            enqueued_at=now,
            started_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
            raw_metadata=job.metadata,
        )
        scheduler = self._scheduler
        if scheduler is None or scheduler.stopped:
            self._start()
        store = self.store
        store.add(job)
        try:
            dispatch.send(task_enqueued, self.backend_class, task_result=result)
        except BaseException:
            store.discard(job)
            raise
        store.schedule(job, self._push)
        return result

    def _validate_once(self, task: Task) -> None:
        """Validate ``task`` unless an equal one was (``using()`` makes a new but
        equal ``Task`` per call), and remember it by identity."""
        validated, by_id = self._validated, self._validated_ids
        if task not in validated:
            self._validate_task(task)
            if len(validated) >= VALIDATED_TASKS_LIMIT:
                validated.clear()
            validated.add(task)
        if len(by_id) >= VALIDATED_TASKS_LIMIT:
            by_id.clear()
        by_id[id(task)] = task

    def _push(self, job: Job) -> None:
        """Queue ``job`` in this process's scheduler, starting a pool if the
        last one was closed meanwhile."""
        task = job.task
        due = task.run_after.timestamp() if task.run_after is not None else None
        while True:
            scheduler = self._scheduler
            if scheduler is None:
                scheduler = self._start()
            if scheduler.push(job, task.priority, due):
                return
            if not scheduler.stopped:
                # Deferred while the alias is closing: dropped like the others.
                self._drop([job])
                return
            # Stopped by close() between our read and the push: start afresh.
            with self._lock:
                if self._scheduler is scheduler:
                    self._scheduler = self._pool = None

    def start(self) -> None:
        """Start the alias's pool now, if it is not running (a web process's
        first request starts its database-store pools)."""
        scheduler = self._scheduler
        if scheduler is None or scheduler.stopped:
            self._start()

    def _start(self) -> Scheduler:
        retired = None
        with self._lock:
            if self._scheduler is None or self._scheduler.stopped:
                retired = self._scheduler
                scheduler = Scheduler()
                pool = self.pool_class(
                    f"tasks-{self.alias}", self.options, scheduler, self
                )
                pool.start()
                self.store.start(scheduler, self._push, self._announce_finished)
                self._scheduler, self._pool = scheduler, pool
            current = self._scheduler
        if retired is not None:
            # A stopped scheduler runs nothing any more (its pool retired after
            # a supervisor error, or closed): the store's threads for it end
            # (outside the lock: they may be waiting for it).
            self.store.close(retired)
        return current

    # -- reports from the pool (the Reporter interface) --------------------------

    def started(self, job: Job, started_at: float, worker_id: str) -> None:
        snapshot = self.store.mark_running(job, started_at, worker_id)
        _send_robust(task_started, self.backend_class, snapshot)

    def saved_metadata(self, job: Job, raw: dict[str, Any]) -> None:
        self.store.save_metadata(job.id, raw)

    def save_metadata(self, result_id: str, raw: dict[str, Any]) -> None:
        """Metadata saved from outside a worker of this process."""
        self.store.save_metadata(result_id, raw)

    def finished(self, job: Job, outcome: Outcome, worker_id: str | None) -> None:
        if outcome.retry_in is not None:
            # A failed attempt with attempts left: READY again, no task_finished.
            due = time.time() + outcome.retry_in
            _, following = self.store.retry(job, outcome, worker_id, due)
            if following is not None:
                self._push(following)
            return
        snapshot, waiters = self.store.finish(job, outcome, worker_id)
        if outcome.ok:
            _send_robust(task_finished, self.backend_class, snapshot)
        else:
            # Sent while handling a stand-in for the task's exception, so that
            # receivers reading sys.exc_info() (Django's own log line) see it.
            try:
                raise TaskFailure(
                    (outcome.traceback or str(outcome.error_class_path)).rstrip()
                )
            except TaskFailure as failure:
                failure.__traceback__ = None  # only the task's traceback matters
                _send_robust(task_finished, self.backend_class, snapshot)
        if waiters:
            for event in waiters:
                event.set()

    # -- results -------------------------------------------------------------------

    def get_result(self, result_id: str) -> TaskResult:
        """A snapshot of the result's current state."""
        return self.store.get(result_id)

    def wait_result(self, result_id: str, timeout: float | None = None) -> TaskResult:
        """Block until the result is finished; its final snapshot."""
        return self.store.wait(result_id, timeout)

    def _announce_finished(self, snapshot: TaskResult) -> None:
        """``task_finished`` for a result that ended elsewhere than in a worker
        of this process (the store recovered it from a dead process)."""
        _send_robust(task_finished, self.backend_class, snapshot)

    def withdraw(self, result_id: str) -> Job | None:
        """Take the job of ``result_id`` out of this process's queue before any
        worker took it, and return it (the caller ends it, with ``finished``);
        None if it is not queued here. For cancelling a READY task of the memory
        store, whose scheduler is its queue; off the hot path."""
        scheduler = self._scheduler
        if scheduler is None:
            return None
        return scheduler.remove(lambda job: job.id == result_id)

    # -- join and close ------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether a pool is running (started and not yet closed)."""
        return self._scheduler is not None

    def join(self, timeout: float | None = None) -> bool:
        """Block until nothing is READY (and due) or RUNNING. False on timeout."""
        self._refuse_inside_own_task("join")
        return self.store.join(self._scheduler, timeout)

    def close(self) -> None:
        """Finish running and due tasks, drop deferred ones, stop the workers."""
        self._refuse_inside_own_task("close")
        with self._lock:
            scheduler, pool = self._scheduler, self._pool
        if scheduler is None or pool is None:
            return
        self._drop(self.store.detach(scheduler))
        scheduler.stop_when_idle()
        pool.stop()
        self.store.close(scheduler)
        with self._lock:
            if self._scheduler is scheduler:
                self._scheduler = self._pool = None

    def _refuse_inside_own_task(self, method: str) -> None:
        """``join()`` and ``close()`` wait until this alias's running tasks end; from
        inside one of them they would wait for it forever, so they raise instead."""
        result_id = current_result_id.get(None)
        if result_id is None or not self.store.is_running(result_id):
            return
        raise RuntimeError(
            f"{method}() of alias {self.alias!r} was called from one of its own tasks "
            f"(result {result_id}), and would wait for that task to end forever."
        )

    def _drop(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        logger.warning(
            "Alias %r is closing: dropped %d deferred task(s) not yet due.",
            self.alias,
            len(jobs),
        )
        now = time.time()
        for job in jobs:
            error = TaskDropped(
                f"Task {job.task.module_path} (id {job.id}) was deferred to "
                f"{job.task.run_after} and was dropped when alias {self.alias!r} "
                "closed before then."
            )
            self.finished(job, failure(error, now, now), None)


def _metadata_of(task: Task) -> dict[str, Any] | None:
    """The task's metadata normalised to JSON (a tuple becomes a list, as in the
    result Django would build), or None for none."""
    metadata = getattr(task, "metadata", None)
    return normalize_json(metadata) if metadata else None


class TaskFailure(Exception):
    """Stands for a failed task's exception while ``task_finished`` is sent.

    Django's receiver logs a failed task with ``sys.exc_info()``, which under
    ``ImmediateBackend`` is the task's own exception. Here that exception is gone
    (or lives in another process), so this carries its formatted traceback as
    its message, and the log line still says what went wrong and where.
    """


def _send_robust(signal, sender: type, snapshot: TaskResult) -> None:
    """Send a signal from a worker: a failing receiver is logged, the task goes on."""
    for receiver, response in dispatch.send_robust(
        signal, sender, task_result=snapshot
    ):
        if isinstance(response, Exception):
            logger.error(
                "Receiver %r of %s for task %s raised",
                receiver,
                "task_started" if signal is task_started else "task_finished",
                snapshot.id,
                exc_info=response,
            )


# -- the registry ---------------------------------------------------------------

_registry_lock = threading.Lock()
_runtimes: dict[tuple, Runtime] = {}
#: Bumped when the registry is emptied (fork, tests), so backend instances that
#: cached a runtime know to look again.
generation = 0


def get_runtime(key: tuple, make) -> Runtime:
    """The runtime for ``key``, made by ``make()`` the first time."""
    runtime = _runtimes.get(key)
    if runtime is None:
        with _registry_lock:
            runtime = _runtimes.get(key)
            if runtime is None:
                runtime = _runtimes[key] = make()
    return runtime


def close_all() -> None:
    """Close every runtime of this process (interpreter exit, test teardown).

    A task that runs meanwhile may enqueue on an alias that is already closed,
    or was never used, and so start its pool again. Where Python allows that at
    interpreter exit (3.12.3 and later; 3.12.0 to 3.12.2 refuse to start a
    thread in an ``atexit`` handler, so such an ``enqueue()`` raises
    ``RuntimeError``), that pool's tasks must be finished too: close again
    until a pass finds no pool running.
    """
    while running := [r for r in list(_runtimes.values()) if r.active]:
        for runtime in running:
            runtime.close()


def reset() -> None:
    """Close every runtime and forget it: the next use starts from nothing."""
    global generation
    close_all()
    with _registry_lock:
        _runtimes.clear()
        generation += 1


def _after_fork_in_child() -> None:
    # The parent's threads do not exist here and its locks may be held forever:
    # start from an empty registry and a new lock.
    global _registry_lock, _runtimes, generation
    _registry_lock = threading.Lock()
    _runtimes = {}
    generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(close_all)
