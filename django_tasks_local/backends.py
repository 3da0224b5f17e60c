"""The Django-facing backend classes.

Each instance is thin: Django makes one per thread, so all state lives in the
alias's shared ``Runtime``. Options are validated when the backend is created;
the runtime validates a ``Task`` once (with this class's ``validate_task``) and
remembers it, so the hot path of ``enqueue()`` does no ``inspect`` work after the
first call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from inspect import iscoroutinefunction
from typing import Any

from asgiref.sync import sync_to_async
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import Task, TaskResult
from django.tasks.exceptions import InvalidTask

from . import runtime as runtime_registry
from .checks import database_store_messages
from .execution import current_result_id
from .metadata import DJANGO_HAS_METADATA
from .metadata import current_sink as current_metadata_sink
from .metadata import validate as validate_metadata
from .options import (
    PROCESS_OPTIONS,
    THREAD_OPTIONS,
    PoolOptions,
    parse_process_options,
    parse_thread_options,
    unknown_option_warnings,
)
from .pools import Pool
from .pools.process import ProcessPool
from .pools.thread import ThreadPool
from .runtime import Runtime
from .tasks import LocalTask


class LocalBackend(BaseTaskBackend):
    """What both pool backends share: options, the runtime, results, join, close."""

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True
    supports_metadata = True
    task_class = LocalTask

    # Set by each concrete backend: which options it reads, how it validates them,
    # and the pool that runs its tasks.
    known_options: frozenset[str]
    option_parser: Callable[[str, Mapping[str, Any]], PoolOptions]
    pool_class: type[Pool]

    def __init__(self, alias: str, params: Mapping[str, Any]) -> None:
        super().__init__(alias, params)
        self.pool_options = type(self).option_parser(alias, self.options)
        self._runtime_key = (
            alias,
            type(self),
            self.pool_options,
            frozenset(self.queues),
        )
        self._runtime: Runtime | None = None
        self._runtime_generation = -1

    @property
    def runtime(self) -> Runtime:
        """The alias's shared runtime (made on first use; starts nothing)."""
        runtime = self._runtime
        if runtime is None or self._runtime_generation != runtime_registry.generation:
            runtime = self._runtime = runtime_registry.get_runtime(
                self._runtime_key, self._make_runtime
            )
            self._runtime_generation = runtime_registry.generation
        return runtime

    def _make_runtime(self) -> Runtime:
        return Runtime(
            self.alias,
            type(self),
            self.pool_options,
            self.pool_class,
            self.validate_task,
        )

    def validate_task(self, task: Task) -> None:
        """Django's rules, then the options of ``LocalTask`` (checked when the
        task is defined, so a wrong value fails at import, not at enqueue)."""
        super().validate_task(task)
        if not DJANGO_HAS_METADATA:  # Django checks it itself where it has it
            validate_metadata(getattr(task, "metadata", {}))
        where = f"Task {task.module_path} (alias {self.alias!r})"
        max_attempts = getattr(task, "max_attempts", None)
        if max_attempts is not None and (
            isinstance(max_attempts, bool)
            or not isinstance(max_attempts, int)
            or max_attempts < 1
        ):
            raise InvalidTask(
                f"{where}: max_attempts must be an int >= 1; got {max_attempts!r}."
            )
        backoff = getattr(task, "backoff", None)
        if backoff is not None and not callable(backoff):
            raise InvalidTask(
                f"{where}: backoff must be callable as backoff(exception, "
                f"task_result) -> seconds or None; got {backoff!r}."
            )
        timeout = getattr(task, "timeout", None)
        if timeout is not None:
            if (
                isinstance(timeout, bool)
                or not isinstance(timeout, int | float)
                or not 0 < timeout < float("inf")
            ):
                raise InvalidTask(
                    f"{where}: timeout must be a positive number of seconds; "
                    f"got {timeout!r}."
                )
            self.validate_timeout(task, where)

    def validate_timeout(self, task: Task, where: str) -> None:
        """Whether this backend can stop ``task`` past its ``timeout``."""

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        return self.runtime.enqueue(task, args, kwargs)

    def get_result(self, result_id: str) -> TaskResult:
        return self.runtime.get_result(result_id)

    def save_metadata(self, task_result: TaskResult, metadata: dict[str, Any]) -> None:
        """Persist ``metadata`` (reserved keys included) for ``task_result``.

        Inside the task it belongs to, the save goes to the worker running it
        (the store, or the parent of a worker process); elsewhere, to the store.
        """
        sink = current_metadata_sink()
        if sink is not None and current_result_id.get(None) == task_result.id:
            sink(metadata)
        else:
            self.runtime.save_metadata(task_result.id, metadata)

    async def asave_metadata(
        self, task_result: TaskResult, metadata: dict[str, Any]
    ) -> None:
        """See ``save_metadata()``."""
        if current_metadata_sink() is not None:
            self.save_metadata(task_result, metadata)  # a hand-over, not I/O
        else:
            await sync_to_async(self.save_metadata, thread_sensitive=True)(
                task_result, metadata
            )

    def wait_result(self, result_id: str, timeout: float | None = None) -> TaskResult:
        """Block until the result is finished and return its final snapshot;
        ``TimeoutError`` past ``timeout`` seconds. What ``wait()`` uses."""
        return self.runtime.wait_result(result_id, timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Block until nothing of this alias is READY (and due) or RUNNING.

        Return True, or False if ``timeout`` seconds passed first. Event-driven.
        """
        return self.runtime.join(timeout)

    def close(self) -> None:
        """Finish running and due tasks, drop deferred ones not yet due (with a
        warning), and stop this alias's workers. Results stay readable; a later
        enqueue starts a fresh pool."""
        self.runtime.close()

    def check(self, **kwargs: Any) -> list:
        messages = [
            *super().check(**kwargs),
            *unknown_option_warnings(
                self.alias, self.options, self.known_options, type(self).__name__
            ),
        ]
        if self.pool_options.store == "database":
            messages += database_store_messages(
                self.alias, self.pool_options.database, type(self).__name__
            )
        return messages


class ThreadPoolBackend(LocalBackend):
    """Runs tasks on a pool of ``MAX_WORKERS`` threads: for I/O-bound work.

    Threads share the GIL, so CPU-bound tasks do not run in parallel here; use
    ``ProcessPoolBackend`` for those. A thread cannot be stopped, so there is no
    ``TIMEOUT``.
    """

    known_options = THREAD_OPTIONS
    option_parser = staticmethod(parse_thread_options)
    pool_class = ThreadPool

    def validate_timeout(self, task: Task, where: str) -> None:
        """Only a coroutine can be stopped here: it is cancelled at its next
        ``await``. A thread running a plain function cannot be stopped."""
        if not iscoroutinefunction(task.func):
            raise InvalidTask(
                f"{where}: timeout needs an async def task on ThreadPoolBackend: a "
                "thread running a plain function cannot be stopped from outside. "
                "Make the task async def (it is cancelled at its next await), or "
                "run it on a ProcessPoolBackend, which ends the worker process."
            )


class ProcessPoolBackend(LocalBackend):
    """Runs tasks in ``MAX_WORKERS`` worker processes: for CPU-bound work.

    Tasks, arguments and return values cross to the workers by pickle, so a task
    must be importable from its module path. A worker that dies fails only the
    task it was running (``WorkerDied``); ``TIMEOUT`` ends a worker whose task
    runs too long (``TimeoutError``); ``MAX_TASKS_PER_CHILD`` replaces workers
    after that many tasks; ``START_METHOD`` picks fork, forkserver or spawn.
    """

    known_options = PROCESS_OPTIONS
    option_parser = staticmethod(parse_process_options)
    pool_class = ProcessPool
