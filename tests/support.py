"""Helpers the tests share: recording task signals, and gates that hold tasks.

A test that needs a task to stay RUNNING enqueues a task that blocks on a gate,
waits for that task's ``task_started`` through a ``SignalRecorder`` (sent in the
enqueuing process by both backends), checks what it wants, then opens the gate.
Nothing here sleeps: waiting is on conditions with deadlines.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.tasks.base import TaskResult
from django.tasks.signals import task_enqueued, task_finished, task_started

from tests import tasks

#: Seconds a test waits for something that should happen at once; only a
#: deadlock ever reaches it, on however loaded a machine.
DEADLINE = 30

#: Whether a thread can start, and the process fork, once the main thread has
#: ended: during the drain at interpreter exit. Python 3.12.0 to 3.12.2 refuse
#: both (``RuntimeError: can't create new thread at interpreter shutdown``,
#: ``can't fork at interpreter shutdown``) from then until the process ends;
#: 3.12.3 and later allow both until the ``atexit`` handlers have run. Starting
#: a new interpreter (``spawn``, and a ``forkserver`` that starts or forks in
#: its own process) works on every version.
STARTS_AT_EXIT = sys.version_info >= (3, 12, 3)

_SIGNAL_NAMES = {
    task_enqueued: "enqueued",
    task_started: "started",
    task_finished: "finished",
}


@dataclass(frozen=True)
class Sent:
    """One signal as a receiver saw it."""

    name: str
    sender: Any
    result: TaskResult
    thread: str

    @property
    def result_id(self) -> str:
        return self.result.id


class SignalRecorder:
    """Records every task signal, in the order received; tests wait on it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.sent: list[Sent] = []

    def connect(self) -> SignalRecorder:
        for signal in _SIGNAL_NAMES:
            signal.connect(self._receive, weak=False)
        return self

    def disconnect(self) -> None:
        for signal in _SIGNAL_NAMES:
            signal.disconnect(self._receive)

    def _receive(self, signal, sender, task_result, **kwargs) -> None:
        sent = Sent(
            _SIGNAL_NAMES[signal], sender, task_result, threading.current_thread().name
        )
        with self._changed:
            self.sent.append(sent)
            self._changed.notify_all()

    def of(self, result_id: str, name: str | None = None) -> list[Sent]:
        """The signals sent for one result (of one kind, if ``name`` is given)."""
        with self._changed:
            return [
                s
                for s in self.sent
                if s.result_id == result_id and (name is None or s.name == name)
            ]

    def names(self, name: str) -> list[str]:
        """Result ids of every signal of one kind, in the order they were sent."""
        with self._changed:
            return [s.result_id for s in self.sent if s.name == name]

    def wait_for(self, name: str, result_id: str, timeout: float = DEADLINE) -> Sent:
        """Block until ``name`` was sent for ``result_id``; return it."""

        def found() -> Sent | None:
            for sent in self.sent:
                if sent.name == name and sent.result_id == result_id:
                    return sent
            return None

        with self._changed:
            sent = self._changed.wait_for(found, timeout)
        assert sent is not None, f"no {name} signal for {result_id} in {timeout}s"
        return sent

    def wait_for_many(
        self, name: str, result_ids: list[str], count: int, timeout: float = DEADLINE
    ) -> list[str]:
        """Block until ``name`` was sent for ``count`` of ``result_ids`` (whichever
        they are); return those ids in the order the signals were received."""

        def sent_for() -> list[str]:
            return [
                s.result_id
                for s in self.sent
                if s.name == name and s.result_id in result_ids
            ]

        with self._changed:
            self._changed.wait_for(lambda: len(sent_for()) >= count, timeout)
            ids = sent_for()
        assert len(ids) >= count, f"{name} sent for {ids} only, in {timeout}s"
        return ids


class PipeGate:
    """A gate a task waits on (``tasks.wait_for_gate``), in any process.

    A named pipe that this side holds open for reading and writing (so a task
    can open it at any time without blocking): ``open()`` writes one byte, which
    wakes every task selecting on it, and first leaves a file saying the gate is
    open, for tasks that start waiting after ``close()``, when the pipe has no
    writer and keeps no byte.
    """

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        os.mkfifo(self.path)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        self._opened = False

    def open(self) -> None:
        if self._opened:
            return
        self._opened = True
        Path(self.path + tasks.OPENED_SUFFIX).touch()
        if self._fd is not None:
            os.write(self._fd, b"\0")

    def close(self) -> None:
        """Open the gate, and let go of the pipe."""
        self.open()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class EventGate:
    """A ``threading.Event`` a task waits on by name (``tasks.wait_for_event``);
    thread pools only, but nothing polls."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.event = tasks.EVENTS.setdefault(name, threading.Event())

    def open(self) -> None:
        self.event.set()

    def close(self) -> None:
        self.event.set()
        tasks.EVENTS.pop(self.name, None)


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Block until a process that is not our child exits (Linux pidfd)."""
    import select

    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(pidfd)


class Announcements:
    """A named pipe that tasks in any process write their result id to as they
    start (``tasks.announce_then_wait``); the test reads them as they come.

    This side holds the pipe open for reading and writing, so a task can open it
    at any time without blocking and the test never sees end of file.
    """

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        os.mkfifo(self.path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        self._buffer = b""

    def expect(self, count: int, timeout: float = DEADLINE) -> list[str]:
        """Block until ``count`` more ids were announced; return them."""
        import select
        import time

        deadline = time.monotonic() + timeout
        while self._buffer.count(b"\n") < count:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._fd], [], [], max(0.0, remaining))
            assert ready, f"fewer than {count} announcements in {timeout}s"
            self._buffer += os.read(self._fd, 4096)
        lines = self._buffer.split(b"\n")
        taken, rest = lines[:count], lines[count:]
        self._buffer = b"\n".join(rest)
        return [line.decode() for line in taken]

    def close(self) -> None:
        os.close(self._fd)
