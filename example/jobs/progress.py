"""Progress reports from a running task, kept with its own result (metadata).

A task that takes the context calls ``report(context, done, total)``; the result's
metadata then says how far it got, in every process that reads the result (the
web process that serves the status page, whichever it is: results live in the
database). Views read it back with ``read(result)``.

::

    task (worker thread or worker process)        any web process (a view)
      report(context, 3, 10) ─► the result's ─────► read(result) ─► {"done": 3, ...}
                                metadata

Nothing else to set up: the same works from a worker process, where the save
travels to the web process that runs the pool, which writes it to the table.
"""

from __future__ import annotations

from typing import Any


def report(context: Any, done: int, total: int) -> None:
    """Record (and save now) that the task has done ``done`` of ``total`` steps."""
    context.metadata["progress"] = {"done": done, "total": total}
    context.save_metadata()


def read(result: Any) -> dict[str, int] | None:
    """The last report of a result, or None if it has not reported yet."""
    return result.metadata.get("progress")
