"""When a process takes tasks from the database queue: one claimer thread per
database-store alias whose pool is started. On each look it also tends the
claims (``leases.py``: this process's heartbeat, and the recovery of the claims
of processes that died).

::

    wake-ups: the scheduler runs low (a worker took one of the last jobs queued
              here, or jobs finished with none queued; after a look that
              emptied the queue, at most every
              REFILL_PAUSE_SECONDS), a task enqueued in a transaction was
              committed, a deferred task falls due, or POLL_INTERVAL passed
        │
        ▼
    room = TARGET - (jobs running here + jobs queued here)
    room >= a batch?  ──► store.claim(room): one atomic statement, best first
        │                 ──► the jobs go to this process's scheduler
        ▼
    sleep until the next wake-up (the earliest known run_after, at most
    POLL_INTERVAL)

A process claims only what it can start soon: a few jobs queued per worker, so
work spreads over every process of the site, and a task of higher priority
enqueued later waits behind at most that many. Claiming in batches keeps the
cost of a claim (one write transaction) small per task when the queue is deep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.db import DatabaseError, connections

from ..jobs import Job
from ..scheduler import Scheduler

logger = logging.getLogger("django_tasks_local")

#: Jobs claimed ahead per worker: enough to keep the workers busy through a
#: claim's round trip, few enough that other processes get their share. That
#: round trip is long while the workers run short tasks: the claimer waits for
#: the write lock behind the writer's commit, and for the GIL after each SQLite
#: call (the workers hold it; CPython makes them hand it over every 5 ms). With
#: 2 per worker, the workers of a process running no-op tasks ran dry before
#: every claim; 4 keeps more of them busy (8 more still, at twice the jobs one
#: process holds back from the others).
QUEUED_PER_WORKER = 4
#: The smallest claim worth a write transaction while workers are busy.
MIN_BATCH = 8
#: After a look that emptied the queue, the scheduler running low wakes the
#: claimer at most this often. A site that enqueues one task at a time claims
#: each one as it is written, and each take would otherwise cost a claim that
#: finds nothing: a write transaction per task, contending with the next
#: enqueue for the write lock and the GIL (about 50 µs of its 240). A task that
#: another process left in the table waits at most this long for a busy
#: process here (an idle one looks every POLL_INTERVAL, as before).
REFILL_PAUSE_SECONDS = 0.05


class Claimer:
    """Feeds this process's scheduler from the database queue."""

    def __init__(
        self,
        name: str,
        claim: Callable[[int], tuple[list[Job], float | None]],
        push: Callable[[Job], None],
        scheduler: Scheduler,
        max_workers: int,
        poll_interval: float,
        database: str,
        tend: Callable[[], None],
        tend_interval: float,
        on_exit: Callable[[], None],
    ) -> None:
        self.name = name
        self.database = database
        #: Called on every look at the queue (heartbeat when due, recovery).
        self._tend = tend
        self._on_exit = on_exit
        self._claim = claim
        self._push = push
        #: The scheduler this claimer feeds: it claims only while that one runs.
        self._scheduler = scheduler
        #: Jobs this process holds (running and queued) when it is full.
        self.target = max_workers * (1 + QUEUED_PER_WORKER)
        #: Claim once this much room has opened. It fits in the room left while
        #: every worker is busy and nothing is queued here, or one worker would
        #: run dry until the next poll.
        self.batch = min(max_workers * QUEUED_PER_WORKER, max(MIN_BATCH, max_workers))
        #: Seconds between looks: POLL_INTERVAL, or less when the lease asks
        #: for heartbeats more often.
        self.poll_interval = min(poll_interval, tend_interval)
        self._event = threading.Event()
        self._woken = False
        self._stopping = False
        #: Cleared when the alias closes: the thread goes on tending (the
        #: heartbeat keeps the leases of the tasks still running alive) but
        #: claims nothing more. Held for a whole round of claims.
        self._claiming = True
        self._claims = threading.Lock()
        self._next_due: float | None = None
        #: When (monotonic) the last claim found fewer due tasks than it had
        #: room for; None once one filled its room.
        self._emptied_at: float | None = None
        #: A refill asked for during the pause after such a look.
        self._refill_pending = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"{self.name}-claimer", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (cheap when a wake-up is already pending)."""
        if not self._woken:
            self._woken = True
            self._event.set()

    def refill(self) -> None:
        """The scheduler runs low: look at the queue now, or, within
        ``REFILL_PAUSE_SECONDS`` of a look that emptied it, once that pause is
        over. Called under the scheduler's lock: it only sets flags."""
        emptied_at = self._emptied_at
        if emptied_at is None or time.monotonic() - emptied_at >= REFILL_PAUSE_SECONDS:
            self.wake()
        elif not self._refill_pending:
            self._refill_pending = True
            self._event.set()  # the loop sleeps to the end of the pause instead

    def note_due(self, due: float) -> None:
        """A task that may run here falls due at ``due`` (epoch seconds)."""
        if self._next_due is None or due < self._next_due:
            self._next_due = due
            self.wake()

    def stop_claiming(self) -> None:
        """Claim nothing more (the alias is closing); return once a round of
        claims under way has ended, so every job it claimed has been pushed."""
        with self._claims:
            self._claiming = False

    def stop(self) -> None:
        """End the thread (the pool has stopped: no task of it runs any more)."""
        self._stopping = True
        self._event.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            try:
                self._on_exit()
            except Exception:
                logger.exception("%s: leaving the queue failed", self.name)
            connections[self.database].close()

    def _loop(self) -> None:
        failures = 0
        while not self._stopping:
            # Clear, then reset the flags: a wake() in between sets both again.
            self._event.clear()
            self._woken = False
            self._refill_pending = False  # this look is the refill asked for
            try:
                self._tend()
                next_due = self._claim_while_room()
                failures = 0
            except Exception as error:  # the thread must go on: logged below
                failures += 1
                if isinstance(error, DatabaseError):
                    # The connection may be gone (a server restart): the next
                    # round opens a new one.
                    connections[self.database].close_if_unusable_or_obsolete()
                if failures == 1 or failures % 20 == 0:
                    logger.warning(
                        "%s: claiming tasks or renewing leases failed (%s: %s); "
                        "retrying.",
                        self.name,
                        type(error).__name__,
                        error,
                        exc_info=not isinstance(error, DatabaseError),
                    )
                next_due = None
            self._event.wait(self._timeout(next_due))
            self._sleep_out_refill_pause()

    def _sleep_out_refill_pause(self) -> None:
        """Woken only by a refill asked for during the pause after a look that
        emptied the queue: wait for the pause to end (or a wake-up) first."""
        while self._refill_pending and not self._woken and not self._stopping:
            emptied_at = self._emptied_at
            if emptied_at is None:
                return
            left = emptied_at + REFILL_PAUSE_SECONDS - time.monotonic()
            if left <= 0:
                return
            self._event.clear()
            if self._woken or self._stopping:  # set before the clear: not lost
                return
            self._event.wait(left)

    def _claim_while_room(self) -> float | None:
        """Claim while there is room for a batch; return when the next deferred
        task in the database falls due (None if none is known)."""
        next_due = None
        with self._claims:
            while self._claiming and not self._stopping:
                if self._scheduler.stopped:  # retired: nothing to feed
                    break
                room = self.target - self._scheduler.load()
                if room < self.batch:
                    break
                jobs, next_due = self._claim(room)
                emptied = len(jobs) < room  # nothing more is due
                self._emptied_at = time.monotonic() if emptied else None
                for job in jobs:
                    self._push(job)
                if emptied:
                    break
        return next_due

    def _timeout(self, next_due_in_database: float | None) -> float:
        """Seconds until the next look: the earliest known run_after, at most
        POLL_INTERVAL."""
        now = time.time()
        if self._next_due is not None and self._next_due <= now:
            self._next_due = None  # fell due: this round claimed it, if there was room
        dues = [d for d in (next_due_in_database, self._next_due) if d is not None]
        if not dues:
            return self.poll_interval
        return min(self.poll_interval, max(0.0, min(dues) - now))
