"""The database store (``STORE = "database"``): results and the queue of an alias
in a table of the site's own database, shared by every process of the site.

::

    enqueue() ─► INSERT row (the caller's transaction) ─► task_enqueued
        │  autocommit, due, and a worker free here: the row is claimed by this
        │  process as it is written, and the job goes to its scheduler at once
        │  otherwise: after the commit the claimer is woken (or told when the
        │  task falls due), here and, within POLL_INTERVAL, in every process
        ▼
    claimer (claimer.py) ─► claim(n): one atomic UPDATE ... RETURNING ─► scheduler
        ▼
    pool worker ─► mark_running / finish ─► this process's entry (at once)
                                       └─► writer (writer.py): batched UPDATEs,
                                           each naming the claim token
    get_result() / wait() ─► this process's entry if it holds the result,
                              else the row (decoded in rows.py)

This process keeps an ``Entry`` (``entries.py``) for each result it holds:
claimed, running, or finished and not yet committed. Reads in this process see
those first, so its statuses are exact (RUNNING the moment a worker starts, as
in the memory store) while the writer commits in batches; other processes see
the row once the writer has committed, a few milliseconds later. The entry is
dropped when its final state is in the row.

Waiting: ``wait()`` on a result this process holds blocks on an event, as in the
memory store. On a result held elsewhere it reads the row's status, first after
10 ms, then at doubling intervals up to ``POLL_INTERVAL``.

Nothing is dropped: at ``close()`` and at exit, jobs claimed here but not started
are given back (their claim cleared), running ones finish and their ends are
committed, deferred ones were never claimed. All of them wait in the table for
the next process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction
from django.tasks.base import TaskResult, TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist

from ..execution import Outcome
from ..identity import process_id
from ..ids import new_token
from ..jobs import Job, task_at, with_run_after
from ..options import PoolOptions
from ..results import to_datetime
from ..retries import retry_delay
from ..scheduler import Scheduler
from .claimer import Claimer
from .entries import Entry, snapshot_of_entry
from .leases import Leases
from .memory import Waiter, hang_waiter, unhang_waiter
from .rows import failed_result_of_lost, job_of_claim, snapshot_of_row
from .sql import (
    TABLE,
    ClaimedRow,
    Dialect,
    HeldRow,
    ResultRow,
    thread_connection,
    writing,
)
from .writer import Writer

logger = logging.getLogger("django_tasks_local")

READY = TaskResultStatus.READY
RUNNING = TaskResultStatus.RUNNING
SUCCESSFUL = TaskResultStatus.SUCCESSFUL
FAILED = TaskResultStatus.FAILED

#: Seconds ``wait()`` first waits before reading the row of a result held by
#: another process again; the interval doubles up to ``POLL_INTERVAL``.
FIRST_LOOK_SECONDS = 0.01


class DatabaseStore:
    """Results and the queue of one alias in the database. Safe from any thread."""

    def __init__(self, alias: str, options: PoolOptions, name: str) -> None:
        self.alias = alias
        self.name = name
        self.database = options.database
        self.max_results = options.max_results
        self.max_workers = options.max_workers
        self.poll_interval = options.poll_interval
        self.lease = options.lease
        self.max_attempts = options.max_attempts
        self._lock = threading.Lock()
        #: Results this process holds, by id.
        self._local: dict[str, Entry] = {}
        self._dialect: Dialect | None = None
        #: The threads of each pool of the alias that is started (one, but for
        #: the moments when a pool closes while the next one starts).
        self._sessions: dict[Scheduler, tuple[Writer, Claimer]] = {}
        #: Those of the latest pool: where this process's writes and wake-ups go.
        self._scheduler: Scheduler | None = None
        self._claimer: Claimer | None = None
        self._writer: Writer | None = None
        self._announce: Callable[[TaskResult], None] = _ignore
        #: An enqueue in autocommit claims its task as it writes it while this
        #: process holds fewer jobs than this: while a worker is free, so the
        #: task starts at once; otherwise the claimer takes the best rows of
        #: the table, in priority order, when room opens.
        self._claim_room = 0

    @property
    def dialect(self) -> Dialect:
        dialect = self._dialect
        if dialect is None:
            dialect = self._dialect = Dialect(connections[self.database])
        return dialect

    # -- lifecycle ---------------------------------------------------------------------

    def start(
        self,
        scheduler: Scheduler,
        push: Callable[[Job], None],
        announce: Callable[[TaskResult], None],
    ) -> None:
        """The alias's pool started with ``scheduler``: feed it from the table,
        keep this process's claims alive, recover those of dead processes."""
        self._announce = announce
        writer = Writer(
            self.name, self.database, self.dialect, self.alias, self.max_results
        )
        writer.start()
        leases = Leases(
            self.database,
            self.alias,
            self.dialect,
            self.lease,
            self._recovered,
            lambda silent: self._after_lapse(leases, silent),
            self._retry_after_loss,
        )

        def tend() -> None:
            leases.beat_if_due()
            leases.recover()

        claimer = Claimer(
            self.name,
            self._claim,
            push,
            scheduler,
            self.max_workers,
            self.poll_interval,
            self.database,
            tend,
            leases.interval,
            leases.unregister,
        )
        scheduler.refill_below = self.max_workers
        scheduler.refill = claimer.refill
        self._claim_room = self.max_workers
        self._sessions[scheduler] = (writer, claimer)
        self._scheduler, self._writer, self._claimer = scheduler, writer, claimer
        claimer.start()

    def detach(self, scheduler: Scheduler) -> list[Job]:
        """The alias is closing: stop claiming, and give back to the table every
        job claimed here and not started. Nothing is dropped. The heartbeat
        goes on (the claimer's thread keeps tending) until ``close()``: the
        tasks still running keep their leases while they finish."""
        session = self._sessions.get(scheduler)
        if session is not None:
            session[1].stop_claiming()
        if self._claimer is not None and self._scheduler is scheduler:
            self._claimer = None  # no more wake-ups from enqueues
        scheduler.refill = _nothing
        scheduler.refill_below = 0
        for job in scheduler.withdraw():
            self._release(job)
        return []

    def close(self, scheduler: Scheduler) -> None:
        """The pool of ``scheduler`` has stopped: no task of it runs any more.
        Its heartbeat and its process row end, and every status change of it is
        committed before its writer ends. Closing twice does nothing."""
        session = self._sessions.pop(scheduler, None)
        if self._scheduler is scheduler:
            self._scheduler = self._writer = self._claimer = None
        if session is None:
            return
        writer, claimer = session
        claimer.stop()
        writer.stop()

    def _after_lapse(self, leases: Leases, silent: float) -> None:
        """This process was silent past its lease: the jobs it queued may have
        been recovered by another process meanwhile. Check each before it may
        run, and forget those that are no longer this process's. (A task that was
        already running here runs on; its end is refused, see ``_write_end``.)"""
        scheduler = self._scheduler
        if scheduler is None:
            return
        queued = scheduler.take_back()
        claims = [(job.id, job.entry.token) for job in queued]
        held = leases.still_held(claims) if claims else set()
        for job in queued:
            if job.id in held:
                scheduler.push(job, job.task.priority)
            else:
                self._local.pop(job.id, None)
                self._supersede(job.entry)
        logger.warning(
            "Alias %r: this process was silent for %.1f seconds, past LEASE "
            "(%g s); %d queued task(s) it had claimed were recovered by another "
            "process meanwhile and will not run here.",
            self.alias,
            silent,
            self.lease,
            len(queued) - len(held),
        )

    def _recovered(self, result_ids: list[str]) -> None:
        """Attempts that recovery failed here: their ``task_finished`` is sent
        here, since the process that ran them cannot send it any more."""
        for result_id in result_ids:
            try:
                snapshot = self.get(result_id)
            except TaskResultDoesNotExist:
                continue
            self._announce(snapshot)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every status change so far is in the table (tests, exit)."""
        writer = self._writer
        return True if writer is None else writer.flush(timeout)

    def join(self, scheduler: Scheduler | None, timeout: float | None) -> bool:
        """Block until nothing runs or waits here, everything this process wrote
        is committed, and no due READY row of the alias is left unclaimed (this
        process takes them). Tasks running in other processes are theirs."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        while True:
            if scheduler is None or scheduler.stopped:
                return self.flush(remaining())
            if not scheduler.wait_idle(remaining()) or not self.flush(remaining()):
                return False
            if not self._due_rows_unclaimed():
                if scheduler.load() == 0:
                    return True
                continue
            claimer = self._claimer
            if claimer is None:
                return True  # closing: they wait in the table for the next process
            claimer.wake()
            left = remaining()
            if left is not None and left <= 0:
                return False
            # The claimer takes them within moments: look again soon.
            time.sleep(
                FIRST_LOOK_SECONDS if left is None else min(left, FIRST_LOOK_SECONDS)
            )

    def _due_rows_unclaimed(self) -> bool:
        dialect = self.dialect
        with connections[self.database].cursor() as cursor:
            cursor.execute(
                dialect.any_due, (self.alias, process_id(), dialect.time(time.time()))
            )
            return cursor.fetchone() is not None

    # -- enqueue -----------------------------------------------------------------------

    def add(self, job: Job) -> None:
        """Write the row in the caller's transaction. In autocommit, a due task
        is claimed by this process as it is written when a worker is free here."""
        connection = connections[self.database]
        dialect = self.dialect
        task = job.task
        run_after = task.run_after.timestamp() if task.run_after is not None else None
        scheduler = self._scheduler
        claim = (
            scheduler is not None
            and (run_after is None or run_after <= job.enqueued_at)
            and connection.get_autocommit()
            and scheduler.load() < self._claim_room
        )
        token = new_token() if claim else None
        params = (
            job.id,
            self.alias,
            task.module_path,
            task.queue_name,
            task.priority,
            dialect.json(job.args),
            dialect.json(job.kwargs),
            dialect.time(run_after),
            dialect.time(job.enqueued_at),
            "[]",
            "[]",
            dialect.json(job.metadata or {}),
            process_id() if claim else None,
            token,
            dialect.time(job.enqueued_at + self.lease) if claim else None,
        )
        try:
            # In the caller's transaction (which holds any lock there is), or
            # on PostgreSQL (which locks rows, not the database): as is.
            if connection.in_atomic_block or dialect.postgres:
                with connection.cursor() as cursor:
                    cursor.execute(dialect.insert, params)
            else:
                self._insert_on_sqlite(connection, params)
        except DatabaseError as error:
            raise self._explain(error) from error
        job.entry = Entry(job, token) if token is not None else None

    def _insert_on_sqlite(self, connection: Any, params: tuple) -> None:
        """The INSERT of an enqueue in autocommit on SQLite: on the connection
        itself, with the statement already in SQLite's ``?`` style.

        Django's cursor would rewrite ``%s`` to ``?`` and wrap the cursor on
        every call (about 20 µs of the enqueue's 180); here only its error
        translation is kept, so a caller still sees Django's ``DatabaseError``
        classes. Outside a transaction nothing else of Django's cursor applies.
        """
        with writing(self.database, "sqlite"), connection.wrap_database_errors:
            if connection.connection is None:
                connection.ensure_connection()
            connection.connection.execute(self.dialect.insert_qmark, params)

    def _explain(self, error: DatabaseError) -> Exception:
        """A missing table means ``migrate`` has not run: say so."""
        if TABLE in str(error):
            return ImproperlyConfigured(
                f"The database store of alias {self.alias!r} keeps its tasks in the "
                f"table {TABLE} of database {self.database!r}, which does not exist "
                f"there ({error}). Run `manage.py migrate` (with "
                f"'django_tasks_local' in INSTALLED_APPS)."
            )
        return error

    def schedule(self, job: Job, push: Callable[[Job], None]) -> None:
        """Hand ``job`` to this process's scheduler if it claimed it; else have
        the claimer look once the caller's transaction commits."""
        entry = job.entry
        if entry is not None:  # claimed as written, in autocommit: committed
            self._local[job.id] = entry
            push(job)
            return
        claimer = self._claimer
        if claimer is None:
            return  # the pool is closing: the row waits for the next process
        run_after = job.task.run_after
        if run_after is not None and run_after.timestamp() > time.time():
            due = run_after.timestamp()
            transaction.on_commit(lambda: claimer.note_due(due), using=self.database)
        else:
            transaction.on_commit(claimer.wake, using=self.database)

    def discard(self, job: Job) -> None:
        """Delete the row of a job whose enqueue failed after it was written."""
        self._local.pop(job.id, None)
        with connections[self.database].cursor() as cursor:
            cursor.execute(self.dialect.delete, (job.id,))

    # -- claims ------------------------------------------------------------------------

    def _claim(self, limit: int) -> tuple[list[Job], float | None]:
        """Claim up to ``limit`` due READY rows for this process (the claimer's
        thread); return their jobs, best first, and when the next deferred row
        falls due (None if none, or if the claim was full)."""
        connection = thread_connection(self.database)
        dialect = self.dialect
        now = time.time()
        token = new_token()
        with writing(self.database, dialect.vendor), connection.cursor() as cursor:
            cursor.execute(
                dialect.claim,
                (
                    process_id(),
                    token,
                    dialect.time(now + self.lease),
                    self.alias,
                    dialect.time(now),
                    limit,
                ),
            )
            rows = cursor.fetchall()
            next_due = None
            if len(rows) < limit:
                cursor.execute(dialect.next_due, (self.alias, dialect.time(now)))
                found = cursor.fetchone()
                next_due = dialect.timestamp(found[0]) if found else None
        claimed = sorted(
            map(ClaimedRow._make, rows), key=lambda row: (-row.priority, row.seq)
        )
        jobs = []
        for row in claimed:
            job = self._job_from_claim(row, token)
            if job is not None:
                jobs.append(job)
        return jobs, next_due

    def _job_from_claim(self, row: ClaimedRow, token: str) -> Job | None:
        try:
            job, first_started_at = job_of_claim(
                self.dialect, self.alias, row, self.max_attempts_of
            )
        except Exception as error:  # noqa: BLE001 - that task, not the claimer, fails
            self._fail_unloadable(row.result_id, row.task_path, token, error)
            return None
        entry = job.entry = Entry(
            job, token, list(job.worker_ids), list(job.errors), first_started_at
        )
        self._local[row.result_id] = entry
        return job

    def _retry_after_loss(self, row: HeldRow, error: BaseException) -> float | None:
        """Seconds until the task of a RUNNING row whose process was lost is
        tried again (``error`` is its ``WorkerDied``), or None to fail it."""
        dialect = self.dialect
        try:
            task = task_at(
                row.task_path, row.priority, self.alias, row.queue_name, None
            )
        except Exception:  # noqa: BLE001 - cannot be imported here: fail it
            return None
        now = time.time()

        def failed_result() -> TaskResult:
            return failed_result_of_lost(dialect, self.alias, task, row, now)

        return retry_delay(
            task, row.attempts, self.max_attempts_of(task), error, failed_result
        )

    def max_attempts_of(self, task: Any) -> int:
        """The task's ``max_attempts``, else the alias's ``MAX_ATTEMPTS``."""
        return getattr(task, "max_attempts", None) or self.max_attempts

    def _fail_unloadable(
        self, result_id: str, task_path: str, token: str, error: Exception
    ) -> None:
        from ..execution import failure

        now = time.time()
        outcome = failure(
            ImportError(
                f"Task {task_path} (id {result_id}) cannot be loaded in this "
                f"process ({type(error).__name__}: {error})."
            ),
            now,
            now,
            cause=error,
        )
        logger.error("Alias %r: %s", self.alias, outcome.traceback)
        errors = [[outcome.error_class_path, outcome.traceback]]
        self._write_end(result_id, token, FAILED, None, now, now, 1, [], None, errors)

    def _release(self, job: Job) -> None:
        """Give a claimed, unstarted job back to the table."""
        entry = job.entry
        self._local.pop(job.id, None)
        if entry is not None:
            self._supersede(entry)
        writer = self._writer
        if entry is not None and writer is not None:
            writer.put(job.id, self.dialect.release, (job.id, entry.token))

    # -- reports from the pool ---------------------------------------------------------

    def mark_running(self, job: Job, started_at: float, worker_id: str) -> TaskResult:
        entry: Entry = job.entry
        entry.started_at = started_at
        if entry.first_started_at is None:
            entry.first_started_at = started_at
        entry.worker_ids = [*entry.worker_ids, worker_id]
        entry.status = RUNNING
        self._write_running(entry)
        return snapshot_of_entry(self.alias, entry)

    def _write_running(self, entry: Entry) -> None:
        """The whole running state of ``entry`` (each write of it sets every
        column the one before set, so the writer keeps only the last)."""
        writer = self._writer
        if writer is None:
            return
        dialect = self.dialect
        job = entry.job
        writer.put(
            job.id,
            dialect.mark_running,
            (
                dialect.time(entry.started_at),
                dialect.time(entry.started_at),
                len(entry.worker_ids),
                dialect.json(entry.worker_ids),
                dialect.json(entry.metadata or {}),
                job.id,
                entry.token,
            ),
        )

    def save_metadata(self, result_id: str, raw: dict[str, Any]) -> None:
        """A running task's progress: into its entry and, through the writer,
        the row; for a result this process does not hold, the row at once."""
        entry = self._local.get(result_id)
        if entry is not None and entry.status == RUNNING and not entry.superseded:
            entry.metadata = raw
            self._write_running(entry)
            return
        with connections[self.database].cursor() as cursor:
            cursor.execute(
                self.dialect.save_metadata,
                (self.dialect.json(raw), result_id, self.alias),
            )
            if cursor.rowcount == 0:
                raise TaskResultDoesNotExist(result_id)

    def finish(
        self, job: Job, outcome: Outcome, worker_id: str | None
    ) -> tuple[TaskResult, Sequence[Waiter] | None]:
        entry: Entry = job.entry
        if outcome.metadata is not None:
            entry.metadata = outcome.metadata
        if outcome.ok:
            entry.return_value = outcome.return_value
            status = SUCCESSFUL
        else:
            assert (
                outcome.error_class_path is not None and outcome.traceback is not None
            )
            entry.errors = [
                *entry.errors,
                (outcome.error_class_path, outcome.traceback),
            ]
            status = FAILED
        if entry.started_at is None and worker_id is not None:
            # It died before it could say it started: its end says when it did.
            entry.started_at = outcome.started_at
            entry.worker_ids = [*entry.worker_ids, worker_id]
        if entry.first_started_at is None:
            entry.first_started_at = entry.started_at
        entry.finished_at = outcome.finished_at
        entry.status = status
        waiters, entry.waiters = entry.waiters, None
        self._write_end(
            job.id,
            entry.token,
            status,
            entry.first_started_at,
            entry.started_at,
            outcome.finished_at,
            len(entry.worker_ids),
            entry.worker_ids,
            entry.return_value,
            [list(error) for error in entry.errors],
            entry,
        )
        return snapshot_of_entry(self.alias, entry), waiters

    def retry(
        self, job: Job, outcome: Outcome, worker_id: str | None, due: float
    ) -> tuple[TaskResult, Job | None]:
        """The attempt failed and is tried again at ``due``: the row goes back to
        READY with its run_after, unclaimed, so whichever process has room then
        runs it (this one is told when it falls due); it survives a restart."""
        entry: Entry = job.entry
        assert outcome.error_class_path is not None and outcome.traceback is not None
        if outcome.metadata is not None:
            entry.metadata = outcome.metadata
        if entry.started_at is None and worker_id is not None:
            entry.started_at = outcome.started_at
            entry.worker_ids = [*entry.worker_ids, worker_id]
        if entry.first_started_at is None:
            entry.first_started_at = entry.started_at
        entry.errors = [*entry.errors, (outcome.error_class_path, outcome.traceback)]
        entry.job = Job(
            job.id,
            with_run_after(job.task, to_datetime(due)),
            job.args,
            job.kwargs,
            job.backend,
            job.enqueued_at,
            job.attempt + 1,
            job.max_attempts,
            tuple(entry.worker_ids),
            tuple(entry.errors),
            entry.metadata,
        )
        entry.status = READY
        self._supersede(entry)
        dialect = self.dialect

        def committed(applied: bool) -> None:
            if self._local.get(job.id) is entry:
                del self._local[job.id]
            if not applied:
                logger.warning(
                    "Alias %r: the retry of task %s was not written: this process "
                    "no longer holds its claim (another process recovered it, or "
                    "its row was deleted).",
                    self.alias,
                    job.id,
                )

        params = (
            dialect.time(due),
            dialect.time(entry.first_started_at),
            dialect.time(entry.started_at),
            len(entry.worker_ids),
            dialect.json(entry.worker_ids),
            dialect.json(
                [dict(zip(_ERROR_KEYS, e, strict=True)) for e in entry.errors]
            ),
            None if entry.metadata is None else dialect.json(entry.metadata),
            job.id,
            entry.token,
        )
        self._put(job.id, dialect.retry, params, committed)
        claimer = self._claimer
        if claimer is not None:
            claimer.note_due(due)
        return snapshot_of_entry(self.alias, entry), None

    def _write_end(
        self,
        result_id: str,
        token: str,
        status: str,
        first_started_at: float | None,
        started_at: float | None,
        finished_at: float,
        attempts: int,
        worker_ids: list[str],
        return_value: Any,
        errors: list,
        entry: Entry | None = None,
    ) -> None:
        metadata = None if entry is None else entry.metadata
        dialect = self.dialect

        def committed(applied: bool) -> None:
            if entry is not None and self._local.get(result_id) is entry:
                del self._local[result_id]
            if not applied:
                logger.warning(
                    "Alias %r: the end of task %s (%s) was not written: this "
                    "process no longer holds its claim (another process recovered "
                    "it after this one was silent past LEASE, or its row was "
                    "deleted).",
                    self.alias,
                    result_id,
                    status,
                )

        params = (
            status,
            dialect.time(first_started_at),
            dialect.time(started_at),
            dialect.time(finished_at),
            attempts,
            dialect.json(worker_ids),
            dialect.json(return_value),
            dialect.json([dict(zip(_ERROR_KEYS, e, strict=True)) for e in errors]),
            None if metadata is None else dialect.json(metadata),
            result_id,
            token,
        )
        self._put(result_id, dialect.finish, params, committed)

    def _put(
        self,
        result_id: str,
        sql: str,
        params: tuple,
        committed: Callable[[bool], None],
    ) -> None:
        """A write through the writer; with no writer (the last reports of a
        pool that is gone), at once here, and a failure is logged, not raised:
        the caller still wakes its waiters."""
        writer = self._writer
        if writer is not None:
            writer.put(result_id, sql, params, committed)
            return
        try:
            with connections[self.database].cursor() as cursor:
                cursor.execute(sql, params)
            applied = cursor.rowcount > 0
        except DatabaseError:
            logger.exception(
                "Alias %r: the state of task %s could not be written.",
                self.alias,
                result_id,
            )
            self._local.pop(result_id, None)
            return
        committed(applied)

    # -- reads -------------------------------------------------------------------------

    def get(self, result_id: str) -> TaskResult:
        entry = self._local.get(result_id) if isinstance(result_id, str) else None
        if entry is not None:
            return snapshot_of_entry(self.alias, entry)
        return snapshot_of_row(self.dialect, self.alias, self._read_row(result_id))

    def _read_row(self, result_id: Any) -> ResultRow:
        if not isinstance(result_id, str):
            raise TaskResultDoesNotExist(result_id)
        with connections[self.database].cursor() as cursor:
            cursor.execute(self.dialect.select_result, (result_id, self.alias))
            row = cursor.fetchone()
        if row is None:
            raise TaskResultDoesNotExist(result_id)
        return ResultRow._make(row)

    def wait(self, result_id: str, timeout: float | None = None) -> TaskResult:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = FIRST_LOOK_SECONDS
        while True:
            entry = self._local.get(result_id) if isinstance(result_id, str) else None
            if entry is not None and not entry.superseded:
                final = self._wait_here(entry, result_id, deadline, timeout)
                if final is not None:
                    return final
                pause = FIRST_LOOK_SECONDS
                continue
            row = self._read_row(result_id)
            if row.status not in (READY, RUNNING):
                return snapshot_of_row(self.dialect, self.alias, row)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise self._timed_out(result_id, timeout)
            # Held by another process: look at the row again, a little later.
            time.sleep(pause if remaining is None else min(pause, remaining))
            pause = min(pause * 2, self.poll_interval)

    def _wait_here(
        self,
        entry: Entry,
        result_id: str,
        deadline: float | None,
        timeout: float | None,
    ) -> TaskResult | None:
        """Wait on this process's entry: its final snapshot, or None once the
        entry is superseded (a retry, or given back): then wait on the row."""
        with self._lock:
            if entry.superseded:
                return None
            event = hang_waiter(entry)
        if event is not None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if not event.wait(remaining):
                with self._lock:
                    unhang_waiter(entry, event)
                raise self._timed_out(result_id, timeout)
        if entry.superseded:
            return None
        return snapshot_of_entry(self.alias, entry)

    def _supersede(self, entry: Entry) -> None:
        """``entry`` will not reach a final state here (its task is retried, or
        given back): those waiting on it wait on the row instead."""
        with self._lock:
            entry.superseded = True
            waiters, entry.waiters = entry.waiters, None
        for waiter in waiters or ():
            waiter.set()

    def _timed_out(self, result_id: str, timeout: float | None) -> TimeoutError:
        return TimeoutError(
            f"Task result {result_id} of alias {self.alias!r} did not finish "
            f"within {timeout} seconds."
        )

    def is_running(self, result_id: str) -> bool:
        entry = self._local.get(result_id)
        return entry is not None and entry.status == RUNNING


_ERROR_KEYS = ("exception_class_path", "traceback")


def _nothing() -> None:
    """A scheduler's refill once nothing feeds it any more."""


def _ignore(snapshot: TaskResult) -> None:
    """Where recovered results are announced before the pool starts: nowhere."""
