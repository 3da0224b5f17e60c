"""Task metadata: progress and notes a task keeps with its result.

::

    Task.using(metadata={...}) ─► enqueue: the result's raw_metadata
    in the task: context.metadata (a mutable copy, without reserved "_" keys)
                 context.save_metadata() ─► the worker's sink ─► the store
                 (the task's end saves it too, if it changed: ok or failed)
    anywhere:    result.metadata (a copy without "_" keys), result.raw_metadata,
                 up to date after refresh() / get_result(), in every process
                 that can read the result

The API is Django's (its main branch's ``tests/tasks/test_metadata.py`` is the
reference). On a Django that ships it, Django's ``Task``, ``TaskResult`` and
``TaskContext`` are used, and the backends implement only ``save_metadata()``
/ ``asave_metadata()``. On Django 6.1, which has none of it, this module
provides the same through subclasses: ``TaskResult`` and ``TaskContext`` here,
and the ``metadata`` field of ``tasks.LocalTask``.

Inside a task, a save goes to the worker that runs it (``saving_to``): in a
thread pool straight to the store, in a worker process as a message to the
parent. So a task needs no backend of its own alias in a worker process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from copy import deepcopy
from dataclasses import dataclass, field, fields
from typing import Any

from django.tasks import base as django_base
from django.tasks.exceptions import InvalidTask
from django.utils.json import normalize_json

#: Whether Django itself has task metadata (a later Django than 6.1).
DJANGO_HAS_METADATA = "metadata" in {f.name for f in fields(django_base.Task)}

#: Keys that start with this are reserved for backends and libraries: hidden
#: from ``metadata``, kept as they are when a task saves its metadata.
RESERVED_PREFIX = getattr(django_base, "RESERVED_METADATA_PREFIX", "_")

#: Where a ``save_metadata()`` inside the running task goes (set by the worker).
_sink: ContextVar[Callable[[dict[str, Any]], None]] = ContextVar(
    "django_tasks_local.metadata_sink"
)


def user_metadata(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``raw`` without the reserved keys."""
    return {k: v for k, v in raw.items() if not k.startswith(RESERVED_PREFIX)}


def validate(metadata: Any) -> None:
    """``InvalidTask`` with Django's messages unless ``metadata`` is a dict with
    string keys that is JSON-serialisable."""
    if not isinstance(metadata, dict):
        raise InvalidTask("metadata must be a dict.")
    if not all(isinstance(key, str) for key in metadata):
        raise InvalidTask("metadata keys must be strings.")
    try:
        normalize_json(metadata)
    except (TypeError, ValueError) as error:
        raise InvalidTask(f"metadata must be JSON-serializable: {error}") from error


def to_save(task_result: Any, metadata: dict[str, Any]) -> dict[str, Any]:
    """What a task saves: the reserved keys as they are, the rest from
    ``metadata``, normalised to JSON; ``TypeError`` if it cannot be."""
    raw = {
        key: value
        for key, value in task_result.raw_metadata.items()
        if key.startswith(RESERVED_PREFIX)
    }
    if not all(isinstance(key, str) for key in metadata):
        raise TypeError("metadata keys must be strings.")
    raw.update(user_metadata(metadata))
    try:
        return normalize_json(raw)
    except (TypeError, ValueError) as error:
        raise TypeError(f"metadata must be JSON-serializable: {error}") from error


@contextmanager
def saving_to(sink: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """While the task runs: where its ``save_metadata()`` calls go."""
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)


def current_sink() -> Callable[[dict[str, Any]], None] | None:
    """The running task's sink, if this code runs inside one of our workers."""
    return _sink.get(None)


if DJANGO_HAS_METADATA:  # pragma: no cover - a later Django
    TaskResult = django_base.TaskResult
    TaskContext = django_base.TaskContext
    REFRESH_ATTRS = frozenset(django_base.TASK_REFRESH_ATTRS)
else:

    @dataclass(frozen=True, slots=True, kw_only=True)
    class TaskResult(django_base.TaskResult):  # type: ignore[no-redef]
        """Django's ``TaskResult`` with the metadata Django's main branch adds."""

        #: Metadata about the task, reserved keys included.
        raw_metadata: dict[str, Any] = field(default_factory=dict)

        @property
        def metadata(self) -> dict[str, Any]:
            """A copy of the task's metadata, without reserved keys (modify it
            from inside the task through ``TaskContext.metadata``)."""
            return user_metadata(self.raw_metadata)

        def refresh(self) -> None:
            """Reload the result from the store, metadata included."""
            _refresh_from(self, self.task.get_backend().get_result(self.id))

        async def arefresh(self) -> None:
            """See ``refresh()``."""
            _refresh_from(self, await self.task.get_backend().aget_result(self.id))

    @dataclass(frozen=True, slots=True, kw_only=True)
    class TaskContext(django_base.TaskContext):  # type: ignore[no-redef]
        """Django's ``TaskContext`` with a mutable copy of the metadata and a way
        to save it while the task runs."""

        #: A mutable copy of the task's metadata, without reserved keys.
        metadata: dict[str, Any] = field(init=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "metadata", deepcopy(self.task_result.metadata))

        @property
        def metadata_modified(self) -> bool:
            """Whether the metadata changed since it was last saved."""
            return self.metadata != self.task_result.metadata

        def save_metadata(self) -> None:
            """Persist the task's metadata now (progress others can read)."""
            raw = to_save(self.task_result, self.metadata)
            sink = current_sink()
            if sink is not None:
                sink(raw)
            else:
                backend = self.task_result.task.get_backend()
                backend.save_metadata(self.task_result, raw)
            object.__setattr__(self.task_result, "raw_metadata", raw)

        async def asave_metadata(self) -> None:
            """See ``save_metadata()``. Inside a worker the save is a quick hand
            over (to the store, or to the parent process): no thread hop."""
            raw = to_save(self.task_result, self.metadata)
            sink = current_sink()
            if sink is not None:
                sink(raw)
            else:
                backend = self.task_result.task.get_backend()
                await backend.asave_metadata(self.task_result, raw)
            object.__setattr__(self.task_result, "raw_metadata", raw)

    REFRESH_ATTRS = frozenset(django_base.TASK_REFRESH_ATTRS) | {"raw_metadata"}


def _refresh_from(result: Any, fresh: Any) -> None:
    for attr in REFRESH_ATTRS:
        object.__setattr__(result, attr, getattr(fresh, attr))
