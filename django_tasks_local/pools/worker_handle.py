"""What the supervisor knows about each worker process, and how one ended.

The supervisor (``process.py``) keeps one ``WorkerHandle`` per child: its pipe,
the jobs it holds in the order it runs them, its deadline, its buffers. Nothing
here does I/O; the supervisor thread alone reads and writes these fields.
"""

from __future__ import annotations

import signal
import socket
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from ..store import Record


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
        "deadline",
        "fd",
        "held",
        "inbox",
        "outbox",
        "pid",
        "process",
        "ready",
        "replaced",
        "running",
        "sent",
        "stopping",
        "timed_out",
        "worker_id",
    )

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        pid = process.pid
        assert pid is not None, "a handle is made for a started process"
        self.fd: int = conn.fileno()
        self.pid: int = pid
        self.worker_id = f"{socket.gethostname()}:{pid}:MainThread"
        #: Jobs sent and not finished, in the order the child runs them.
        self.held: deque[Record] = deque()
        #: The first held job has reported its start.
        self.running = False
        #: Jobs ever sent (for MAX_TASKS_PER_CHILD).
        self.sent = 0
        self.ready = False
        #: A successor was started (quota reached and all work done).
        self.replaced = False
        self.stopping = False
        self.timed_out = False
        #: time.monotonic() past which the running job has overrun TIMEOUT, or
        #: (before the child is ready) its start-up has taken too long.
        self.deadline: float | None = None
        self.inbox = bytearray()
        self.outbox = bytearray()
