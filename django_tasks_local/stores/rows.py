"""The database store's rows decoded: a result's row into a ``TaskResult``, a
claimed row into the ``Job`` a worker runs, and a lost process's row into the
result its failure would leave.

A row holds what the table holds: JSON as text, datetimes as the database
keeps them, a task by its module path. Decoding needs the store's ``Dialect``
and the task importable here; the store decides what an undecodable row means
(a result that cannot be read, or a task that fails at once). The rows'
columns are named next to their statements, in ``sql.py``. Nothing here runs
on an enqueue: it writes a row and reads none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.tasks.base import Task, TaskError, TaskResult, TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist

from ..jobs import Job, task_at
from ..results import build_result, to_datetime
from .sql import ClaimedRow, Dialect, HeldRow, ResultRow


def task_of_row(
    dialect: Dialect,
    alias: str,
    task_path: str,
    priority: int,
    queue_name: str,
    run_after: Any,
) -> Task:
    """The ``Task`` a row names (``ImportError`` if it cannot be imported
    here), due at its ``run_after`` read back as the moment it was (SQLite
    hands datetimes back naive, in UTC)."""
    due = to_datetime(dialect.timestamp(run_after))
    return task_at(task_path, priority, alias, queue_name, due)


def snapshot_of_row(dialect: Dialect, alias: str, row: ResultRow) -> TaskResult:
    """The ``TaskResult`` a result's row holds; ``TaskResultDoesNotExist`` if
    its task cannot be imported here."""
    try:
        task = task_of_row(
            dialect, alias, row.task_path, row.priority, row.queue_name, row.run_after
        )
    except Exception as error:
        raise TaskResultDoesNotExist(
            f"{row.result_id}: its task {row.task_path} cannot be imported here "
            f"({type(error).__name__}: {error})"
        ) from error
    return build_result(
        task=task,
        result_id=row.result_id,
        status=TaskResultStatus(row.status),
        enqueued_at=dialect.timestamp(row.enqueued_at),
        started_at=dialect.timestamp(row.started_at),
        last_attempted_at=dialect.timestamp(row.last_attempted_at),
        finished_at=dialect.timestamp(row.finished_at),
        args=dialect.from_json(row.args),
        kwargs=dialect.from_json(row.kwargs),
        backend=row.alias,
        errors=[
            TaskError(
                exception_class_path=error["exception_class_path"],
                traceback=error["traceback"],
            )
            for error in dialect.from_json(row.errors)
        ],
        worker_ids=dialect.from_json(row.worker_ids),
        return_value=dialect.from_json(row.return_value),
        raw_metadata=dialect.from_json(row.metadata) or None,
    )


def job_of_claim(
    dialect: Dialect,
    alias: str,
    row: ClaimedRow,
    max_attempts_of: Callable[[Task], int],
) -> tuple[Job, float | None]:
    """The job of the next attempt of a row just claimed, and when its first
    attempt started (None if none did); raises whatever stops its task from
    being loaded here."""
    task = task_of_row(
        dialect, alias, row.task_path, row.priority, row.queue_name, row.run_after
    )
    earlier_ids = tuple(dialect.from_json(row.worker_ids) or ())
    earlier_errors = tuple(
        (error["exception_class_path"], error["traceback"])
        for error in dialect.from_json(row.errors) or ()
    )
    job = Job(
        row.result_id,
        task,
        dialect.from_json(row.args),
        dialect.from_json(row.kwargs),
        alias,
        dialect.timestamp(row.enqueued_at) or time.time(),
        row.attempts + 1,
        max_attempts_of(task),
        earlier_ids,
        earlier_errors,
        dialect.from_json(row.metadata) or None,
    )
    return job, dialect.timestamp(row.started_at)


def failed_result_of_lost(
    dialect: Dialect, alias: str, task: Task, row: HeldRow, now: float
) -> TaskResult:
    """The FAILED result a RUNNING row of a lost process would leave, failed at
    ``now`` (what a retry policy is shown when it decides whether to retry)."""
    earlier = dialect.from_json(row.errors) or []
    return build_result(
        task=task,
        result_id=row.result_id,
        status=TaskResultStatus.FAILED,
        enqueued_at=None,
        started_at=dialect.timestamp(row.started_at),
        finished_at=now,
        args=[],
        kwargs={},
        backend=alias,
        errors=[
            TaskError(
                exception_class_path=e["exception_class_path"],
                traceback=e["traceback"],
            )
            for e in earlier
        ],
        worker_ids=dialect.from_json(row.worker_ids) or [],
    )
