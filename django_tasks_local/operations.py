"""What the ``tasks_local`` command (and the admin) do to stored results, through
the model: nothing here is on the path of a task."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import task_backends
from django.utils import timezone

from .backends import LocalBackend


def prune(days: float, aliases: list[str] | None = None) -> dict[str, int]:
    """Delete the finished results of database-store aliases that finished more
    than ``days`` days ago; how many per alias. Memory-store results age out by
    ``MAX_RESULTS`` and the process's life."""
    from .models import TaskRecord

    cutoff = timezone.now() - timedelta(days=days)
    deleted = {}
    for alias in aliases or list(task_backends.settings):
        backend = task_backends[alias]
        if not isinstance(backend, LocalBackend):
            continue
        if backend.pool_options.store != "database":
            continue
        rows = TaskRecord.objects.using(backend.pool_options.database).filter(
            alias=alias, finished_at__lt=cutoff
        )
        deleted[alias] = rows.delete()[0]
    return deleted
