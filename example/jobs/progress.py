"""Progress reports from a running task, keyed by its own result id.

A task calls ``report(done, total)``; it finds out which result it is running as
from ``django_tasks_local.current_result_id``, so callers never pass the id in.
Views read the report back with ``read(result_id)``.

::

    task (worker thread or worker process)          web process (a view)
      report(3, 10) ─► cache["progress:<id>"] ─────► read(<id>) ─► {"done": 3, ...}

The cache must be one both sides reach: this project uses a file cache, because
``cpu`` tasks run in other processes.
"""

from __future__ import annotations

from django.core.cache import cache

from django_tasks_local import current_result_id

#: Seconds a report is kept: long enough for a user to come back to the page.
REPORT_TTL = 60 * 60


def _key(result_id: str) -> str:
    return f"progress:{result_id}"


def report(done: int, total: int) -> None:
    """Record that the current task has done ``done`` of ``total`` steps.

    Raises ``LookupError`` when called outside a task (no current result id).
    """
    cache.set(_key(current_result_id.get()), {"done": done, "total": total}, REPORT_TTL)


def read(result_id: str) -> dict[str, int] | None:
    """The last report of a result, or None if it has not reported yet."""
    return cache.get(_key(result_id))
