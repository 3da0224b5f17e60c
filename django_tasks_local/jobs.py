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

from dataclasses import MISSING, fields
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
        "errors",
        "id",
        "kwargs",
        "max_attempts",
        "metadata",
        "task",
        "worker_ids",
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
        max_attempts: int = 1,
        worker_ids: tuple[str, ...] = (),
        errors: tuple[tuple[str, str], ...] = (),
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.task = task
        self.args = args
        self.kwargs = kwargs
        #: The alias the task was enqueued on.
        self.backend = backend
        #: Seconds since the epoch.
        self.enqueued_at = enqueued_at
        #: Which attempt of the task this job is (1 for the first), and how many
        #: it may have in all (the task's ``max_attempts``, or the alias's).
        self.attempt = attempt
        self.max_attempts = max_attempts
        #: The worker ids and errors (class path, traceback) of the attempts
        #: before this one: what the worker's ``TaskResult`` shows of them.
        self.worker_ids = worker_ids
        self.errors = errors
        #: The result's metadata (reserved keys included) as this attempt
        #: starts; None for none.
        self.metadata = metadata
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
                self.max_attempts,
                self.worker_ids,
                self.errors,
                self.metadata,
            ),
        )


#: Tasks rebuilt in this (worker) process, by the state they were pickled with.
_task_cache: dict[tuple, Task] = {}


def rebuild_task(state: tuple) -> Task:
    """The ``Task`` a pickled ``Job`` names: the one defined at its module path
    (its class, and options such as ``max_attempts`` or ``timeout``, come from
    the definition), with the options it was enqueued with. Made without asking
    a backend to validate it (the parent did).

    Cached without its ``run_after`` (which nearly every deferred task or retry
    has its own of, so the cache would only grow): a task due at some time is
    a copy of the cached one."""
    module_path, priority, backend, queue_name, run_after, takes_context = state
    key = (module_path, priority, backend, queue_name, takes_context)
    task = _task_cache.get(key)
    if task is None:
        task = _task_cache[key] = _defined_task(
            module_path, priority, backend, queue_name, takes_context
        )
    return task if run_after is None else with_run_after(task, run_after)


def _defined_task(
    module_path: str,
    priority: int,
    backend: str,
    queue_name: str,
    takes_context: bool,
) -> Task:
    target = import_string(module_path)
    if isinstance(target, Task):
        task = object.__new__(type(target))
        for field in fields(target):
            object.__setattr__(task, field.name, getattr(target, field.name))
    else:  # a plain function: a Task made around it
        task = object.__new__(Task)
        for field in fields(Task):
            default = field.default
            if default is MISSING and field.default_factory is not MISSING:
                default = field.default_factory()
            object.__setattr__(task, field.name, default)
        object.__setattr__(task, "func", target)
    for name, value in (
        ("priority", priority),
        ("backend", backend),
        ("queue_name", queue_name),
        ("run_after", None),
        ("takes_context", takes_context),
    ):
        object.__setattr__(task, name, value)
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


def with_run_after(task: Task, run_after: datetime | None) -> Task:
    """A copy of ``task`` due at ``run_after`` (a retry's), not validated again."""
    copy = object.__new__(type(task))
    for field in fields(task):
        object.__setattr__(copy, field.name, getattr(task, field.name))
    object.__setattr__(copy, "run_after", run_after)
    return copy


def _rebuild_job(
    id, task_state, args, kwargs, backend, enqueued_at, attempt, *history
) -> Job:
    task = rebuild_task(task_state)
    return Job(id, task, args, kwargs, backend, enqueued_at, attempt, *history)
