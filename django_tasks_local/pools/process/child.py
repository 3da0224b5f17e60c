"""The worker-process side of the process pool: Django setup and the task loop.

::

    parent (supervisor)                          child (this module)
    ───────────────────                          ───────────────────
                                                 setup: Django, or discard the
                                                 parent's DB connections (fork)
                          ◄── Ready ──────────── ready
    [job, job, ...]  ─────── batch ────────────► for each job, in order:
                          ◄── Finished+Started ─ started at t (and the previous
                                                 job's end, if not yet sent)
                                                   execute(job)
                          ◄── Finished ───────── nothing left to do: flush
    STOP  ────────────────── stop ─────────────► exit 0

Every message is one pickle on the pipe (``messages.py`` names them). A job is a
pickled ``Job``, pickled on its own so that one that cannot be unpickled here
(its module fails to import) fails alone. A finished outcome rides with the next
job's start (one message per task, not two) and is flushed on its own before
the child blocks for more work, so the parent learns of a start before the
task's code runs and of an end before the child idles.

The child ignores SIGINT: Ctrl-C goes to the parent, which drains its pools and
then stops the children. It exits by itself after ``max_tasks`` tasks, when told
to, or when the parent goes away (end of file on its pipe).
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from ...execution import Outcome, close_event_loop, execute, failure
from ..child_setup import ChildSetup
from .messages import STOP, encode_metadata, encode_ready, encode_report


def child_main(conn: Connection, setup: ChildSetup, max_tasks: int | None) -> None:
    """The worker process: set Django up, then run jobs until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup.apply()
    worker_id = (
        f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"
    )
    reports = _Reports(conn)
    conn.send_bytes(encode_ready())
    executed = 0
    loads = pickle.loads
    try:
        while max_tasks is None or executed < max_tasks:
            reports.flush()
            try:
                batch = loads(conn.recv_bytes())
            except EOFError:
                return
            if batch is STOP:
                return
            for blob in batch:
                executed += 1
                try:
                    job = loads(blob)
                except BaseException as exc:  # noqa: BLE001 - fails this job alone
                    now = time.time()
                    reports.started(now)
                    reports.pending = (_unloadable(exc, now), "")
                    continue
                reports.pending = (
                    execute(job, worker_id, reports.started, reports.metadata),
                    job.task.module_path,
                )
        reports.flush()
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return  # the parent went away: nothing to report to
    finally:
        close_event_loop()


class _Reports:
    """Reports to the parent, a finished outcome riding with the next start."""

    __slots__ = ("conn", "pending")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        #: The last (outcome, task path) not yet sent, or None.
        self.pending: tuple[Outcome, str] | None = None

    def started(self, started_at: float) -> None:
        self._send(started_at)

    def flush(self) -> None:
        if self.pending is not None:
            self._send(None)

    def metadata(self, raw: dict[str, Any]) -> None:
        """The running job saved its metadata: tell the parent now (its start
        went out before the task's code ran)."""
        self.conn.send_bytes(encode_metadata(raw))

    def _send(self, started_at: float | None) -> None:
        pending, self.pending = self.pending, None
        if pending is None:
            payload = encode_report(None, "", started_at)
        else:
            payload = encode_report(pending[0], pending[1], started_at)
        self.conn.send_bytes(payload)


def _unloadable(exc: BaseException, started_at: float) -> Outcome:
    error = ImportError(
        "The worker process could not load this task (unpickling the task and "
        f"its arguments failed): {type(exc).__name__}: {exc}. The task must be "
        "importable from its module path in a fresh process."
    )
    return failure(error, started_at, time.time(), cause=exc)
