"""Progress reports from running tasks, as their results' metadata.

A task that takes the context calls ``report(context, done, total)``; the board
reads it back from the result it shows (``read(result)``). A task on the process
pool saves from its worker process, and the save reaches this process, which
holds the result: no cache or file to share.
"""

from __future__ import annotations

from typing import Any


def report(context: Any, done: int, total: int) -> None:
    """Record (and save now) that the running task has done ``done`` of ``total``
    steps."""
    context.metadata["progress"] = [done, total]
    context.save_metadata()


def read(result: Any) -> tuple[int, int] | None:
    """The last report of a task, or None before its first."""
    reported = result.metadata.get("progress")
    return None if reported is None else (reported[0], reported[1])
