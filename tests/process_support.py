"""Helpers of the process-pool tests: an alias on a process pool, and checks of
what a worker process did."""

from __future__ import annotations

import contextlib
import socket

from django.tasks import TaskResultStatus, task_backends
from django.test import override_settings

START_METHODS = ["fork", "forkserver", "spawn"]
ALIAS = "cpu"


@contextlib.contextmanager
def process_pool(start_method: str = "forkserver", **options):
    """An alias that exists only through override_settings, on a process pool."""
    config = {
        "BACKEND": "django_tasks_local.ProcessPoolBackend",
        "OPTIONS": {"MAX_WORKERS": 2, "START_METHOD": start_method, **options},
    }
    with override_settings(TASKS={"default": config, ALIAS: config}):
        yield task_backends[ALIAS]


def on(backend_alias: str, task):
    return task.using(backend=backend_alias)


def worker_pid(result) -> int:
    host, pid, thread = result.worker_ids[0].split(":")
    assert host == socket.gethostname()
    assert thread == "MainThread"
    return int(pid)


def assert_failed_with(result, exception_class, *fragments):
    assert result.status == TaskResultStatus.FAILED
    [error] = result.errors
    assert error.exception_class is exception_class
    for fragment in fragments:
        assert fragment in error.traceback
