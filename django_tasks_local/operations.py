"""What operators do to stored results: the ``tasks_local`` command and the
admin call these, through the model and the stores; nothing here is on the path
of a task.

- ``retry``: a FAILED result's task enqueued again as a new task, with Django's
  ``enqueue()`` (so validation and ``task_enqueued`` happen as for any enqueue).
- ``cancel``: a READY result that no process has taken yet ends FAILED with
  ``TaskCancelled``; one that a process took (claimed, or handed to a worker)
  is refused, since only that process could stop it safely.
- ``delete``: finished results go.
- ``prune``: finished database rows older than some days go.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import transaction
from django.tasks import task_backends
from django.tasks.base import Task, TaskResult
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_finished
from django.utils import timezone
from django.utils.module_loading import import_string

from . import catalog
from .backends import LocalBackend
from .catalog import FAILED, FINISHED, READY, RUNNING, Stored
from .exceptions import TaskCancelled
from .execution import failure

logger = logging.getLogger("django_tasks_local")


class Refused(Exception):
    """An operation that does not apply to the result as it is now; the message
    says why, for the person who asked."""


def retry(result_id: str) -> TaskResult:
    """Enqueue a FAILED result's task again, as a new task with the same
    arguments, priority and queue on the same alias; return the new result.

    The old result names the new one (``Stored.retried_as``): in its row's
    metadata (``_retried_as``, hidden from ``TaskResult.metadata``) for the
    database store, in this process for the memory store.
    """
    stored = catalog.find(result_id)
    if stored.status != FAILED:
        raise Refused(
            f"Task {result_id} is {stored.status}: only a FAILED task can be retried."
        )
    try:
        target = import_string(stored.task_path)
    except ImportError as error:
        raise Refused(
            f"Task {stored.task_path} cannot be imported here ({error}), so it "
            "cannot be enqueued again."
        ) from error
    if not isinstance(target, Task):
        raise Refused(f"{stored.task_path} is not a task (made with @task).")
    try:
        task = target.using(
            priority=stored.priority,
            queue_name=stored.queue_name,
            backend=stored.alias,
        )
    except InvalidTask as error:
        raise Refused(f"Task {stored.task_path} cannot be enqueued: {error}") from error
    new = task.enqueue(*stored.args, **stored.kwargs)
    _link(stored, new.id)
    return new


def _link(stored: Stored, new_id: str) -> None:
    if stored.store != "database":
        catalog.note_memory_retry(stored.alias, stored.id, new_id)
        return
    from .models import TaskRecord

    database = task_backends[stored.alias].pool_options.database
    with transaction.atomic(using=database):
        record = (
            TaskRecord.objects.using(database)
            .select_for_update()
            .filter(result_id=stored.id)
            .first()
        )
        if record is None:  # deleted meanwhile: nothing to link from
            return
        metadata = record.metadata if isinstance(record.metadata, dict) else {}
        metadata[catalog.RETRIED_AS] = [*metadata.get(catalog.RETRIED_AS, []), new_id]
        TaskRecord.objects.using(database).filter(pk=record.pk).update(
            metadata=metadata
        )


def cancel(result_id: str) -> Stored:
    """End a READY task that no process has taken as FAILED with
    ``TaskCancelled``; return it as it is then. ``task_finished`` is sent here.

    Database store: one conditional UPDATE (still READY, unclaimed, at the same
    attempt), so a process that claims the row at the same moment either wins
    (and the cancel is refused) or finds it FAILED. Memory store: the job is
    taken out of this process's scheduler, if no worker took it yet.
    """
    stored = catalog.find(result_id)
    _refuse_unless_ready(stored)
    if stored.store == "database":
        _cancel_row(stored)
    else:
        _cancel_in_memory(stored)
    return catalog.find(result_id)


def _refuse_unless_ready(stored: Stored) -> None:
    if stored.status == RUNNING:
        raise Refused(
            f"Task {stored.id} is RUNNING: a running task cannot be cancelled "
            "(a thread cannot be stopped, and a worker process only by its "
            "TIMEOUT)."
        )
    if stored.status in FINISHED:
        raise Refused(f"Task {stored.id} has finished ({stored.status}).")
    if stored.claimed_by is not None:
        raise Refused(_taken(stored, f"process {stored.claimed_by} has claimed it"))


def _taken(stored: Stored, who: str) -> str:
    return (
        f"Task {stored.id} is READY, but {who} and will start it soon: it can "
        "no longer be cancelled without that process. Let it run, or delete its "
        "result once it has finished."
    )


def _message(stored: Stored) -> str:
    return f"Task {stored.task_path} (id {stored.id}) was cancelled before it ran."


def _cancel_row(stored: Stored) -> None:
    from .models import TaskRecord

    backend = task_backends[stored.alias]
    database = backend.pool_options.database
    now = time.time()
    outcome = failure(TaskCancelled(_message(stored)), now, now)
    errors = [
        {"exception_class_path": e.exception_class_path, "traceback": e.traceback}
        for e in stored.errors
    ]
    errors.append(
        {
            "exception_class_path": outcome.error_class_path,
            "traceback": outcome.traceback,
        }
    )
    changed = (
        TaskRecord.objects.using(database)
        .filter(
            result_id=stored.id,
            status=READY,
            claimed_by__isnull=True,
            attempts=stored.attempts,
        )
        .update(status=FAILED, finished_at=timezone.now(), errors=errors)
    )
    if not changed:  # claimed, started or changed since it was read
        now_stored = catalog.find(stored.id)
        _refuse_unless_ready(now_stored)
        raise Refused(_taken(now_stored, "a process has taken it"))
    try:
        snapshot = backend.get_result(stored.id)
    except TaskResultDoesNotExist:  # its task cannot be imported here
        return
    task_finished.send_robust(type(backend), task_result=snapshot)


def _cancel_in_memory(stored: Stored) -> None:
    runtime = task_backends[stored.alias].runtime
    job = runtime.withdraw(stored.id)
    if job is None:
        now_stored = catalog.find(stored.id)
        _refuse_unless_ready(now_stored)
        raise Refused(_taken(now_stored, "a worker of this process has taken it"))
    now = time.time()
    runtime.finished(job, failure(TaskCancelled(_message(stored)), now, now), None)


def delete(result_ids: list[str]) -> tuple[list[str], list[str]]:
    """Delete the finished results among ``result_ids``; return the ids deleted
    and those refused (not finished, or not found)."""
    from .models import TaskRecord

    deleted: list[str] = []
    refused: list[str] = []
    for result_id in result_ids:
        try:
            stored = catalog.find(result_id)
        except TaskResultDoesNotExist:
            refused.append(result_id)
            continue
        if stored.status not in FINISHED:
            refused.append(result_id)
            continue
        backend = task_backends[stored.alias]
        if stored.store == "database":
            done = (
                TaskRecord.objects.using(backend.pool_options.database)
                .filter(result_id=result_id, status__in=FINISHED)
                .delete()[0]
            )
        else:
            done = backend.runtime.store.forget(result_id)
        (deleted if done else refused).append(result_id)
    return deleted, refused


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
