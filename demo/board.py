"""A live board of tasks in the terminal, fed by Django's task signals.

::

    worker thread / supervisor ─► task_started, task_finished ─► Feed (a queue)
                                                                   │
    main thread: Board.follow() ◄──────────────────────────────────┘
        live (a TTY):   redraw the rows in place ten times a second,
                        with progress read from its metadata
        plain (a pipe): print one line per status change, as it happens

Signals are sent in the process that enqueued the task, for thread and process
pools alike, so the board needs nothing else to see every change.
"""

from __future__ import annotations

import queue
import re
import shutil
import time
from dataclasses import dataclass
from typing import TextIO

from django.tasks.base import TaskResult
from django.tasks.signals import task_finished, task_started

from . import progress

#: Seconds between redraws of the live board.
TICK = 0.1
#: Seconds the board waits for a change before it gives up: only a bug gets there.
DEADLINE = 120

COLOURS = {
    "READY": "\x1b[2m",  # dim
    "RUNNING": "\x1b[33m",  # yellow
    "SUCCESSFUL": "\x1b[32m",  # green
    "FAILED": "\x1b[31m",  # red
}
BOLD, RESET = "\x1b[1m", "\x1b[0m"


@dataclass
class Row:
    """One task on the board: a label for people, and its result."""

    label: str
    result: TaskResult


class Feed:
    """Collects the snapshots sent with ``task_started`` and ``task_finished``."""

    def __init__(self) -> None:
        self.events: queue.Queue[TaskResult] = queue.Queue()
        task_started.connect(self._receive, weak=False)
        task_finished.connect(self._receive, weak=False)

    def _receive(self, sender, task_result: TaskResult, **kwargs) -> None:
        self.events.put(task_result)

    def close(self) -> None:
        task_started.disconnect(self._receive)
        task_finished.disconnect(self._receive)


#: A result id quoted in an error message: the board shows the task already.
QUOTED_ID = re.compile(r" ?\(id [0-9a-f-]{36}\)")


def outcome(result: TaskResult) -> str:
    """The return value, or the error as ``Class: message``."""
    if result.status == "SUCCESSFUL":
        return repr(result.return_value)
    if result.errors:
        error = result.errors[-1]
        name = error.exception_class_path.rsplit(".", 1)[-1]
        last = error.traceback.strip().splitlines()[-1]
        message = last.split(": ", 1)[1] if ": " in last else ""
        message = QUOTED_ID.sub("", message)
        return f"{name}: {message}" if message else name
    return ""


class Board:
    """Shows a set of tasks until every one of them has finished."""

    def __init__(self, out: TextIO, live: bool, feed: Feed, began: float) -> None:
        self.out = out
        self.live = live
        self.feed = feed
        self.began = began
        #: Columns to fit a line in: the terminal's, or a wide log's.
        self.width = shutil.get_terminal_size((100, 24)).columns if live else 160

    def follow(self, rows: list[Row]) -> None:
        states = {row.result.id: row.result for row in rows}
        if self.live:
            self._draw(rows, states, first=True)
        else:
            for row in rows:
                self._print_change(row, row.result)
        by_id = {row.result.id: row for row in rows}
        give_up = time.monotonic() + DEADLINE
        while not all(state.is_finished for state in states.values()):
            if time.monotonic() > give_up:
                raise TimeoutError("the demo's tasks did not finish in time")
            try:
                snapshot = self.feed.events.get(timeout=TICK if self.live else 1.0)
            except queue.Empty:
                snapshot = None
            if snapshot is not None and snapshot.id in by_id:
                states[snapshot.id] = snapshot
                if not self.live:
                    self._print_change(by_id[snapshot.id], snapshot)
            if self.live:
                self._draw(rows, states)
        for row in rows:  # the final state, refreshed in place
            row.result.refresh()

    # -- plain: one line per change ----------------------------------------------

    def _print_change(self, row: Row, result: TaskResult) -> None:
        at = time.time() - self.began
        detail = outcome(result) if result.is_finished else self._waiting(result)
        print(
            f"  [{at:5.2f}s] {row.label:<22} {result.backend:<7} "
            f"{result.status:<10} {detail}".rstrip(),
            file=self.out,
            flush=True,
        )

    # -- live: the rows redrawn in place -------------------------------------------

    def _draw(self, rows: list[Row], states: dict, first: bool = False) -> None:
        lines = [self._line(row, states[row.result.id]) for row in rows]
        if not first:
            self.out.write(f"\x1b[{len(lines)}F")  # back to the first row
        for line in lines:
            self.out.write(f"\x1b[2K{line}\n")
        self.out.flush()

    def _line(self, row: Row, result: TaskResult) -> str:
        status = result.status
        if status == "RUNNING":
            report = progress.read(result)
            if report is not None:
                detail = self._bar(report)
            else:  # no progress reported: show how long it has been running
                started = result.started_at.timestamp()
                detail = f"running for {time.time() - started:.1f}s"
        elif result.is_finished:
            detail = outcome(result)
        else:
            detail = self._waiting(result)
        head = f"  {row.label:<22} {result.backend:<7} "
        room = max(self.width - len(head) - 12, 10)
        colour = COLOURS.get(status, "")
        return f"{head}{colour}{status:<10}{RESET} {detail[:room]}"

    @staticmethod
    def _bar(report: tuple[int, int], size: int = 20) -> str:
        done, total = report
        filled = round(size * done / total)
        return f"{'█' * filled}{'░' * (size - filled)} {100 * done // total:3d}%"

    def _waiting(self, result: TaskResult) -> str:
        if result.status == "RUNNING":
            return ""
        task = result.task
        if task.run_after is not None:
            due = task.run_after.timestamp() - self.began
            return f"run_after +{due:.1f}s"
        if task.priority:
            return f"priority {task.priority:+d}"
        return ""
