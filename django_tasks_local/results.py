"""Building Django ``TaskResult`` snapshots from plain stored values.

``TaskResult`` is a frozen dataclass whose ``__init__`` re-normalises the
arguments to JSON on every construction. Arguments are normalised (and so
validated) once, at enqueue; snapshots after that are built field by field, which
keeps ``get_result()`` and the worker's ``TaskContext`` cheap.

Timestamps are kept as float seconds since the epoch (24 bytes, against 48 for an
aware ``datetime``) and turned into datetimes here, the way
``django.utils.timezone.now()`` would have produced them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.tasks.base import Task, TaskError, TaskResult, TaskResultStatus
from django.utils.json import normalize_json

_new = object.__new__
_set = object.__setattr__
_from_timestamp = datetime.fromtimestamp


#: Types ``normalize_json`` returns unchanged. Checked by exact type, so
#: subclasses (a ``str`` enum, say) still take Django's own path.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def normalize_args(args: Any) -> list[Any]:
    """``normalize_json(args)``, without its pattern matching when every argument
    is a plain scalar (the usual ids and strings): ``normalize_json`` checks each
    value against ``Mapping`` and ``Sequence`` ABCs, about 1 µs per call."""
    if type(args) is tuple:
        for value in args:
            if type(value) not in _PLAIN:
                break
        else:
            return list(args)
    return normalize_json(args)


def normalize_value(value: Any) -> Any:
    """``normalize_json(value)``, returning plain scalars (``None`` from most
    tasks) at once."""
    if type(value) in _PLAIN:
        return value
    return normalize_json(value)


def normalize_kwargs(kwargs: Any) -> dict[str, Any]:
    """``normalize_json(kwargs)``, with the same shortcut as ``normalize_args``."""
    if type(kwargs) is dict:
        for key, value in kwargs.items():
            if type(key) is not str or type(value) not in _PLAIN:
                break
        else:
            return dict(kwargs)
    return normalize_json(kwargs)


def to_datetime(timestamp: float | None) -> datetime | None:
    """A float timestamp as Django's ``timezone.now()`` would give it."""
    if timestamp is None:
        return None
    if settings.USE_TZ:
        return datetime.fromtimestamp(timestamp, UTC)
    return datetime.fromtimestamp(timestamp)


def build_result(
    *,
    task: Task,
    result_id: str,
    status: TaskResultStatus,
    enqueued_at: float | None,
    started_at: float | None,
    finished_at: float | None,
    args: list[Any],
    kwargs: dict[str, Any],
    backend: str,
    errors: list[TaskError],
    worker_ids: list[str],
    return_value: Any = None,
) -> TaskResult:
    """A ``TaskResult`` from already-normalised values, without re-normalising.

    Three are built per task (enqueue, started, finished), so this is written
    for speed: ``settings.USE_TZ`` is read once, not per timestamp.
    """
    tz = UTC if settings.USE_TZ else None  # as to_datetime() decides
    started = None if started_at is None else _from_timestamp(started_at, tz)
    result = _new(TaskResult)
    _set(result, "task", task)
    _set(result, "id", result_id)
    _set(result, "status", status)
    _set(
        result,
        "enqueued_at",
        None if enqueued_at is None else _from_timestamp(enqueued_at, tz),
    )
    _set(result, "started_at", started)
    _set(result, "last_attempted_at", started)
    _set(
        result,
        "finished_at",
        None if finished_at is None else _from_timestamp(finished_at, tz),
    )
    _set(result, "args", args)
    _set(result, "kwargs", kwargs)
    _set(result, "backend", backend)
    _set(result, "errors", errors)
    _set(result, "worker_ids", worker_ids)
    _set(result, "_return_value", return_value)
    return result
