"""The neutral unit of work: one attempt of one task, as the scheduler, the pools
and the worker see it.

::

    runtime.enqueue() ─► Job ─► store.add(job)     (the store keeps its own record
                          │                         of the result in ``job.entry``)
                          ▼
    scheduler ─► pool ─► worker: execute(job)      (pickled to worker processes:
                          │                         the task by module path)
                          ▼
    reporter.started(job, ...) / finished(job, ...) ─► store, by ``job.entry``

A ``Job`` knows nothing of stores or pools. ``entry`` is an opaque handle that
the store that made the job hangs on it (its record of the result, or whatever
it needs to find it again without a lookup); nothing else reads it, and it does
not cross to worker processes.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from django.tasks.base import Task
from django.utils.module_loading import import_string


class Job:
    """Everything a worker needs to run one attempt of one task.

    Picklable for worker processes: pickling sends the task by its module path
    plus its options and rebuilds it without asking a backend to validate it (the
    parent already did, and the child may not have the alias:
    ``override_settings(TASKS=...)`` lives in the parent).
    """

    __slots__ = (
        "args",
        "attempt",
        "backend",
        "enqueued_at",
        "entry",
        "id",
        "kwargs",
        "task",
    )

    def __init__(
        self,
        id: str,
        task: Task,
        args: list[Any],
        kwargs: dict[str, Any],
        backend: str,
        enqueued_at: float,
        attempt: int = 1,
    ) -> None:
        self.id = id
        self.task = task
        self.args = args
        self.kwargs = kwargs
        #: The alias the task was enqueued on.
        self.backend = backend
        #: Seconds since the epoch.
        self.enqueued_at = enqueued_at
        #: Which attempt of the task this job is (1 for the first).
        self.attempt = attempt
        #: The store's handle on this job's result (opaque to everyone else).
        self.entry: Any = None

    @property
    def priority(self) -> int:
        return self.task.priority

    def __repr__(self) -> str:
        return f"<Job {self.task.module_path} id={self.id} attempt={self.attempt}>"

    def __reduce__(self):
        task = self.task
        task_state = (
            task.module_path,
            task.priority,
            task.backend,
            task.queue_name,
            task.run_after,
            task.takes_context,
        )
        return (
            _rebuild_job,
            (
                self.id,
                task_state,
                self.args,
                self.kwargs,
                self.backend,
                self.enqueued_at,
                self.attempt,
            ),
        )


#: Tasks rebuilt in this (worker) process, by the state they were pickled with.
_task_cache: dict[tuple, Task] = {}


def rebuild_task(state: tuple) -> Task:
    """The ``Task`` a pickled ``Job`` names, imported from its module path."""
    task = _task_cache.get(state)
    if task is not None:
        return task
    module_path, priority, backend, queue_name, run_after, takes_context = state
    target = import_string(module_path)
    func = target.func if isinstance(target, Task) else target
    task = object.__new__(Task)
    values = {
        "func": func,
        "priority": priority,
        "backend": backend,
        "queue_name": queue_name,
        "run_after": run_after,
        "takes_context": takes_context,
    }
    for field in fields(Task):
        object.__setattr__(task, field.name, values[field.name])
    _task_cache[state] = task
    return task


def task_at(
    module_path: str,
    priority: int,
    backend: str,
    queue_name: str,
    run_after: datetime | None,
) -> Task:
    """The ``Task`` defined at ``module_path``, with the options it was enqueued
    with (a row of the database store names no more); ``ImportError`` if it
    cannot be imported here."""
    target = import_string(module_path)
    takes_context = target.takes_context if isinstance(target, Task) else False
    return rebuild_task(
        (module_path, priority, backend, queue_name, run_after, takes_context)
    )


def _rebuild_job(id, task_state, args, kwargs, backend, enqueued_at, attempt) -> Job:
    return Job(
        id, rebuild_task(task_state), args, kwargs, backend, enqueued_at, attempt
    )
