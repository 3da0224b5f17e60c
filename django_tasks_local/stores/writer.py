"""One writer thread per database-store alias: the status changes of this
process's tasks, committed in batches.

::

    worker thread / process-pool supervisor ── put(result_id, statement, params)
        (returns at once: no worker ever waits for the database)
                                   │
                                   ▼
    writer thread: take every pending write ─► BEGIN (IMMEDIATE on SQLite)
                   one executemany per statement, in order
                   retention: delete the least recently finished past MAX_RESULTS
                   COMMIT ─► callbacks (the store forgets what is now in the row)

Group commit: while one batch commits, the next accumulates, so a busy second
costs a few transactions, not two per task. Writes are coalesced per result: a
task that started and finished between two commits costs one ``UPDATE`` (the
end's, which sets the start's columns too). Every write names the claim token
of its attempt; a write that matches no row means the process lost its claim
(another process recovered the task), and is reported in the log, not applied.

A batch that fails (the database is locked past its busy timeout, or away for a
moment: the connection is then opened again) is retried with growing pauses;
nothing put is dropped while the writer runs, unless the batch fails for
another reason than the database, five times (a bug: logged, with each result
left as its row says). ``flush()`` waits until everything put before it is
committed: ``close()`` and interpreter exit use it, so no status change is lost
on a clean stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connections

from .sql import Dialect, thread_connection, writing

logger = logging.getLogger("django_tasks_local")

#: Seconds between retries of a batch that failed, growing to the maximum.
RETRY_FIRST_SECONDS = 0.05
RETRY_MAX_SECONDS = 2.0


class Write:
    """One pending write: a statement, its parameters, and what to do once it is
    committed (or found stale)."""

    __slots__ = ("done", "params", "sql")

    def __init__(
        self, sql: str, params: tuple, done: Callable[[bool], None] | None
    ) -> None:
        self.sql = sql
        self.params = params
        #: Called after the commit with True (applied) or False (the claim was
        #: lost: the row was not changed).
        self.done = done


class Writer:
    """Commits the writes ``put`` from any thread, in batches, on its own thread."""

    def __init__(
        self,
        name: str,
        database: str,
        dialect: Dialect,
        alias: str,
        max_results: int | None,
    ) -> None:
        self.name = name
        self.database = database
        self.dialect = dialect
        self.alias = alias
        self.max_results = max_results
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        #: Pending writes by result id, in the order first put.
        self._pending: dict[str, Write] = {}
        self._put = 0
        self._committed = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- any thread --------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"{self.name}-writer", daemon=True
        )
        self._thread.start()

    def put(
        self,
        result_id: str,
        sql: str,
        params: tuple,
        done: Callable[[bool], None] | None = None,
    ) -> None:
        """Queue a write of ``result_id``'s row; it replaces a pending one of the
        same row (each write sets every column the one before it set)."""
        write = Write(sql, params, done)
        with self._lock:
            replaced = self._pending.pop(result_id, None)
            if replaced is not None and replaced.done is not None:
                # Superseded: what it would have written is in the newer write.
                write.done = _both(replaced.done, done)
            self._pending[result_id] = write
            self._put += 1
            if len(self._pending) == 1:
                self._changed.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every write put so far is committed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._put
            while self._committed < target:
                if self._thread is None or not self._thread.is_alive():
                    return not self._pending
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def stop(self, timeout: float | None = None) -> None:
        """Commit what is pending, then end the thread."""
        with self._lock:
            self._stopping = True
            self._changed.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.error(
                    "%s: %d status change(s) of alias %r were not written to the "
                    "database within %s seconds.",
                    self.name,
                    len(self._pending),
                    self.alias,
                    timeout,
                )

    # -- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    while not self._pending and not self._stopping:
                        self._changed.wait()
                    if not self._pending:
                        return
                    batch, self._pending = self._pending, {}
                    count = self._put
                applied = self._commit_until_done(batch)
                with self._lock:
                    self._committed = count
                    self._changed.notify_all()
                for write, ok in zip(batch.values(), applied, strict=True):
                    if write.done is not None:
                        try:
                            write.done(ok)
                        except Exception:
                            logger.exception("%s: a write callback failed", self.name)
        finally:
            connections[self.database].close()

    def _commit_until_done(self, batch: dict[str, Write]) -> list[bool]:
        pause = RETRY_FIRST_SECONDS
        failures = 0
        while True:
            try:
                return self._commit(batch)
            except Exception as error:  # the thread must go on: logged below
                failures += 1
                database_error = isinstance(error, DatabaseError)
                if database_error:
                    # The connection may be gone (a server restart): the next
                    # try opens a new one.
                    connections[self.database].close_if_unusable_or_obsolete()
                if failures == 1 or failures % 20 == 0:
                    logger.warning(
                        "%s: writing %d status change(s) of alias %r failed "
                        "(%s: %s); retrying.",
                        self.name,
                        len(batch),
                        self.alias,
                        type(error).__name__,
                        error,
                        exc_info=not database_error,
                    )
                with self._lock:
                    stopping = self._stopping
                # Not a database error: a bug, which a retry will meet again.
                if (stopping or not database_error) and failures >= 5:
                    logger.error(
                        "%s: giving up on %d status change(s) of alias %r.",
                        self.name,
                        len(batch),
                        self.alias,
                    )
                    return [False] * len(batch)
                time.sleep(pause)  # the database is busy or away: wait, then retry
                pause = min(pause * 2, RETRY_MAX_SECONDS)

    def _commit(self, batch: dict[str, Write]) -> list[bool]:
        """Write ``batch`` in one transaction; which writes changed their row."""
        connection = thread_connection(self.database)
        dialect = self.dialect
        writes = list(batch.values())
        applied = [True] * len(writes)
        finished_any = False
        with writing(self.database, dialect.vendor), connection.cursor() as cursor:
            cursor.execute(dialect.begin)
            try:
                start = 0
                while start < len(writes):
                    sql = writes[start].sql
                    end = start + 1
                    while end < len(writes) and writes[end].sql is sql:
                        end += 1
                    group = writes[start:end]
                    cursor.execute("SAVEPOINT tasks_local_group")
                    cursor.executemany(sql, [w.params for w in group])
                    if cursor.rowcount != len(group):
                        cursor.execute("ROLLBACK TO SAVEPOINT tasks_local_group")
                        self._find_stale(cursor, group, applied, start)
                    cursor.execute("RELEASE SAVEPOINT tasks_local_group")
                    finished_any = finished_any or sql is dialect.finish
                    start = end
                if finished_any and self.max_results is not None:
                    self._apply_retention(cursor, dialect)
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        return applied

    @staticmethod
    def _find_stale(
        cursor: Any, group: list[Write], applied: list[bool], at: int
    ) -> None:
        """Some writes of ``group`` matched no row (a rare path: a claim was
        lost). The group was rolled back; run it again one write at a time, to
        learn which."""
        for offset, write in enumerate(group):
            cursor.execute(write.sql, write.params)
            applied[at + offset] = cursor.rowcount > 0

    def _apply_retention(self, cursor: Any, dialect: Dialect) -> None:
        """Delete the least recently finished rows of the alias past MAX_RESULTS."""
        cursor.execute(dialect.retention_cutoff, (self.alias, self.max_results))
        row = cursor.fetchone()
        if row is not None:
            finished_at, seq = row
            cursor.execute(
                dialect.delete_finished_before,
                (self.alias, finished_at, finished_at, seq),
            )


def _both(
    first: Callable[[bool], None], second: Callable[[bool], None] | None
) -> Callable[[bool], None]:
    def done(ok: bool) -> None:
        first(ok)
        if second is not None:
            second(ok)

    return done
