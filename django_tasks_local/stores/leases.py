"""Leases on claims: this process's heartbeat, and the recovery of the claims of
processes that died.

::

    every LEASE / 4 (on the claimer's thread):
        heartbeat: UPDATE rows SET lease_expires_at = now + LEASE
                   WHERE claimed_by = this process AND alias = A   (one statement)
                   and this process's row in the process table says it is alive
    every look at the queue (POLL_INTERVAL, at most LEASE / 4):
        recover:   for each other process holding claims on alias A
                     on this host, its pid gone (or taken by a later process)
                     anywhere, its leases expired (silent past LEASE)
                   ─► its RUNNING rows: the attempt fails with WorkerDied,
                      naming the lost process; its claimed, unstarted rows go
                      back to READY (no attempt counted)

Every recovery writes with the claim token it read (``WHERE claim_token = %s``),
so two processes that recover the same row at once cannot both apply, and the
lost process, should it wake up (a ``SIGSTOP``, a frozen VM), finds its token
stale: its own writes match no row (the writer logs that it lost its claim).
A process on the same host is known dead at once, from its pid and start time
(``identity.is_alive``), without waiting for its lease.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from ..exceptions import WorkerDied
from ..execution import failure
from ..identity import HOST, is_alive, process_id
from .sql import Dialect, HeldRow, thread_connection, writing

logger = logging.getLogger("django_tasks_local")

#: Heartbeats per lease: a process must miss this many in a row to lose its
#: claims, so a busy moment (a long GC pause, a slow disk) costs nothing.
BEATS_PER_LEASE = 4


class Leases:
    """Renews this process's claims on one alias and recovers other processes'."""

    def __init__(
        self,
        database: str,
        alias: str,
        dialect: Dialect,
        lease: float,
        on_failed: Callable[[list[str]], None],
        on_lapse: Callable[[float], None],
        retry_in: Callable[[HeldRow, BaseException], float | None],
    ) -> None:
        self.database = database
        self.alias = alias
        self.dialect = dialect
        self.lease = lease
        #: Told the result ids whose attempt recovery failed (to announce them).
        self.on_failed = on_failed
        #: Seconds until a lost attempt's task is tried again, or None.
        self.retry_in = retry_in
        #: Told, with how long it was silent, that this process missed its
        #: heartbeats for a whole lease (frozen, or starved): other processes
        #: may have recovered its claims meanwhile.
        self.on_lapse = on_lapse
        self.interval = lease / BEATS_PER_LEASE
        self._last_beat = float("-inf")
        self._registered = False

    # -- this process ------------------------------------------------------------------

    def beat_if_due(self) -> None:
        """Renew every claim of this process on the alias, and its process row,
        when a heartbeat is due."""
        now = time.time()
        silent = now - self._last_beat
        if silent < self.interval:
            return
        if self._registered and silent > self.lease:
            self.on_lapse(silent)
        dialect = self.dialect
        me = process_id()
        connection = thread_connection(self.database)
        with writing(self.database, dialect.vendor), connection.cursor() as cursor:
            cursor.execute(dialect.begin)
            try:
                cursor.execute(
                    dialect.renew_leases,
                    (dialect.time(now + self.lease), me, self.alias),
                )
                cursor.execute(
                    dialect.beat, (dialect.time(now), self.lease, me, self.alias)
                )
                if cursor.rowcount == 0:
                    cursor.execute(
                        dialect.register_process,
                        (
                            me,
                            self.alias,
                            HOST,
                            os.getpid(),
                            dialect.time(now),
                            dialect.time(now),
                            self.lease,
                        ),
                    )
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        self._last_beat = now
        self._registered = True

    def unregister(self) -> None:
        """This process stops running the alias: its process row goes."""
        if not self._registered:
            return
        dialect = self.dialect
        connection = thread_connection(self.database)
        with writing(self.database, dialect.vendor), connection.cursor() as cursor:
            cursor.execute(dialect.unregister_process, (process_id(), self.alias))
        self._registered = False

    # -- other processes ---------------------------------------------------------------

    def recover(self) -> int:
        """Recover the claims of every process on the alias that is gone; return
        how many rows were recovered."""
        dialect = self.dialect
        now = time.time()
        connection = thread_connection(self.database)
        with connection.cursor() as cursor:
            cursor.execute(dialect.claimers, (self.alias, process_id()))
            claimers = cursor.fetchall()
        recovered = 0
        for claimer, oldest_lease in claimers:
            alive = is_alive(claimer)
            expires = dialect.timestamp(oldest_lease)
            if alive is False:
                why = f"its process (pid {claimer.split(':')[-2]}) is gone"
            elif expires is not None and expires < now:
                why = (
                    f"it renewed no lease for {self.lease:g} seconds (LEASE) and "
                    f"is presumed dead"
                )
            else:
                continue
            recovered += self._recover_claimer(connection, claimer, why, now)
        if recovered:
            with connection.cursor() as cursor:
                cursor.execute(
                    dialect.forget_stale_processes,
                    (self.alias, dialect.time(now - 2 * self.lease)),
                )
        return recovered

    def _recover_claimer(
        self, connection: Any, claimer: str, why: str, now: float
    ) -> int:
        dialect = self.dialect
        with connection.cursor() as cursor:
            cursor.execute(dialect.claimed_rows, (self.alias, claimer))
            rows = [HeldRow._make(row) for row in cursor.fetchall()]
        failed: list[str] = []
        released = retried = 0
        with writing(self.database, dialect.vendor), connection.cursor() as cursor:
            cursor.execute(dialect.begin)
            try:
                for row in rows:
                    result_id, token = row.result_id, row.claim_token
                    if row.status == "READY":
                        cursor.execute(dialect.release, (result_id, token))
                        released += cursor.rowcount
                        continue
                    error = WorkerDied(
                        f"Task {row.task_path} (id {result_id}) was running in "
                        f"process {claimer}, which was lost: {why}."
                    )
                    outcome = failure(error, now, now)
                    history = dialect.from_json(row.errors) or []
                    history.append(
                        {
                            "exception_class_path": outcome.error_class_path,
                            "traceback": outcome.traceback,
                        }
                    )
                    delay = self.retry_in(row, error)
                    if delay is not None:
                        cursor.execute(
                            dialect.retry_lost,
                            (
                                dialect.time(now + delay),
                                dialect.json(history),
                                result_id,
                                token,
                            ),
                        )
                        retried += cursor.rowcount
                        continue
                    cursor.execute(
                        dialect.fail_lost,
                        (dialect.time(now), dialect.json(history), result_id, token),
                    )
                    if cursor.rowcount:
                        failed.append(result_id)
                cursor.execute(dialect.unregister_process, (claimer, self.alias))
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        if failed or released or retried:
            logger.warning(
                "Alias %r: recovered the tasks of process %s (%s): %d running "
                "task(s) failed with WorkerDied, %d to be retried, %d queued "
                "task(s) given back.",
                self.alias,
                claimer,
                why,
                len(failed),
                retried,
                released,
            )
        if failed:
            self.on_failed(failed)
        return len(failed) + released + retried

    def still_held(self, claims: list[tuple[str, str]]) -> set[str]:
        """Which of ``claims`` (result id, token) this process still holds."""
        dialect = self.dialect
        held = set()
        connection = thread_connection(self.database)
        with connection.cursor() as cursor:
            for result_id, token in claims:
                cursor.execute(dialect.claim_token_of, (result_id,))
                found = cursor.fetchone()
                if found is not None and found[0] == token:
                    held.add(result_id)
        return held
