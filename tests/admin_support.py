"""Helpers of the admin and command tests: users with some of the model's
permissions, rows as other processes leave them, and an alias on each store."""

from __future__ import annotations

import contextlib
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Permission, User
from django.tasks import task_backends
from django.test import override_settings
from django.utils import timezone

from django_tasks_local import startup
from django_tasks_local.models import TaskRecord, WorkerProcess

ADMIN = "/admin/django_tasks_local/taskrecord/"


def user(
    name: str = "operator", *permissions: str, staff: bool = True, password: str = ""
) -> User:
    """A user with the given permissions of the model (view, add, change,
    delete)."""
    made = User.objects.create_user(name, password=password or None, is_staff=staff)
    made.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="django_tasks_local",
            codename__in=[f"{p}_taskrecord" for p in permissions],
        )
    )
    return made


@contextlib.contextmanager
def in_memory(**options: Any):
    """The ``default`` alias on the memory store (thread pool, 1 worker)."""
    config = {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "QUEUES": ["default", "other"],
        "OPTIONS": {"MAX_WORKERS": 1, **options},
    }
    with override_settings(TASKS={"default": config}):
        yield task_backends["default"]


@contextlib.contextmanager
def no_pools_from_requests():
    """Requests in this process do not start database-store pools (as they do
    in a web process), so rows a test writes stay as it wrote them."""
    before = startup._started_in
    startup._started_in = os.getpid()
    try:
        yield
    finally:
        startup._started_in = before


def stored_row(
    status: str = "READY",
    *,
    alias: str = "default",
    task_path: str = "tests.tasks.add",
    args: list | None = None,
    run_after: datetime | None = None,
    enqueued: timedelta = timedelta(seconds=5),
    finished: timedelta | None = None,
    claimed_by: str | None = None,
    lease_left: timedelta | None = None,
    **fields: Any,
) -> TaskRecord:
    """A row as some process of the site left it (none of this process's)."""
    now = timezone.now()
    values: dict[str, Any] = {
        "result_id": str(uuid.uuid4()),
        "alias": alias,
        "task_path": task_path,
        "queue_name": "default",
        "args": [1, 2] if args is None else args,
        "status": status,
        "run_after": run_after,
        "enqueued_at": now - enqueued,
        "claimed_by": claimed_by,
    }
    if claimed_by is not None:
        values["claim_token"] = uuid.uuid4().hex
        values["lease_expires_at"] = now + (lease_left or timedelta(seconds=60))
    if status in ("RUNNING", "SUCCESSFUL", "FAILED"):
        values |= {
            "started_at": now - enqueued + timedelta(seconds=1),
            "last_attempted_at": now - enqueued + timedelta(seconds=1),
            "attempts": 1,
            "worker_ids": ["elsewhere:4242:tasks-default-1"],
        }
    if finished is not None:
        values["finished_at"] = now - finished
    return TaskRecord.objects.create(**(values | fields))


def process_row(
    process_id: str = "elsewhere:4242:99",
    *,
    alias: str = "default",
    silent: timedelta = timedelta(seconds=1),
    lease: float = 60.0,
) -> WorkerProcess:
    """A process's heartbeat row, its last beat ``silent`` ago."""
    now = timezone.now()
    host, pid, _ = process_id.split(":")
    return WorkerProcess.objects.create(
        process_id=process_id,
        alias=alias,
        host=host,
        pid=int(pid),
        started_at=now - timedelta(hours=1),
        heartbeat_at=now - silent,
        lease=lease,
    )
