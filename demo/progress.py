"""Progress reports from running tasks, through Django's cache.

A task calls ``report(done, total)``; the id it reports under is its own
``current_result_id``. The demo's cache is a ``FileBasedCache``: tasks on the
process pool run in other processes, and only a cache outside any one process's
memory lets the terminal (in the main process) read what they wrote.
"""

from __future__ import annotations

from django.core.cache import cache

from django_tasks_local import current_result_id


def _key(result_id: str) -> str:
    return f"demo-progress:{result_id}"


def report(done: int, total: int) -> None:
    """Record that the running task has done ``done`` of ``total`` steps."""
    cache.set(_key(current_result_id.get()), (done, total), 300)


def read(result_id: str) -> tuple[int, int] | None:
    """The last report of a task, or None before its first."""
    return cache.get(_key(result_id))
