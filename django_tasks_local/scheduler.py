"""Which job runs next: a ready heap, a deferred heap and a count of jobs in flight.

::

    push(item, priority, due) ──► due in the future? ──► deferred heap (due, seq)
                                     │ no                    │ promoted when due
                                     ▼                       ▼
                               ready heap (-priority, seq) ◄─┘
                                     │
    pool worker (thread or supervisor) ── take() / take_nowait() ──► in flight
                                     │
                                done() ──► idle? wake join()

The pool pulls: a worker asks for a job only when it is free, so the heap (not a
FIFO inside the pool) decides what runs next, and ``priority`` and ``run_after``
hold exactly. Higher priority first, then enqueue order (``seq``).

Deferred jobs are promoted by whoever looks next; idle takers wait on a timer set
to the earliest ``due``, so a deferred job starts on time without polling.

The scheduler knows nothing of Django or of processes: items are opaque. The clock
is injected (wall-clock seconds, since ``run_after`` is a wall-clock datetime) so
tests can drive time.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

#: Whether the GIL serialises C calls such as ``heappop`` (see ``take``).
_GIL_ENABLED = getattr(sys, "_is_gil_enabled", lambda: True)()

#: "No job" inside the scheduler, where None could be a job.
_NONE = object()


def _nothing() -> None:
    """The default ``refill``: nothing feeds the scheduler but pushes."""


class Scheduler:
    """A thread-safe priority queue with deferral, in-flight accounting and draining."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._ready: list[tuple[int, int, Any]] = []
        self._deferred: list[tuple[float, int, int, Any]] = []
        self._seq = itertools.count()
        # Requeued jobs go before every job of their priority, oldest first.
        self._front_seq = itertools.count(-(2**62))
        self._in_flight = 0
        #: Takers blocked in ``take()``: a push with none asleep skips the
        #: condition's notify (Python code, about 1 µs), the usual case when
        #: the workers are busy.
        self._sleeping = 0
        self._draining = False
        self.stopped = False
        #: Called (outside the lock) after a push, for pools whose dispatcher does
        #: not block in ``take()`` (the process supervisor waits on pipes instead).
        self.waker: Callable[[], None] | None = None
        #: Called when a take leaves fewer than ``refill_below`` jobs ready, or
        #: jobs finish with none ready, for a store that feeds this scheduler
        #: from elsewhere (the database store claims more). It may run under the
        #: lock: it must only set a flag.
        self.refill: Callable[[], None] = _nothing
        self.refill_below = 0

    # -- producers -------------------------------------------------------------

    def push(self, item: Any, priority: int = 0, due: float | None = None) -> bool:
        """Queue ``item``. Return False if it was not queued (stopped, or a
        deferred item while draining): the caller decides what that means."""
        with self._lock:
            if self.stopped:
                return False
            seq = next(self._seq)
            if due is not None and due > self._clock():
                if self._draining:
                    return False
                entry = (due, -priority, seq, item)
                heapq.heappush(self._deferred, entry)
                if self._deferred[0] is entry:
                    # A new earliest deadline: idle takers recompute their timer.
                    self._not_empty.notify_all()
            else:
                heapq.heappush(self._ready, (-priority, seq, item))
                if self._sleeping:
                    self._not_empty.notify()
        waker = self.waker
        if waker is not None:
            waker()
        return True

    # -- consumers -------------------------------------------------------------

    def take(self, timeout: float | None = None, finished: int = 0) -> Any | None:
        """Block until a job is due and return it (now in flight), or None when the
        scheduler stops or ``timeout`` seconds pass.

        ``finished``: jobs this taker has finished since its last take, counted as
        ``done()`` would count them, under the same lock acquisition.

        The usual case of a busy pool (one job finished, more ready, none
        deferred) takes no lock at all. A worker that finishes one job and takes
        the next leaves the count in flight unchanged, and ``heappop`` is one C
        call that compares only (priority, seq) ints, so under the GIL it is
        atomic against pushes and other pops: the job popped is exactly the one
        the locked path would have taken. Nothing can be idle while this worker
        still counts one job in flight, so no waiter needs waking. A lock taken
        by every worker for every task makes the threads queue behind it: a
        waiting thread gets the lock while it has no GIL, and the two then hand
        the lock and the GIL back and forth once per task (measured: 1.6 thread
        switches per task and twice the cost per task once the queue is deep).
        """
        if (
            finished == 1
            and _GIL_ENABLED
            and self._ready
            and not self._deferred
            and not self.stopped
        ):
            try:
                item = heapq.heappop(self._ready)[2]
            except IndexError:
                pass  # another worker took the last one: take the lock
            else:
                if len(self._ready) < self.refill_below:
                    self.refill()
                return item
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if finished:
                self._finished_locked(finished)
            while True:
                if self.stopped:
                    return None
                if self._deferred:
                    self._promote()
                item = self._pop_ready_locked()
                if item is not _NONE:
                    return item
                wait = self._seconds_to_next_due()
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    wait = remaining if wait is None else min(wait, remaining)
                self._sleeping += 1
                try:
                    self._not_empty.wait(wait)
                finally:
                    self._sleeping -= 1

    def take_nowait(self) -> Any | None:
        """Return the next due job (now in flight), or None if none is due."""
        with self._lock:
            if self.stopped:
                return None
            if self._deferred:
                self._promote()
            item = self._pop_ready_locked()
            return None if item is _NONE else item

    def done(self, count: int = 1) -> None:
        """``count`` jobs handed out by ``take`` have finished."""
        with self._lock:
            self._finished_locked(count)

    def requeue(self, item: Any, priority: int = 0) -> None:
        """Put a job that was taken but never started back at the front of its
        priority (a worker went away before starting it)."""
        with self._lock:
            self._in_flight -= 1
            heapq.heappush(self._ready, (-priority, next(self._front_seq), item))
            self._not_empty.notify()
        waker = self.waker
        if waker is not None:
            waker()

    def load(self) -> int:
        """Jobs in flight, ready and deferred: a snapshot read without the lock."""
        return self._in_flight + len(self._ready) + len(self._deferred)

    def ready_count(self) -> int:
        """How many jobs may run now (deferred ones not yet due aside). A snapshot
        read without the lock, for pools that size batches by the backlog."""
        return len(self._ready)

    def seconds_to_next_due(self) -> float | None:
        """Seconds until the earliest deferred job is due (0 if one is), or None."""
        with self._lock:
            return self._seconds_to_next_due()

    # -- join, drain, stop -----------------------------------------------------

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is ready (and due) or in flight. False on timeout."""
        with self._lock:
            return self._wait_idle_locked(timeout)

    def drain(self) -> list[Any]:
        """Stop accepting deferred jobs and return those not yet due, removed.

        Jobs that are due (and new due ones) still run: ``stop_when_idle`` then
        waits for them.
        """
        with self._lock:
            self._draining = True
            if self._deferred:
                self._promote()
            dropped = [entry[3] for entry in sorted(self._deferred)]
            self._deferred.clear()
            return dropped

    def take_back(self) -> list[Any]:
        """Remove and return every job not yet taken (due ones first, in the
        order they would have run), and go on as before: for a store that must
        check them again before they may run (it pushes back those that may)."""
        with self._lock:
            jobs = [entry[2] for entry in sorted(self._ready)]
            jobs += [entry[3] for entry in sorted(self._deferred)]
            self._ready.clear()
            self._deferred.clear()
            if not self._in_flight:
                self._idle.notify_all()
            return jobs

    def withdraw(self) -> list[Any]:
        """Stop accepting deferred jobs and return every job not yet taken, due
        or not, removed (``take_back``).

        For a store that keeps its queue elsewhere (the database) and gives these
        back there; jobs in flight still finish (``stop_when_idle`` waits).
        """
        with self._lock:
            self._draining = True
        return self.take_back()

    def remove(self, match: Callable[[Any], bool]) -> Any | None:
        """Remove and return the first job not yet taken for which ``match`` is
        true (a READY task cancelled by an operator); None if no such job is
        queued here (taken already, or never here).

        Off the hot path, so a scan of both heaps under the lock. ``take``'s
        lock-free path may pop between the removal and the ``heapify`` that
        restores the heap's order: it then gets a job slightly out of order,
        never a job twice or none (each is one C call under the GIL).
        """
        heaps: tuple[list[Any], ...] = (self._ready, self._deferred)
        with self._lock:
            for heap in heaps:
                for entry in heap:
                    if match(entry[-1]):
                        heap.remove(entry)
                        heapq.heapify(heap)
                        if not self._in_flight and not self._ready:
                            self._idle.notify_all()
                        return entry[-1]
        return None

    def stop_when_idle(self, timeout: float | None = None) -> bool:
        """Wait until idle, then stop, atomically: takers get None from then on.
        False if ``timeout`` seconds passed first (nothing is stopped then)."""
        with self._lock:
            if not self._wait_idle_locked(timeout):
                return False
            self.stopped = True
            self._not_empty.notify_all()
            self._idle.notify_all()
        waker = self.waker
        if waker is not None:
            waker()
        return True

    def abandon(self) -> list[Any]:
        """Stop at once and return every job not taken, due ones first in the
        order they would have run, then deferred ones by due time.

        For a pool that can no longer run anything (its supervisor failed): no
        job can be pushed after this, so none is left behind. A later push
        returns False with ``stopped`` set, and the caller starts afresh.
        """
        with self._lock:
            self.stopped = True
            jobs = [entry[2] for entry in sorted(self._ready)]
            jobs += [entry[3] for entry in sorted(self._deferred)]
            self._ready.clear()
            self._deferred.clear()
            self._not_empty.notify_all()
            self._idle.notify_all()
        return jobs

    def wake(self) -> None:
        """Make every waiter look at the clock again (tests that drive time)."""
        with self._lock:
            self._not_empty.notify_all()
            self._idle.notify_all()

    # -- internals (lock held) -------------------------------------------------

    def _promote(self) -> None:
        now = self._clock()
        deferred, ready = self._deferred, self._ready
        promoted = 0
        while deferred and deferred[0][0] <= now:
            _, neg_priority, seq, item = heapq.heappop(deferred)
            heapq.heappush(ready, (neg_priority, seq, item))
            promoted += 1
        if promoted:
            self._not_empty.notify(promoted)

    def _pop_ready_locked(self) -> Any:
        """The next ready job, now in flight, or ``_NONE``. Pops first and counts
        after: ``take``'s lock-free path may empty the heap at any moment."""
        try:
            item = heapq.heappop(self._ready)[2]
        except IndexError:
            return _NONE
        self._in_flight += 1
        if len(self._ready) < self.refill_below:
            self.refill()
        return item

    def _finished_locked(self, count: int) -> None:
        self._in_flight -= count
        if not self._ready:
            if not self._in_flight:
                self._idle.notify_all()
            if self.refill_below:
                # A pool that takes ahead (the process pool's batches) emptied
                # the queue at its takes, when there was no room to claim: the
                # room opens as its jobs finish.
                self.refill()

    def _wait_idle_locked(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._deferred:
                self._promote()
            if not self._ready and not self._in_flight:
                return True
            wait = self._seconds_to_next_due()
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                wait = remaining if wait is None else min(wait, remaining)
            self._idle.wait(wait)

    def _seconds_to_next_due(self) -> float | None:
        if not self._deferred:
            return None
        return max(0.0, self._deferred[0][0] - self._clock())
