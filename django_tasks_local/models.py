"""The database store's table: one row per task result, readable by the ORM and
the admin.

The store writes and claims rows with plain SQL on the hot path (``stores/``),
through Django's connection for the configured database, so an enqueue joins
the caller's transaction; this model describes the same table for migrations,
the ORM and the admin.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.tasks.base import TaskResultStatus

from .fields import SequenceField


class TaskRecord(models.Model):
    """One task result of an alias whose ``STORE`` is ``"database"``."""

    #: Enqueue order: equal priorities run in this order.
    seq = SequenceField(primary_key=True)
    #: The ``TaskResult.id`` (a UUID string).
    result_id = models.CharField(max_length=36, unique=True)
    #: The ``TASKS`` alias the task was enqueued on.
    alias = models.CharField(max_length=100)
    task_path = models.CharField(max_length=255)
    queue_name = models.CharField(max_length=100)
    priority = models.IntegerField(default=0)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    run_after = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=TaskResultStatus.choices, default=TaskResultStatus.READY
    )
    enqueued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    worker_ids = models.JSONField(default=list)
    return_value = models.JSONField(null=True, blank=True)
    #: ``[{"exception_class_path": ..., "traceback": ...}, ...]``, one per
    #: failed attempt.
    errors = models.JSONField(default=list)
    metadata = models.JSONField(default=dict)
    #: The process that holds the current attempt (claimed it, and runs it or
    #: will), as ``host:pid:start``; None while nobody does.
    claimed_by = models.CharField(max_length=255, null=True, blank=True)
    #: A fresh token per claim: every write of the attempt names it, so a
    #: process that lost its claim cannot overwrite the row.
    claim_token = models.CharField(max_length=32, null=True, blank=True)
    #: Past this time a claim whose process stopped renewing it is void.
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "task result"
        verbose_name_plural = "task results"
        ordering = ["-seq"]
        indexes = [
            # What a claim scans: READY rows of an alias, best first.
            models.Index(
                fields=["alias", "-priority", "seq"],
                condition=Q(status="READY"),
                name="tasks_local_ready",
            ),
            # What retention deletes: the least recently finished of an alias.
            models.Index(
                fields=["alias", "finished_at"],
                condition=Q(finished_at__isnull=False),
                name="tasks_local_finished",
            ),
            # What a heartbeat renews and recovery looks for.
            models.Index(
                fields=["claimed_by"],
                condition=Q(claimed_by__isnull=False),
                name="tasks_local_claimed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_path} {self.result_id} ({self.status})"


class WorkerProcess(models.Model):
    """A process running the pool of a database-store alias, with its heartbeat.

    Written by the process itself each heartbeat (a few times per ``LEASE``) and
    deleted when it closes the alias; a row whose heartbeat is older than the
    lease belongs to a process that died or froze (its tasks are recovered).
    """

    #: ``host:pid:start``, as claims name it (``identity.process_id``).
    process_id = models.CharField(max_length=255)
    alias = models.CharField(max_length=100)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    #: The alias's LEASE in that process, in seconds.
    lease = models.FloatField()

    class Meta:
        verbose_name = "worker process"
        verbose_name_plural = "worker processes"
        ordering = ["alias", "host", "pid"]
        constraints = [
            models.UniqueConstraint(
                fields=["process_id", "alias"], name="tasks_local_one_row_per_alias"
            )
        ]

    def __str__(self) -> str:
        return f"{self.process_id} ({self.alias})"
