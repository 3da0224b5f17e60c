"""Running jobs in worker processes, under one supervisor thread that knows what
each child holds, contains crashes and enforces time limits.

::

    enqueue() ─► scheduler ─► waker: a byte on the wake pipe (if a child is idle)
                                   │
    supervisor thread (parent) ◄───┘  selector: wake pipe, each child's pipe,
       │                                        each child's exit sentinel
       │ ledger.assign(): jobs for children with room; pickle each; write batches
       ▼
    child 1..MAX_WORKERS (own duplex pipe each; ``child.py``)
       │ Started  ─► ledger.started  ─► reporter: RUNNING, task_started (parent)
       │ Finished ─► ledger.finished ─► reporter: SUCCESSFUL/FAILED, task_finished
       ▼
    sentinel ready (child died) ─► ledger.settle: its running job FAILED
       (WorkerDied, or the error it was ended for), the next one struck, the rest
       requeued at the front; a new child started

The package splits the work by concern: ``workers.py`` (each child's state and how
one starts), ``ledger.py`` (which job goes where, and how each ends),
``messages.py`` (what crosses the pipes), ``framing.py`` (the parent's
non-blocking framing), ``child.py`` (the child's loop). This module is the loop
that ties them: waiting, reading, writing, reaping, stopping.

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
  several at once (one message), up to about ``ledger.QUEUED_WORK_SECONDS`` of
  work judged from recent task durations, and at most ``ledger.MAX_BATCH``. Each
  job still reports its own start and end. With ``TIMEOUT`` set a child holds one
  job at a time, so ending it never disturbs queued jobs.
- The parent's end of each pipe is non-blocking with its own framing (the same
  as ``Connection.send_bytes``, which the child uses), so the supervisor never
  blocks on a busy child and reads many reports with one system call.
- One bad report fails one task at most. A return value that cannot be rebuilt
  here fails its own task (``messages.Finished.outcome``); a report that cannot
  be read at all, or that does not fit what the child holds, means the child's
  stream cannot be trusted: the child is ended, the job it was running fails
  saying so, and the jobs it held but had not started are given back.
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
  naming the error, and the next enqueue starts a fresh pool. Each job is
  reported on its own, so a second fault while retiring costs only the job it
  happened on. No task is left waiting for a supervisor that is gone.
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

from ...exceptions import WorkerDied
from ...jobs import Job
from ...options import PoolOptions
from ...scheduler import Scheduler
from .. import Reporter
from ..child_setup import ChildSetup
from . import after_fork
from .framing import frame, take_frames
from .ledger import Ledger
from .messages import (
    PROTOCOL,
    STOP,
    BadReport,
    Finished,
    Metadata,
    Ready,
    Started,
    decode,
)
from .workers import State, WorkerHandle, describe_exit, start_worker

logger = logging.getLogger("django_tasks_local")

#: Seconds children get to exit after being told to stop before they are killed.
STOP_GRACE_SECONDS = 10.0
#: Seconds a new worker may take to set Django up and say it is ready. Past it
#: the worker is presumed stuck (a ``fork`` child can deadlock on a lock another
#: thread held at fork time) and is killed; the job it held is retried.
STARTUP_TIMEOUT_SECONDS = 60.0
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
        self.ledger = Ledger(name, scheduler, reporter, self.timeout, self.max_tasks)
        self._workers: dict[int, WorkerHandle] = {}  # by pipe fd
        self._numbers = iter(range(1, 1 << 62))
        self._startup_failures = 0
        #: Why no worker can start for the rest of this process (a start that
        #: failed during the exit drain), or None while starts may succeed.
        self._cannot_start: str | None = None
        self._wake_pending = False
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
        self._setup: ChildSetup | None = None

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
        if self.ledger.wants_work:
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
        assert self._setup is not None, "start() captures the setup first"
        worker = start_worker(
            self._context,
            f"{self.name}-process-{next(self._numbers)}",
            self._setup,
            self.max_tasks,
            time.monotonic() + STARTUP_TIMEOUT_SECONDS,
            self._set_spawning,
        )
        self._workers[worker.fd] = worker
        self._selector.register(worker.fd, selectors.EVENT_READ, worker)
        self._selector.register(
            worker.process.sentinel, selectors.EVENT_READ, worker.pid
        )
        return worker

    def _set_spawning(self, conn: Connection | None) -> None:
        # A forked child must not keep this end open either (see forget_after_fork).
        self._spawning = conn

    def _serving(self) -> list[WorkerHandle]:
        """Workers that count towards ``size`` (a retiring one has a successor)."""
        return [w for w in self._workers.values() if w.state is not State.RETIRING]

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
            if any(not w.ready for w in serving) or not self.scheduler.ready_count():
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
        take = self.scheduler.take_nowait
        self.ledger.fail_all(iter(take, None), reason)

    # -- the supervisor loop -------------------------------------------------------

    def _supervise(self) -> None:
        try:
            while not self._cycle():
                pass
        finally:
            self._kill_all()  # nothing is left by then, unless it failed
            self.ledger.flush_done()
            self._close_fds()

    def _cycle(self) -> bool:
        """Wait for something to happen and handle it; True when the pool is done.

        An unexpected error here is a bug. Rather than leave tasks waiting for a
        supervisor that no longer works, the pool retires (see ``_retire``).
        """
        try:
            for key, _ in self._selector.select(self._next_timeout()):
                data = key.data
                if data is None:
                    self._drain_wake_pipe()
                elif isinstance(data, WorkerHandle):
                    if self._workers.get(data.fd) is data:
                        self._read(data)
                else:
                    self._reap_by_pid(data)
            self._enforce_deadlines()
            if self._stop_requested and self.scheduler.stopped:
                return self._stop_cycle()
            self._replenish()
            self.ledger.assign(self._workers.values(), self._send)
            self._flush_writes()
            return False
        except BaseException as exc:
            logger.exception(
                "The supervisor of %s failed; ending its workers and failing its "
                "queued tasks. The next enqueue starts a new pool.",
                self.name,
            )
            self._retire(exc)
            return True
        finally:
            self.ledger.flush_done()

    def _retire(self, error: BaseException) -> None:
        """End this pool after a supervisor error, leaving no task behind.

        The workers are killed (the tasks they were running fail with
        ``WorkerDied``, the tasks they held are given back), then the scheduler
        is stopped and emptied in one step, and every job in it, due or
        deferred, fails with a message naming the error. A later enqueue finds
        the scheduler stopped and the runtime starts a fresh pool, as after
        ``close()``: one bug costs the tasks in the pool at that moment, not the
        alias until the process restarts. A further fault here (in reaping one
        worker, or in reporting one job) is logged and costs that worker's or
        that job's report alone.
        """
        reason = f"the pool's supervisor failed: {error!r}"
        for worker in self._workers.values():
            if worker.running and worker.end_error is None:
                job = worker.held[0]
                worker.end_error = WorkerDied(
                    f"Task {job.task.module_path} (id {job.id}) was running in worker "
                    f"process {worker.pid}, which was ended because {reason}."
                )
        self._kill_all()
        self.ledger.fail_all(self.scheduler.abandon(), reason, taken=False)

    def _stop_cycle(self) -> bool:
        """The scheduler stopped: tell idle children to exit, kill stragglers."""
        if self._grace_deadline is None:
            self._grace_deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in self._workers.values():
            if not worker.held and worker.state is not State.STOPPING:
                worker.state = State.STOPPING
                self._write(worker, pickle.dumps(STOP, PROTOCOL))
        if not self._workers:
            return True
        if time.monotonic() >= self._grace_deadline:
            for worker in self._workers.values():
                logger.warning(
                    "Pool %s: worker process %s did not exit within %g seconds of "
                    "being told to stop; killing it.",
                    self.name,
                    worker.pid,
                    STOP_GRACE_SECONDS,
                )
            return True
        self._flush_writes()
        return False

    def _next_timeout(self) -> float | None:
        deadlines = [
            deadline
            for w in self._workers.values()
            if (deadline := w.next_deadline()) is not None
        ]
        if self._grace_deadline is not None:
            deadlines.append(self._grace_deadline)
        timeout = None
        if deadlines:
            timeout = max(0.0, min(deadlines) - time.monotonic())
        if any(not w.held for w in self._workers.values()):
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

    # -- sending jobs ---------------------------------------------------------------

    def _send(self, worker: WorkerHandle, jobs: list[Job]) -> None:
        blobs = []
        for job in jobs:
            try:
                blobs.append(pickle.dumps(job, PROTOCOL))
            except Exception as exc:  # noqa: BLE001 - fails this job alone
                self._fail_unpicklable(job, exc)
                continue
            worker.held.append(job)
        if not blobs:
            return
        worker.sent += len(blobs)
        self._write(worker, pickle.dumps(blobs, PROTOCOL))

    def _fail_unpicklable(self, job: Job, exc: Exception) -> None:
        error = pickle.PicklingError(
            f"Task {job.task.module_path} (id {job.id}) cannot be sent to "
            f"a worker process: its arguments cannot be pickled "
            f"({type(exc).__name__}: {exc}). Pass plain JSON data (str, int, "
            "float, bool, None, list, dict), not subclasses of them."
        )
        self.ledger.fail(job, error, cause=exc)

    # -- pipe I/O (parent side, non-blocking) --

    def _write(self, worker: WorkerHandle, payload: bytes) -> None:
        worker.outbox += frame(payload)
        self._flush(worker)

    def _flush(self, worker: WorkerHandle) -> None:
        outbox = worker.outbox
        try:
            while outbox:
                written = os.write(worker.fd, outbox)
                del outbox[:written]
        except BlockingIOError:
            pass
        except OSError:
            outbox.clear()  # the child is gone: its sentinel tells the rest
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if outbox else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(worker.fd, events, worker)

    def _flush_writes(self) -> None:
        for worker in list(self._workers.values()):
            if worker.outbox:
                self._flush(worker)

    def _read(self, worker: WorkerHandle) -> bool:
        """Read and handle what the child sent. False at end of file."""
        if worker.untrusted:  # being ended: its sentinel tells the rest
            return True
        inbox = worker.inbox
        open_ = True
        try:
            while True:
                chunk = os.read(worker.fd, READ_CHUNK)
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
        if worker.outbox:
            self._flush(worker)
        for payload in take_frames(inbox):
            try:
                for message in decode(payload):
                    self._handle(worker, message)
            except BadReport as exc:
                self._end_worker(worker, exc)
                break
        if not open_:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(worker.fd)
        return open_

    def _handle(
        self, worker: WorkerHandle, message: Ready | Started | Finished | Metadata
    ) -> None:
        """Apply one message; ``BadReport`` if it does not fit what the child holds."""
        if type(message) is Finished:
            if not worker.running:
                raise BadReport("an end was reported with no task running")
            self.ledger.finished(worker, message)
            if (
                self.max_tasks is not None
                and worker.sent >= self.max_tasks
                and not worker.held
                and worker.state is State.SERVING
            ):
                # Its last task is done: its successor may start now.
                worker.state = State.RETIRING
        elif type(message) is Metadata:
            if not worker.running:
                raise BadReport("metadata was saved with no task running")
            self.ledger.saved_metadata(worker, message.raw)
        elif type(message) is Started:
            if worker.running or not worker.held:
                raise BadReport("a start was reported with no task waiting to start")
            self.ledger.started(worker, message.started_at)
        elif not worker.ready:
            worker.ready = True
            worker.ready_deadline = None
            self._startup_failures = 0
        else:
            raise BadReport("a worker that was ready said so again")

    def _end_worker(self, worker: WorkerHandle, report_error: BadReport) -> None:
        """A report of ``worker`` could not be used: end it. Its running job fails
        saying why; the jobs it had not started are given back when it is reaped."""
        job = worker.held[0] if worker.held and worker.running else None
        about = (
            f" while running task {job.task.module_path} (id {job.id})" if job else ""
        )
        worker.end_error = WorkerDied(
            f"Worker process {worker.pid} sent a report that could not be used "
            f"({report_error}){about}; the worker was ended."
        )
        worker.end_error.__cause__ = report_error
        logger.error("Pool %s: %s", self.name, worker.end_error)
        worker.untrusted = True
        worker.inbox.clear()
        with contextlib.suppress(KeyError, ValueError):  # no more to read from it
            self._selector.unregister(worker.fd)
        with contextlib.suppress(OSError):
            worker.process.kill()

    # -- deaths and deadlines ------------------------------------------------------

    def _enforce_deadlines(self) -> None:
        """Kill a child past its deadline: its start-up, or its task's time limit."""
        now = time.monotonic()
        for worker in self._workers.values():
            if worker.ready_deadline is not None and now >= worker.ready_deadline:
                worker.ready_deadline = None
                logger.error(
                    "Pool %s: worker process %s was not ready within %g "
                    "seconds; killing it.",
                    self.name,
                    worker.pid,
                    STARTUP_TIMEOUT_SECONDS,
                )
                worker.process.kill()
            elif worker.time_limit is not None and now >= worker.time_limit:
                worker.time_limit = None
                job = worker.held[0]
                own = getattr(job.task, "timeout", None)
                limit = (
                    f"TIMEOUT={self.timeout:g}"
                    if own is None
                    else f"its timeout={own:g}"
                )
                worker.end_error = TimeoutError(
                    f"Task {job.task.module_path} (id {job.id}) ran longer than "
                    f"{limit} seconds; its worker process {worker.pid} was ended."
                )
                worker.process.kill()

    def _reap_by_pid(self, pid: int) -> None:
        for worker in self._workers.values():
            if worker.pid == pid:
                self._reap(worker)
                return

    def _reap(self, worker: WorkerHandle) -> None:
        """The child exited: account for every job it held, replace it."""
        if worker.end_error is None:
            self._read(worker)  # its last reports are still in the pipe
        worker.process.join(STOP_GRACE_SECONDS)
        exitcode = worker.process.exitcode
        del self._workers[worker.fd]
        for fileobj in (worker.fd, worker.process.sentinel):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fileobj)
        worker.conn.close()
        worker.process.close()
        if not worker.ready:
            self._startup_failures += 1
            logger.error(
                "Pool %s: %s before it was ready (see its output above).",
                self.name,
                describe_exit(worker.pid, exitcode),
            )
        elif exitcode and worker.state is State.SERVING:
            logger.warning(
                "Pool %s: %s.", self.name, describe_exit(worker.pid, exitcode)
            )
        self.ledger.settle(worker, exitcode)

    # -- shutting down -------------------------------------------------------------

    def _kill_all(self) -> None:
        """Kill and reap every child; a fault with one leaves the others reaped
        and its jobs failed."""
        for worker in list(self._workers.values()):
            if worker.process.is_alive():
                worker.process.kill()
        for worker in list(self._workers.values()):
            try:
                self._reap(worker)
            except BaseException as exc:
                logger.exception(
                    "Pool %s: reaping worker process %s failed.", self.name, worker.pid
                )
                self._workers.pop(worker.fd, None)
                with contextlib.suppress(Exception):
                    worker.process.join(STOP_GRACE_SECONDS)  # killed above: no zombie
                held, worker.held = list(worker.held), type(worker.held)()
                self.ledger.fail_all(
                    held,
                    f"its worker process {worker.pid} could not be reaped ({exc!r})",
                )

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
        for worker in self._workers.values():
            worker.conn.close()
            # multiprocessing would try to join it at exit: it is not ours here.
            multiprocessing.process._children.discard(worker.process)  # type: ignore[attr-defined]
        self._workers = {}
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
