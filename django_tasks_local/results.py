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

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.tasks.base import Task, TaskError, TaskResult, TaskResultStatus
from django.utils.json import normalize_json

from .metadata import TaskResult as MetadataTaskResult

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
    return _from_timestamp(timestamp, _timezone())


#: ``[UTC]`` or ``[None]`` once ``settings.USE_TZ`` was read; emptied when
#: ``override_settings`` changes it. Reading a setting goes through
#: ``LazySettings`` (about 0.2 µs), and every snapshot needs it.
_timezone_cache: list[Any] = []


def _timezone() -> Any:
    """``UTC`` when ``USE_TZ`` is on (aware datetimes), else None (naive local)."""
    try:
        return _timezone_cache[0]
    except IndexError:
        tz = UTC if settings.USE_TZ else None
        _timezone_cache[:] = [tz]
        return tz


@receiver(setting_changed)
def _forget_timezone(*, setting: str, **kwargs: Any) -> None:
    if setting == "USE_TZ":
        _timezone_cache.clear()


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
    last_attempted_at: float | None = None,
    raw_metadata: dict[str, Any] | None = None,
) -> TaskResult:
    """A ``TaskResult`` from already-normalised values, without re-normalising.

    Three are built per task (enqueue, started, finished), so this is written
    for speed: ``USE_TZ`` is looked up once (and cached), and each field is written
    through its slot's own setter (``object.__setattr__`` looks the name up on
    the class first: 2.4 µs for the 13 fields against 1.4 µs).
    ``last_attempted_at`` defaults to ``started_at`` (a first attempt). The
    result is of the class with metadata (``metadata.TaskResult``); its
    ``raw_metadata`` is ``raw_metadata`` as given (never changed in place: a
    save replaces it), or a new empty dict.
    """
    tz = _timezone()
    started = None if started_at is None else _from_timestamp(started_at, tz)
    result = _new(_RESULT_CLASS)
    _set_task(result, task)
    _set_id(result, result_id)
    _set_status(result, status)
    _set_enqueued_at(
        result, None if enqueued_at is None else _from_timestamp(enqueued_at, tz)
    )
    _set_started_at(result, started)
    _set_last_attempted_at(
        result,
        started
        if last_attempted_at is None
        else _from_timestamp(last_attempted_at, tz),
    )
    _set_finished_at(
        result, None if finished_at is None else _from_timestamp(finished_at, tz)
    )
    _set_args(result, args)
    _set_kwargs(result, kwargs)
    _set_backend(result, backend)
    _set_errors(result, errors)
    _set_worker_ids(result, worker_ids)
    _set_return_value(result, return_value)
    _set_raw_metadata(result, {} if raw_metadata is None else raw_metadata)
    return result


#: The results this package builds: Django's, or the subclass with metadata.
_RESULT_CLASS = MetadataTaskResult


def _setter(name: str) -> Callable[[TaskResult, Any], None]:
    """The setter of one field of the frozen ``TaskResult``: its slot's own
    (``slots=True``), or ``object.__setattr__`` if a Django version has none."""
    for klass in _RESULT_CLASS.__mro__:
        descriptor = klass.__dict__.get(name)
        if type(descriptor).__name__ == "member_descriptor":
            return descriptor.__set__

    def set_field(result: TaskResult, value: Any) -> None:
        _set(result, name, value)

    return set_field


_set_task = _setter("task")
_set_id = _setter("id")
_set_status = _setter("status")
_set_enqueued_at = _setter("enqueued_at")
_set_started_at = _setter("started_at")
_set_last_attempted_at = _setter("last_attempted_at")
_set_finished_at = _setter("finished_at")
_set_args = _setter("args")
_set_kwargs = _setter("kwargs")
_set_backend = _setter("backend")
_set_errors = _setter("errors")
_set_worker_ids = _setter("worker_ids")
_set_return_value = _setter("_return_value")
_set_raw_metadata = _setter("raw_metadata")
