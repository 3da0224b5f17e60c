"""The database store's record in memory of a result this process holds, and
the snapshot of one.

The row in the table is a result's record for every process of the site; an
``Entry`` is this process's, ahead of the row, from the claim until the row
holds the final state: the worker's reports change it at once and the writer
commits them a few milliseconds later, so reads and waits in this process see
exact statuses (RUNNING the moment a worker starts, as in the memory store).
It hangs on its job (``job.entry``), as the memory store's ``Record`` does, so
the reports from the pool reach it without a lookup.
"""

from __future__ import annotations

from typing import Any

from django.tasks.base import TaskError, TaskResult, TaskResultStatus

from ..jobs import Job
from ..results import build_result
from .memory import Waiter

READY = TaskResultStatus.READY
RUNNING = TaskResultStatus.RUNNING


class Entry:
    """This process's record of a result it holds."""

    __slots__ = (
        "errors",
        "finished_at",
        "first_started_at",
        "job",
        "metadata",
        "return_value",
        "started_at",
        "status",
        "superseded",
        "token",
        "waiters",
        "worker_ids",
    )

    def __init__(
        self,
        job: Job,
        token: str,
        worker_ids: list[str] | None = None,
        errors: list[tuple[str, str]] | None = None,
        first_started_at: float | None = None,
    ) -> None:
        self.job = job
        self.token = token
        self.status = READY
        #: When this attempt started, and when the first attempt did.
        self.started_at: float | None = None
        self.first_started_at = first_started_at
        self.finished_at: float | None = None
        #: Worker ids and errors of earlier attempts, then of this one.
        self.worker_ids: list[str] = worker_ids or []
        self.errors: list[tuple[str, str]] = errors or []
        self.return_value: Any = None
        self.waiters: list[Waiter] | None = None
        #: It will reach no final state here: retried, or given back.
        self.superseded = False
        #: The result's metadata, reserved keys included; None for none.
        self.metadata: dict[str, Any] | None = job.metadata


def snapshot_of_entry(alias: str, entry: Entry) -> TaskResult:
    """A ``TaskResult`` of ``entry`` as it is now, on the alias ``alias``."""
    job = entry.job
    status = entry.status
    finished = status not in (READY, RUNNING)
    return build_result(
        task=job.task,
        result_id=job.id,
        status=status,
        enqueued_at=job.enqueued_at,
        started_at=entry.first_started_at,
        last_attempted_at=entry.started_at,
        finished_at=entry.finished_at if finished else None,
        args=job.args,
        kwargs=job.kwargs,
        backend=alias,
        errors=[
            TaskError(exception_class_path=path, traceback=text)
            for path, text in entry.errors
        ],
        worker_ids=list(entry.worker_ids),
        return_value=entry.return_value if finished else None,
        raw_metadata=entry.metadata,
    )
