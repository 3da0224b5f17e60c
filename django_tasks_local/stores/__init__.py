"""Result stores: where an alias keeps its task results, behind one protocol.

The runtime talks to its store through ``Store`` only, so nothing above it
changes with the choice of store. A store keeps its own record of each result and
hangs it on the job (``job.entry``), so the reports from the pool find it without
a lookup; the scheduler and the pools never read it.

::

    runtime.enqueue ─► add(job) ─► [task_enqueued] ─► schedule(job, push)
    pool worker     ─► mark_running(job, ...) ─► snapshot for task_started
                    ─► finish(job, ...)       ─► snapshot for task_finished,
                                                 then wake the waiters
    get_result()    ─► get(id)         wait() ─► wait(id, timeout)
    pool started    ─► start(scheduler, push, announce)
    close()         ─► detach(scheduler), pool stops, close(scheduler)

Two stores: ``memory`` (this process's results; the scheduler is the queue) and
``database`` (a table shared by every process of the site; the table is the
queue, and this process claims from it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from django.tasks.base import TaskResult

from ..execution import Outcome
from ..jobs import Job
from ..scheduler import Scheduler


class Wakeable(Protocol):
    """A thread blocked in ``Store.wait``, woken once its result is final."""

    def set(self) -> None: ...


class Store(Protocol):
    """What a runtime needs from a result store. Safe to call from any thread."""

    alias: str

    def start(
        self,
        scheduler: Scheduler,
        push: Callable[[Job], None],
        announce: Callable[[TaskResult], None],
    ) -> None:
        """The alias's pool started with ``scheduler``; ``push`` queues a job in
        it (for a store that feeds it from elsewhere); ``announce`` sends
        ``task_finished`` for a result that ended without a worker of this
        process (one the store recovered from a dead process)."""

    def detach(self, scheduler: Scheduler) -> list[Job]:
        """The alias is closing: stop feeding ``scheduler`` and take back what it
        holds that the store keeps elsewhere. Return the jobs that will never run
        (the runtime fails them with ``TaskDropped``)."""

    def close(self, scheduler: Scheduler) -> None:
        """The pool of ``scheduler`` has stopped: finish writing, and stop the
        store's threads for that pool (idempotent)."""

    def join(self, scheduler: Scheduler | None, timeout: float | None) -> bool:
        """Block until nothing of the alias waits or runs here (``join()``)."""

    def add(self, job: Job) -> None:
        """Keep a new READY result for ``job`` (and hang the record on it)."""

    def schedule(self, job: Job, push: Callable[[Job], None]) -> None:
        """Hand an added job to this process's scheduler with ``push``, when and
        if it may run here."""

    def discard(self, job: Job) -> None:
        """Forget ``job``'s result: it was never queued (enqueue failed half-way)."""

    def mark_running(self, job: Job, started_at: float, worker_id: str) -> TaskResult:
        """A worker began ``job`` at ``started_at``: RUNNING. Return the snapshot."""

    def finish(
        self, job: Job, outcome: Outcome, worker_id: str | None
    ) -> tuple[TaskResult, Sequence[Wakeable] | None]:
        """``job`` ended as ``outcome``. Return the final snapshot and the waiters
        to wake once ``task_finished`` was sent (so ``wait()`` returns after the
        receivers ran)."""

    def retry(
        self, job: Job, outcome: Outcome, worker_id: str | None, due: float
    ) -> tuple[TaskResult, Job | None]:
        """``job``'s attempt failed and is tried again at ``due`` (epoch
        seconds): READY, its worker id and error kept. Return the READY
        snapshot, and the next attempt's job if this process queues it (None:
        the store's queue has it, whoever runs it)."""

    def save_metadata(self, result_id: str, raw: dict[str, Any]) -> None:
        """Replace the result's metadata (reserved keys included) with ``raw``
        (a task's progress, while it runs)."""

    def get(self, result_id: str) -> TaskResult:
        """A snapshot of the result's current state; ``TaskResultDoesNotExist``
        for an unknown (or evicted) id."""

    def wait(self, result_id: str, timeout: float | None = None) -> TaskResult:
        """Block until the result is finished and return its final snapshot;
        ``TimeoutError`` past ``timeout`` seconds."""

    def is_running(self, result_id: str) -> bool:
        """Whether the result is RUNNING in this process."""
