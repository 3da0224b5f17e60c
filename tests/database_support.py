"""Helpers of the database-store tests: an alias on the database store, what its
table holds, and the executions tasks recorded."""

from __future__ import annotations

import contextlib
from pathlib import Path

from django.tasks import task_backends
from django.test import override_settings

from django_tasks_local import runtime
from django_tasks_local.models import TaskRecord

BACKENDS = {
    "thread": {"BACKEND": "django_tasks_local.ThreadPoolBackend"},
    "process": {
        "BACKEND": "django_tasks_local.ProcessPoolBackend",
        "OPTIONS": {"START_METHOD": "forkserver"},
    },
}


def durable_config(kind: str = "thread", **options) -> dict:
    """A ``TASKS`` entry on the database store (2 workers unless told)."""
    base = BACKENDS[kind]
    return {
        **base,
        "QUEUES": ["default", "other"],
        "OPTIONS": {
            **base.get("OPTIONS", {}),
            "STORE": "database",
            "MAX_WORKERS": 2,
            **options,
        },
    }


@contextlib.contextmanager
def durable(kind: str = "thread", **options):
    """The ``default`` alias on the database store; closed at the end, before the
    test's database is emptied."""
    with override_settings(TASKS={"default": durable_config(kind, **options)}):
        try:
            yield task_backends["default"]
        finally:
            runtime.reset()


def row(result_id: str) -> TaskRecord:
    return TaskRecord.objects.get(result_id=result_id)


def executions(path: Path) -> list[str]:
    """The labels recorded by ``tasks.record`` at ``path``, in order."""
    if not path.exists():
        return []
    return [line.split()[0] for line in path.read_text().splitlines()]
