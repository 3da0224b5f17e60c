"""The worker processes: what the supervisor knows of each, and how they start.

::

    spawn() ─► SERVING ── quota reached, nothing held ──► RETIRING (exits by itself;
       │          │                                               a successor starts)
       │          └────── pool stopping, nothing held ──► STOPPING (told to exit)
       │
       └─ ready: False until it says Ready; past its ready deadline it is killed

    any state ── exit (sentinel ready) ──► reaped by the supervisor

Being ready is a fact about the process, apart from its state: a worker may be
told to stop before it has said it is ready.

A ``WorkerHandle`` holds one child's pipe, the jobs it holds in the order it runs
them, when the first of them started, its deadlines and its buffers. Nothing here
reads a report or decides which job goes where; the supervisor thread alone
reads and writes these fields.
"""

from __future__ import annotations

import enum
import os
import signal
import socket
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from ...jobs import Job
from ..child_setup import ChildSetup
from .child import child_main


class State(enum.Enum):
    """What the supervisor wants of a worker."""

    #: Takes jobs (before it is ready too: they wait in its pipe).
    SERVING = "serving"
    #: Ran its ``MAX_TASKS_PER_CHILD`` share and holds nothing: it exits by
    #: itself, and its successor is started.
    RETIRING = "retiring"
    #: Told to exit: the pool is stopping.
    STOPPING = "stopping"


def describe_exit(pid: int, exitcode: int | None) -> str:
    """``died with signal SIGKILL (-9)`` or ``exited with code 3``, for messages."""
    if exitcode is None:
        return f"worker process {pid} died (exit status unknown)"
    if exitcode < 0:
        try:
            name = f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            name = "an unknown signal"
        return f"worker process {pid} died with {name} ({exitcode})"
    return f"worker process {pid} exited with code {exitcode}"


class WorkerHandle:
    """What the supervisor knows about one worker process."""

    __slots__ = (
        "conn",
        "end_error",
        "fd",
        "held",
        "inbox",
        "outbox",
        "pid",
        "process",
        "ready",
        "ready_deadline",
        "sent",
        "started_at",
        "state",
        "time_limit",
        "untrusted",
        "worker_id",
    )

    def __init__(
        self, process: BaseProcess, conn: Connection, ready_deadline: float
    ) -> None:
        self.process = process
        self.conn = conn
        pid = process.pid
        assert pid is not None, "a handle is made for a started process"
        self.fd: int = conn.fileno()
        self.pid: int = pid
        self.worker_id = f"{socket.gethostname()}:{pid}:MainThread"
        self.state = State.SERVING
        #: It has set Django up and said so.
        self.ready = False
        #: Jobs sent and not finished, in the order the child runs them.
        self.held: deque[Job] = deque()
        #: When the first held job started (epoch seconds), or None if it has not.
        self.started_at: float | None = None
        #: Jobs ever sent (for MAX_TASKS_PER_CHILD).
        self.sent = 0
        #: time.monotonic() by which it must say it is ready (until it is).
        self.ready_deadline: float | None = ready_deadline
        #: time.monotonic() past which its running job has overrun its time limit.
        self.time_limit: float | None = None
        #: Why the supervisor ended it, as the error its running job fails with
        #: (``TimeoutError``, an unreadable report); None if it was not ended.
        self.end_error: BaseException | None = None
        #: A report of it could not be used: nothing more it sends is read.
        self.untrusted = False
        self.inbox = bytearray()
        self.outbox = bytearray()

    @property
    def running(self) -> bool:
        """Whether the first held job has started."""
        return self.started_at is not None

    def next_deadline(self) -> float | None:
        """The earliest time.monotonic() at which the supervisor must look at it."""
        if self.ready_deadline is not None:
            return self.ready_deadline
        return self.time_limit

    def can_take(self, max_tasks: int | None) -> bool:
        """Whether it may be sent more jobs now. A worker still starting may: the
        jobs wait in its pipe, and one that dies starting strikes its first job
        (``ledger.settle``), so a job that kills workers cannot loop."""
        return self.state is State.SERVING and (
            max_tasks is None or self.sent < max_tasks
        )


def start_worker(
    context: Any,
    name: str,
    setup: ChildSetup,
    max_tasks: int | None,
    ready_deadline: float,
    on_pipe: Any,
) -> WorkerHandle:
    """Start one worker process with a duplex pipe of its own.

    ``on_pipe(conn)`` is told the parent's end before the process starts and
    ``on_pipe(None)`` after: a process forked meanwhile (another thread's fork)
    must close that end too (see ``after_fork.py``).
    """
    parent_end, child_end = context.Pipe(duplex=True)
    process = context.Process(
        target=child_main, args=(child_end, setup, max_tasks), name=name
    )
    on_pipe(parent_end)
    try:
        process.start()
    except BaseException:
        parent_end.close()
        raise
    finally:
        on_pipe(None)
        child_end.close()
    handle = WorkerHandle(process, parent_end, ready_deadline)
    os.set_blocking(handle.fd, False)
    return handle
