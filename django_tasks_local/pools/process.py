"""Running jobs in worker processes, under one supervisor thread that knows what
each child holds, contains crashes and enforces ``TIMEOUT``.

::

    enqueue() ─► scheduler ─► waker: a byte on the wake pipe (if a child is idle)
                                   │
    supervisor thread (parent) ◄───┘  selector: wake pipe, each child's pipe,
       │                                        each child's exit sentinel
       │ take_nowait() for a child with room; pickle each job; write the batch
       ▼
    child 1..MAX_WORKERS (own duplex pipe each; see ``child.py``)
       │ "started at t" ─► reporter.started ─► RUNNING, task_started (parent)
       │ outcome        ─► reporter.finished ─► SUCCESSFUL/FAILED, task_finished
       ▼
    sentinel ready (child died) ─► its running job FAILED (WorkerDied, or
       TimeoutError if the supervisor ended it), jobs it held but had not started
       requeued at the front, a new child started

Why by hand, and not pebble or loky: pebble's ``ProcessPool`` feeds one shared
channel from its own FIFO queue (so our scheduler could not decide what runs
next), learns of crashes and timeouts by polling every 0.1 s, and gives no start
time from the child; loky's reusable executor breaks every pending future when a
worker dies (``TerminatedWorkerError``) and has no per-task time limit. Neither
batches jobs while keeping per-task start reports. Here one thread waits on file
descriptors only, so a report is handled within microseconds and nothing polls.

Decisions:

- The parent writes jobs to a chosen child, so it always knows which jobs a child
  holds, in order; the child reports in that order, so no ids cross the pipe.
  A dead child fails exactly the job it had started and gives back the rest.
- Batching: when more jobs wait than there are workers, a child is handed
  several at once (one message), up to about ``QUEUED_WORK_SECONDS`` of work
  judged from recent task durations, and at most ``MAX_BATCH``. Each job still
  reports its own start and end. Short tasks then cost one pipe message each;
  long tasks go one at a time so no child queues work another could start now.
  With ``TIMEOUT`` set a child holds one job at a time, so ending it never
  disturbs queued jobs.
- The parent's end of each pipe is non-blocking with its own framing (the same
  as ``Connection.send_bytes``, which the child uses), so the supervisor never
  blocks on a busy child and reads many reports with one system call.
- All ``MAX_WORKERS`` children start together, in the thread of the first
  enqueue, so the drain at exit finds its workers already running on every
  Python. Replacements (after a crash, a timeout or ``MAX_TASKS_PER_CHILD``)
  are started by the supervisor, and at interpreter exit that depends on the
  Python (measured in an ``atexit`` handler, from the main thread or another):
  3.12.0 to 3.12.2 refuse ``os.fork()`` there (``RuntimeError: can't fork at
  interpreter shutdown``), so ``fork`` cannot start one, while ``spawn`` and
  ``forkserver`` can (a new interpreter is started by ``fork_exec``, which is
  not refused, and a running forkserver forks in its own process); 3.12.3 and
  later (3.13 included) allow all three until the ``atexit`` handlers have run.
  The supervisor simply tries: where a start fails during the exit drain, it
  fails the same way until the process ends, so the pool stops trying (one
  warning, not one per cycle), the remaining children finish the drain, and if
  none remain, jobs that can no longer run fail with ``WorkerDied`` instead of
  hanging.
- A child that dies before starting the next job it holds (a broken settings
  module, a crash while importing the task's module) gives that job a strike;
  the job fails at the second, so such a job cannot kill children in a loop.
  After a child dies before it said it was ready, only one child at a time is
  tried, and only while work waits, until one starts.
- ``enqueue()`` writes to the wake pipe only while some child is idle: with all
  busy, the next report wakes the supervisor anyway, and the web request is
  spared a system call and a handover of the GIL.
- A process forked from the parent (gunicorn ``--preload``, or a ``fork``
  worker itself) closes its copies of the pool's pipes, so workers see end of
  file when the parent dies, and forgets the parent's forkserver, so it can
  start workers of its own (``after_fork.py``).
- An unexpected error in the supervisor itself (a bug) retires the pool: its
  workers are killed, every task it held or queued fails with ``WorkerDied``
  naming the error, and the next enqueue starts a fresh pool. No task is left
  waiting for a supervisor that is gone, and the alias keeps working.
- Under ``spawn`` and ``forkserver`` the child imports the main module again:
  scripts must guard their entry point with ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.process
import os
import pickle
import selectors
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from ..exceptions import WorkerDied
from ..execution import Outcome, failure
from ..options import PoolOptions
from ..scheduler import Scheduler
from ..store import Record
from . import Reporter, after_fork
from .child import PROTOCOL, ChildSetup, child_main
from .framing import frame, take_frames
from .worker_handle import WorkerHandle, describe_exit

logger = logging.getLogger("django_tasks_local")

#: Seconds of (estimated) work a child may hold beyond the task it runs. Small,
#: so a batch never holds back work another child could start now; large enough
#: that no-op tasks travel in batches of dozens.
QUEUED_WORK_SECONDS = 0.002
#: Most jobs in one batch: bounds how far a batch can delay a later
#: higher-priority job, and the size of one message.
MAX_BATCH = 64
#: Seconds children get to exit after being told to stop before they are killed.
STOP_GRACE_SECONDS = 10.0
#: Seconds a new worker may take to set Django up and say it is ready. Past it
#: the worker is presumed stuck (a ``fork`` child can deadlock on a lock another
#: thread held at fork time) and is killed; the job it held is retried.
STARTUP_TIMEOUT_SECONDS = 60.0
#: Times a job may be next in line in a child that dies before starting it
#: before the job is failed: loading the job may be what kills the child.
MAX_STARTUP_STRIKES = 2
#: Bytes read from a child's pipe per system call.
READ_CHUNK = 1 << 16


class ProcessPool:
    """``MAX_WORKERS`` worker processes and the thread that supervises them."""

    def __init__(
        self, name: str, options: PoolOptions, scheduler: Scheduler, reporter: Reporter
    ) -> None:
        self.name = name
        self.size = options.max_workers
        self.timeout = options.timeout
        self.max_tasks = options.max_tasks_per_child
        self.start_method = options.start_method or "spawn"
        self.scheduler = scheduler
        self.reporter = reporter
        self._children: dict[int, WorkerHandle] = {}  # by pipe fd
        self._numbers = iter(range(1, 1 << 62))
        self._startup_failures = 0
        #: Why no worker can start for the rest of this process (a start that
        #: failed during the exit drain), or None while starts may succeed.
        self._cannot_start: str | None = None
        self._strikes: dict[str, int] = {}
        #: Mean task duration (seconds, moving average) for sizing batches.
        self._mean_duration = 0.01
        self._wake_pending = False
        #: Jobs finished by the reports ``_read`` is applying, not yet counted
        #: done in the scheduler (counted once per read, not once per job).
        self._finished = 0
        #: Some child could take a job now, so enqueue() must wake the supervisor.
        #: While every child is busy it need not: the next report wakes it anyway,
        #: and a write to the wake pipe per enqueue would cost the web request a
        #: system call and a handover of the GIL.
        self._wants_work = True
        self._stop_requested = False
        #: time.monotonic() past which children told to stop are killed.
        self._grace_deadline: float | None = None
        self._thread: threading.Thread | None = None
        #: Made here, closed (never replaced) when the pool ends.
        self._selector: selectors.BaseSelector = selectors.DefaultSelector()
        self._wake_r = self._wake_w = -1
        #: The parent's end of the pipe of a child being started.
        self._spawning: Connection | None = None
        #: typeshed's ``BaseContext`` lacks ``Process``; every real context has it.
        self._context: Any = None

    # -- the Pool interface --

    def start(self) -> None:
        self._context = multiprocessing.get_context(self.start_method)
        self._setup = ChildSetup.capture(self.start_method)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        after_fork.register(self)
        try:
            for _ in range(self.size):
                self._spawn()
        except BaseException:
            self._kill_all()
            self._close_fds()
            raise
        self.scheduler.waker = self._wake_for_work
        self._thread = threading.Thread(
            target=self._supervise, name=f"{self.name}-supervisor", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop_requested = True
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- waking the supervisor -----------------------------------------------------

    def _wake_for_work(self) -> None:
        """The scheduler's waker, called after every push."""
        if self._wants_work:
            self._wake()

    def _wake(self) -> None:
        """One byte on the wake pipe per supervisor cycle, at most."""
        if not self._wake_pending:
            self._wake_pending = True
            # Full of wake-ups already, or closed at the very end: nothing to do.
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"\0")

    # -- children ------------------------------------------------------------------

    def _spawn(self) -> WorkerHandle:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=child_main,
            args=(child_end, self._setup, self.max_tasks),
            name=f"{self.name}-process-{next(self._numbers)}",
        )
        # A forked child must not keep this end open either (see forget_after_fork).
        self._spawning = parent_end
        try:
            process.start()
        except BaseException:
            parent_end.close()
            raise
        finally:
            self._spawning = None
            child_end.close()
        child = WorkerHandle(process, parent_end)
        child.deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        os.set_blocking(child.fd, False)
        self._children[child.fd] = child
        self._selector.register(child.fd, selectors.EVENT_READ, child)
        self._selector.register(process.sentinel, selectors.EVENT_READ, child.pid)
        return child

    def _serving(self) -> list[WorkerHandle]:
        return [c for c in self._children.values() if not c.replaced]

    def _replenish(self) -> None:
        """Keep ``size`` serving children, unless start-up keeps failing."""
        if self._stop_requested or self.scheduler.stopped:
            return
        serving = self._serving()
        if self._cannot_start is not None:
            if not serving:
                self._fail_waiting(self._cannot_start)
            return
        if self._startup_failures:
            # Try one child at a time, and only while work waits for it.
            if any(not c.ready for c in serving) or not self.scheduler.ready_count():
                return
            wanted = 1
        else:
            wanted = self.size - len(serving)
        for _ in range(wanted):
            try:
                self._spawn()
            except Exception as exc:  # noqa: BLE001 - e.g. fork at interpreter exit
                reason = f"no worker process could be started ({exc})"
                if not threading.main_thread().is_alive():
                    # The interpreter is exiting (its main thread has ended):
                    # a start that fails now fails at every try until the
                    # process ends (see the module's docstring), so stop trying.
                    self._cannot_start = reason
                left = len(self._serving())
                if not left:
                    self._fail_waiting(reason)
                elif self._cannot_start is not None:
                    logger.warning(
                        "Pool %s: cannot start worker processes at interpreter "
                        "exit (%s); the %d left finish the work.",
                        self.name,
                        exc,
                        left,
                    )
                else:
                    logger.warning("Could not start a worker process: %s", exc)
                return

    def _fail_waiting(self, reason: str) -> None:
        """No worker can run anything: fail the due jobs rather than hang."""
        now = time.time()
        count = 0
        while (record := self.scheduler.take_nowait()) is not None:
            error = WorkerDied(
                f"Task {record.task.module_path} (id {record.id}) cannot run: {reason}."
            )
            self._report_finished(record, failure(error, now, now), None)
            count += 1
        if count:
            logger.error("Pool %s: %s; failed %d task(s).", self.name, reason, count)

    # -- the supervisor loop -------------------------------------------------------

    def _supervise(self) -> None:
        try:
            while not self._cycle():
                pass
        finally:
            self._kill_all()  # nothing is left by then, unless it failed
            self._close_fds()

    def _cycle(self) -> bool:
        """Wait for something to happen and handle it; True when the pool is done.

        An unexpected error here is a bug. Rather than leave tasks waiting for a
        supervisor that no longer works, the pool retires (see ``_retire``).
        """
        try:
            timeout = self._next_timeout()
            for key, _ in self._selector.select(timeout):
                data = key.data
                if data is None:
                    self._drain_wake_pipe()
                elif isinstance(data, WorkerHandle):
                    if self._children.get(data.fd) is data:
                        self._read(data)
                else:
                    self._reap_by_pid(data)
            self._enforce_timeouts()
            if self._stop_requested and self.scheduler.stopped:
                return self._stop_cycle()
            self._replenish()
            self._dispatch()
            self._flush_writes()
            return False
        except Exception as exc:
            logger.exception(
                "The supervisor of %s failed; ending its workers and failing its "
                "queued tasks. The next enqueue starts a new pool.",
                self.name,
            )
            self._retire(exc)
            return True

    def _retire(self, error: Exception) -> None:
        """End this pool after a supervisor error, leaving no task behind.

        The workers are killed (the tasks they were running fail with
        ``WorkerDied``), then the scheduler is stopped and emptied in one step,
        and every job in it, due or deferred, fails with a message naming the
        error. A later enqueue finds the scheduler stopped and the runtime
        starts a fresh pool, as after ``close()``: one bug costs the tasks in
        the pool at that moment, not the alias until the process restarts.
        """
        self._kill_all()
        abandoned = self.scheduler.abandon()
        now = time.time()
        for record in abandoned:
            error_here = WorkerDied(
                f"Task {record.task.module_path} (id {record.id}) cannot run: "
                f"the pool's supervisor failed: {error!r}."
            )
            self.reporter.finished(record, failure(error_here, now, now), None)
        if abandoned:
            logger.error(
                "Pool %s: the supervisor failed (%r); failed %d queued task(s).",
                self.name,
                error,
                len(abandoned),
            )

    def _stop_cycle(self) -> bool:
        """The scheduler stopped: tell idle children to exit, kill stragglers."""
        if self._grace_deadline is None:
            self._grace_deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self._children.values():
            if not child.held and not child.stopping:
                child.stopping = True
                self._write(child, pickle.dumps(None, PROTOCOL))
        if not self._children:
            return True
        if time.monotonic() >= self._grace_deadline:
            for child in self._children.values():
                logger.warning(
                    "Pool %s: worker process %s did not exit within %g seconds of "
                    "being told to stop; killing it.",
                    self.name,
                    child.pid,
                    STOP_GRACE_SECONDS,
                )
            return True
        self._flush_writes()
        return False

    def _next_timeout(self) -> float | None:
        deadlines = [c.deadline for c in self._children.values() if c.deadline]
        if self._grace_deadline is not None:
            deadlines.append(self._grace_deadline)
        timeout = None
        if deadlines:
            timeout = max(0.0, min(deadlines) - time.monotonic())
        if any(not c.held for c in self._children.values()):
            due = self.scheduler.seconds_to_next_due()
            if due is not None:
                timeout = due if timeout is None else min(timeout, due)
        return timeout

    def _drain_wake_pipe(self) -> None:
        # Read first, then clear: a wake-up that lands in between finds the flag
        # still set and writes nothing, but what it announced is already queued,
        # and this cycle's dispatch (which follows) takes it.
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        self._wake_pending = False

    # -- dispatch ------------------------------------------------------------------

    def _dispatch(self) -> None:
        scheduler = self.scheduler
        take = scheduler.take_nowait
        candidates = [
            c
            for c in self._children.values()
            if not c.replaced
            and not c.stopping
            and (self.max_tasks is None or c.sent < self.max_tasks)
        ]
        if not candidates:
            self._wants_work = True  # e.g. none could start: hear of every push
            return
        # Idle children first, one job each: the lowest latency for a shallow queue.
        self._wants_work = False
        for child in [c for c in candidates if not c.held]:
            record = take()
            if record is None:
                # A child is idle: have enqueue() wake us, then look once more,
                # for a push that came before the flag was set woke nobody.
                self._wants_work = True
                record = take()
                if record is None:
                    return
            self._send(child, [record])
        if self.timeout is not None:
            return  # one job per child at a time, so a kill disturbs no other job
        backlog = scheduler.ready_count()
        if backlog < len(candidates):
            return
        limit = max(
            1, min(MAX_BATCH, int(QUEUED_WORK_SECONDS / max(self._mean_duration, 1e-6)))
        )
        if limit == 1:
            return
        share = -(-backlog // len(candidates))
        for child in candidates:
            if len(child.held) > limit // 2:
                continue
            room = min(limit - len(child.held), share)
            if self.max_tasks is not None:
                room = min(room, self.max_tasks - child.sent)
            batch: list[Record] = []
            while len(batch) < room and (record := take()) is not None:
                batch.append(record)
            if batch:
                self._send(child, batch)
            if len(batch) < room:
                return

    def _send(self, child: WorkerHandle, records: list[Record]) -> None:
        blobs = []
        for record in records:
            try:
                blobs.append(pickle.dumps(record, PROTOCOL))
            except Exception as exc:  # noqa: BLE001 - fails this job alone
                self._fail_unpicklable(record, exc)
                continue
            child.held.append(record)
        if not blobs:
            return
        child.sent += len(blobs)
        self._write(child, pickle.dumps(blobs, PROTOCOL))

    def _fail_unpicklable(self, record: Record, exc: Exception) -> None:
        now = time.time()
        try:
            raise pickle.PicklingError(
                f"Task {record.task.module_path} (id {record.id}) cannot be sent to "
                f"a worker process: its arguments cannot be pickled "
                f"({type(exc).__name__}: {exc}). Pass plain JSON data (str, int, "
                "float, bool, None, list, dict), not subclasses of them."
            ) from exc
        except pickle.PicklingError as error:
            self._report_finished(record, failure(error, now, now), None)

    # -- pipe I/O (parent side, non-blocking) --

    def _write(self, child: WorkerHandle, payload: bytes) -> None:
        child.outbox += frame(payload)
        self._flush(child)

    def _flush(self, child: WorkerHandle) -> None:
        outbox = child.outbox
        try:
            while outbox:
                written = os.write(child.fd, outbox)
                del outbox[:written]
        except BlockingIOError:
            pass
        except OSError:
            outbox.clear()  # the child is gone: its sentinel tells the rest
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if outbox else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(child.fd, events, child)

    def _flush_writes(self) -> None:
        for child in list(self._children.values()):
            if child.outbox:
                self._flush(child)

    def _read(self, child: WorkerHandle) -> bool:
        """Read and handle what the child sent. False at end of file."""
        inbox = child.inbox
        open_ = True
        try:
            while True:
                chunk = os.read(child.fd, READ_CHUNK)
                if not chunk:
                    open_ = False
                    break
                inbox += chunk
                if len(chunk) < READ_CHUNK:
                    break
        except BlockingIOError:
            pass
        except OSError:
            open_ = False
        if child.outbox:
            self._flush(child)
        loads = pickle.loads
        try:
            for payload in take_frames(inbox):
                self._handle(child, loads(payload))
        finally:
            # Even if a report failed to apply (see ``_cycle``): a job finished
            # and never counted done would keep join() and close() waiting.
            if self._finished:
                finished, self._finished = self._finished, 0
                self.scheduler.done(finished)
        if not open_:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(child.fd)
        return open_

    def _handle(self, child: WorkerHandle, message: tuple) -> None:
        """Apply one report; a job it finished is counted in ``_finished``."""
        outcome, started_at = message
        if outcome is not None:
            outcome = Outcome(*outcome)
            record = child.held.popleft()
            self._finished += 1  # before anything here can fail
            child.running = False
            child.deadline = None
            duration = outcome.finished_at - outcome.started_at
            self._mean_duration += (duration - self._mean_duration) * 0.2
            self.reporter.finished(record, outcome, child.worker_id)
            if (
                self.max_tasks is not None
                and child.sent >= self.max_tasks
                and not child.held
                and not child.replaced
            ):
                # Its last task is done: its successor may start now.
                child.replaced = True
        if started_at is not None:
            record = child.held[0]
            child.running = True
            if self._strikes:
                self._strikes.pop(record.id, None)
            if self.timeout is not None:
                late = max(0.0, time.time() - started_at)
                child.deadline = time.monotonic() + self.timeout - late
            self.reporter.started(record, started_at, child.worker_id)
        elif outcome is None:
            child.ready = True
            child.deadline = None
            self._startup_failures = 0

    def _report_finished(
        self, record: Record, outcome: Outcome, worker_id: str | None
    ) -> None:
        try:
            self.reporter.finished(record, outcome, worker_id)
        finally:
            self.scheduler.done()

    # -- deaths and timeouts -------------------------------------------------------

    def _enforce_timeouts(self) -> None:
        """Kill a child past its deadline: TIMEOUT, or start-up not finished."""
        now = time.monotonic()
        for child in self._children.values():
            if child.deadline is not None and now >= child.deadline:
                child.deadline = None
                if child.ready:
                    child.timed_out = True
                else:
                    logger.error(
                        "Pool %s: worker process %s was not ready within %g "
                        "seconds; killing it.",
                        self.name,
                        child.pid,
                        STARTUP_TIMEOUT_SECONDS,
                    )
                child.process.kill()

    def _reap_by_pid(self, pid: int) -> None:
        for child in self._children.values():
            if child.pid == pid:
                self._reap(child)
                return

    def _reap(self, child: WorkerHandle) -> None:
        """The child exited: account for every job it held, replace it."""
        self._read(child)  # its last reports are still in the pipe
        child.process.join(STOP_GRACE_SECONDS)
        exitcode = child.process.exitcode
        del self._children[child.fd]
        for fileobj in (child.fd, child.process.sentinel):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fileobj)
        child.conn.close()
        child.process.close()
        held = child.held
        now = time.time()
        if held and child.running:
            record = held.popleft()
            if child.timed_out:
                error: BaseException = TimeoutError(
                    f"Task {record.task.module_path} (id {record.id}) ran longer than "
                    f"TIMEOUT={self.timeout:g} seconds; its worker process "
                    f"{child.pid} was ended."
                )
            else:
                error = WorkerDied(
                    f"{describe_exit(child.pid, exitcode)} while running task "
                    f"{record.task.module_path} (id {record.id})."
                )
            started_at = record.started_at or now
            self._report_finished(
                record, failure(error, started_at, now), child.worker_id
            )
        if not child.ready:
            self._startup_failures += 1
            logger.error(
                "Pool %s: %s before it was ready (see its output above).",
                self.name,
                describe_exit(child.pid, exitcode),
            )
        elif exitcode and not (child.stopping or child.replaced):
            logger.warning(
                "Pool %s: %s.", self.name, describe_exit(child.pid, exitcode)
            )
        if held:
            # It died before starting its next job: perhaps loading that job
            # (importing its module) is what kills it. Strike it, give back the rest.
            self._strike(held.popleft(), child, exitcode)
        if held:
            logger.info(
                "Pool %s: gave back %d job(s) that worker process %s held but had "
                "not started.",
                self.name,
                len(held),
                child.pid,
            )
            for record in held:
                self.scheduler.requeue(record, record.task.priority)

    def _strike(
        self, record: Record, child: WorkerHandle, exitcode: int | None
    ) -> None:
        strikes = self._strikes.get(record.id, 0) + 1
        if strikes < MAX_STARTUP_STRIKES:
            self._strikes[record.id] = strikes
            self.scheduler.requeue(record, record.task.priority)
            return
        self._strikes.pop(record.id, None)
        now = time.time()
        error = WorkerDied(
            f"Task {record.task.module_path} (id {record.id}) could not be started: "
            f"{strikes} worker processes died before running it (the last: "
            f"{describe_exit(child.pid, exitcode)})."
        )
        self._report_finished(record, failure(error, now, now), child.worker_id)

    # -- shutting down -------------------------------------------------------------

    def _kill_all(self) -> None:
        for child in list(self._children.values()):
            if child.process.is_alive():
                child.process.kill()
        for child in list(self._children.values()):
            self._reap(child)

    def _close_fds(self) -> None:
        self.scheduler.waker = None
        after_fork.unregister(self)
        self._selector.close()  # closing twice does nothing
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def forget_after_fork(self) -> None:
        """In a forked child of the parent: drop the parent's pipes, touch nothing.

        Each worker learns that the parent is gone from end of file on its pipe,
        which only comes once every copy of the parent's end is closed.
        """
        if self._spawning is not None:
            self._spawning.close()
            self._spawning = None
        for child in self._children.values():
            child.conn.close()
            # multiprocessing would try to join it at exit: it is not ours here.
            multiprocessing.process._children.discard(child.process)  # type: ignore[attr-defined]
        self._children = {}
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
