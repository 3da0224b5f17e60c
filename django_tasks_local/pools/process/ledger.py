"""The job ledger of a process pool: which job goes to which worker, and how every
job it took from the scheduler ends.

::

    scheduler ── take_nowait ──► assign(): idle workers first, one job each;
                                 with a backlog, batches sized by recent durations
                                        │  (the supervisor pickles and writes them)
                                        ▼
    worker reports ──► started() / finished() ──► reporter (RUNNING / final)
    worker ended   ──► settle(): its running job fails, its next job is struck,
                                 the rest go back to the front of the queue
    no worker can ──► fail()    : one failure, reported like any other end

Every job taken from the scheduler ends here exactly once: finished, failed, or
given back (``requeue``). Reports go to the reporter one job at a time, and an
error from the reporter (a store that could not record one result) is logged
and costs that job's record alone: the pool goes on. Finished jobs are
counted done in the scheduler in one call per supervisor cycle
(``flush_done``), always after their report, so ``join()`` returns only once
every result it waited for is final.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from ...exceptions import WorkerDied
from ...execution import Outcome, failure
from ...jobs import Job
from ...scheduler import Scheduler
from .. import Reporter
from .messages import Finished
from .workers import WorkerHandle, describe_exit

logger = logging.getLogger("django_tasks_local")

#: Seconds of (estimated) work a child may hold beyond the task it runs. Small,
#: so a batch never holds back work another child could start now; large enough
#: that no-op tasks travel in batches of dozens.
QUEUED_WORK_SECONDS = 0.002
#: Most jobs in one batch: bounds how far a batch can delay a later
#: higher-priority job, and the size of one message.
MAX_BATCH = 64
#: Times a job may be next in line in a child that dies before starting it
#: before the job is failed: loading the job may be what kills the child.
MAX_STARTUP_STRIKES = 2


class Ledger:
    """Hands jobs to workers and reports how each one ends."""

    def __init__(
        self,
        name: str,
        scheduler: Scheduler,
        reporter: Reporter,
        timeout: float | None,
        max_tasks: int | None,
    ) -> None:
        self.name = name
        self.scheduler = scheduler
        self.reporter = reporter
        self.timeout = timeout
        self.max_tasks = max_tasks
        #: Result id -> times a worker died with the job next in line.
        self._strikes: dict[str, int] = {}
        #: Mean task duration (seconds, moving average) for sizing batches.
        self._mean_duration = 0.01
        #: Jobs that ended and are not yet counted done in the scheduler.
        self._done = 0
        #: Some worker could take a job now, so enqueue() must wake the
        #: supervisor. While every worker is busy it need not: the next report
        #: wakes it anyway, and a write to the wake pipe per enqueue would cost
        #: the web request a system call and a handover of the GIL.
        self.wants_work = True

    # -- handing out jobs ---------------------------------------------------------

    def assign(
        self,
        workers: Iterable[WorkerHandle],
        send: Callable[[WorkerHandle, list[Job]], None],
    ) -> None:
        """Take due jobs for the workers that can run them, and ``send`` them."""
        take = self.scheduler.take_nowait
        candidates = [w for w in workers if w.can_take(self.max_tasks)]
        if not candidates:
            self.wants_work = True  # e.g. none could start: hear of every push
            return
        # Idle workers first, one job each: the lowest latency for a shallow queue.
        self.wants_work = False
        for worker in [w for w in candidates if not w.held]:
            job = take()
            if job is None:
                # A worker is idle: have enqueue() wake us, then look once more,
                # for a push that came before the flag was set woke nobody.
                self.wants_work = True
                job = take()
                if job is None:
                    return
            send(worker, [job])
        if self.timeout is not None:
            return  # one job per worker at a time, so a kill disturbs no other job
        backlog = self.scheduler.ready_count()
        if backlog < len(candidates):
            return
        limit = self._batch_limit()
        if limit == 1:
            return
        share = -(-backlog // len(candidates))
        for worker in candidates:
            if len(worker.held) > limit // 2:
                continue
            room = min(limit - len(worker.held), share)
            if self.max_tasks is not None:
                room = min(room, self.max_tasks - worker.sent)
            batch: list[Job] = []
            while len(batch) < room and (job := take()) is not None:
                batch.append(job)
            if batch:
                send(worker, batch)
            if len(batch) < room:
                return

    def _batch_limit(self) -> int:
        by_duration = int(QUEUED_WORK_SECONDS / max(self._mean_duration, 1e-6))
        return max(1, min(MAX_BATCH, by_duration))

    # -- reports from a worker ----------------------------------------------------

    def started(self, worker: WorkerHandle, started_at: float) -> None:
        """The worker's next held job began at ``started_at``."""
        job = worker.held[0]
        worker.started_at = started_at
        if self._strikes:
            self._strikes.pop(job.id, None)
        limit = time_limit(job, self.timeout)
        if limit is not None:
            late = max(0.0, time.time() - started_at)
            worker.time_limit = time.monotonic() + limit - late
        try:
            self.reporter.started(job, started_at, worker.worker_id)
        except BaseException:  # as in _report
            logger.exception(
                "Pool %s: recording the start of task %s failed.", self.name, job.id
            )

    def saved_metadata(self, worker: WorkerHandle, raw: dict[str, Any]) -> None:
        """The worker's running job saved its metadata (progress)."""
        job = worker.held[0]
        try:
            self.reporter.saved_metadata(job, raw)
        except BaseException:  # as in _report
            logger.exception(
                "Pool %s: saving the metadata of task %s failed.", self.name, job.id
            )

    def finished(self, worker: WorkerHandle, report: Finished) -> None:
        """The worker's running job ended as ``report`` says."""
        job = worker.held.popleft()
        worker.started_at = None
        worker.time_limit = None
        duration = report.finished_at - report.started_at
        self._mean_duration += (duration - self._mean_duration) * 0.2
        self._report(job, report.outcome(job.task.module_path), worker.worker_id)

    # -- ends that no report brought ----------------------------------------------

    def fail(
        self,
        job: Job,
        error: BaseException,
        *,
        worker_id: str | None = None,
        started_at: float | None = None,
        cause: BaseException | None = None,
        taken: bool = True,
        ran: bool = False,
    ) -> None:
        """Fail ``job`` with ``error``: it could not run, or its worker ended.

        ``taken``: the job was taken from the scheduler (in flight), so its end
        is counted done; False for jobs the scheduler gave up (``abandon``).
        ``ran``: the attempt ran (its worker died or was ended under it), so it
        is retried if the task has attempts left.
        """
        now = time.time()
        outcome = failure(
            error,
            now if started_at is None else started_at,
            now,
            cause=cause,
            job=job if ran else None,
            worker_id=worker_id,
        )
        self._report(job, outcome, worker_id, taken)

    def settle(self, worker: WorkerHandle, exitcode: int | None) -> None:
        """The worker has ended: account for every job it held.

        The job it had started fails (with the error it was ended for, else
        ``WorkerDied``); the next one gets a strike (loading it may be what
        killed the worker); the rest go back to the front of the queue.
        """
        held = worker.held
        if held and worker.running:
            job = held.popleft()
            error = worker.end_error or WorkerDied(
                f"{describe_exit(worker.pid, exitcode)} while running task "
                f"{job.task.module_path} (id {job.id})."
            )
            self.fail(
                job,
                error,
                worker_id=worker.worker_id,
                started_at=worker.started_at,
                ran=True,
            )
            worker.started_at = None
        if held:
            self._strike(held.popleft(), worker, exitcode)
        if held:
            logger.info(
                "Pool %s: gave back %d job(s) that worker process %s held but had "
                "not started.",
                self.name,
                len(held),
                worker.pid,
            )
            while held:
                job = held.popleft()
                self.scheduler.requeue(job, job.priority)

    def _strike(self, job: Job, worker: WorkerHandle, exitcode: int | None) -> None:
        strikes = self._strikes.get(job.id, 0) + 1
        if strikes < MAX_STARTUP_STRIKES:
            self._strikes[job.id] = strikes
            self.scheduler.requeue(job, job.priority)
            return
        self._strikes.pop(job.id, None)
        error = WorkerDied(
            f"Task {job.task.module_path} (id {job.id}) could not be started: "
            f"{strikes} worker processes died before running it (the last: "
            f"{describe_exit(worker.pid, exitcode)})."
        )
        self.fail(job, error, worker_id=worker.worker_id)

    def fail_all(self, jobs: Iterable[Job], reason: str, *, taken: bool = True) -> int:
        """Fail ``jobs`` that no worker will run (``taken``: see ``fail``).

        Each on its own: a fault in reporting one is logged, and the others are
        still reported (``_report``).
        """
        count = 0
        for job in jobs:
            error = WorkerDied(
                f"Task {job.task.module_path} (id {job.id}) cannot run: {reason}."
            )
            self.fail(job, error, taken=taken)
            count += 1
        if count:
            logger.error("Pool %s: %s; failed %d task(s).", self.name, reason, count)
        return count

    # -- accounting -----------------------------------------------------------------

    def _report(
        self, job: Job, outcome: Outcome, worker_id: str | None, taken: bool = True
    ) -> None:
        """Report one job's end; it is counted done whatever the reporter does.

        Whatever the reporter raises (``BaseException`` too: in the supervisor
        thread nothing it raises is meant for the pool) costs that one record.
        """
        if taken:
            self._done += 1
        try:
            self.reporter.finished(job, outcome, worker_id)
        except BaseException:
            logger.exception(
                "Pool %s: recording the end of task %s failed.", self.name, job.id
            )

    def flush_done(self) -> None:
        """Count the jobs that ended since the last call done in the scheduler."""
        if self._done:
            done, self._done = self._done, 0
            self.scheduler.done(done)


def time_limit(job: Job, alias_timeout: float | None) -> float | None:
    """Seconds ``job`` may run: its task's ``timeout``, else the alias's TIMEOUT."""
    timeout = getattr(job.task, "timeout", None)
    return alias_timeout if timeout is None else timeout
