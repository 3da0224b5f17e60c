"""The messages between the supervisor and a worker process, by name.

::

    parent ─► child   a batch: [pickled Job, ...]   each job pickled on its own
                      STOP                          exit now
    child ─► parent   Ready()                       Django is set up
                      Started(started_at)           the next held job began
                      Metadata(...)                 the running job saved its
                                                    metadata (progress)
                      Finished(...)                 the running job ended

A child sends one report per pipe message: ``Ready``, or ``Started`` with the
previous job's ``Finished`` riding along (one message per task, not two), or a
lone ``Finished`` before it blocks for more work. On the pipe a report is one
pickle of plain tuples, each with a kind tag first; ``decode`` turns it back into
the named messages. The child reports in the order it was sent jobs, so no ids
cross the pipe.

Only plain data crosses in a report (numbers, strings, bytes), so a report can
always be read, except for the task's return value, which is the user's. A
return value that is not a plain scalar travels as a pickle of its own inside
the report, and the parent rebuilds it in ``Finished.outcome``: one that cannot
be rebuilt in the web process (its class is missing there, or its
``__reduce__`` raises) fails its own task with ``ReturnValueError``, and every
other report, of this child or another, is read as usual.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, NamedTuple

from ...execution import Outcome, ReturnValueError, failure

#: The pickle protocol on the pipe: both ends run the same Python.
PROTOCOL = pickle.HIGHEST_PROTOCOL

#: What the parent sends to tell a child to exit.
STOP = None

# Kind tags on the wire.
_READY, _STARTED, _FINISHED, _METADATA = 0, 1, 2, 3

#: Return values sent as they are; checked by exact type, so a subclass (which
#: may not rebuild in the parent) travels as a pickle of its own.
_PLAIN = frozenset({str, int, float, bool, type(None)})


class BadReport(Exception):
    """A report from a worker process could not be read at all (it is not the
    shape this module writes). That worker's stream can no longer be trusted."""


class Ready(NamedTuple):
    """The worker has set Django up and waits for jobs."""


class Started(NamedTuple):
    """The worker began the next job it holds, at ``started_at`` (epoch seconds)."""

    started_at: float


class Finished(NamedTuple):
    """The worker's running job ended. The return value is still as sent: read
    it through ``outcome()``, which rebuilds it."""

    ok: bool
    return_value: Any
    #: The pickled return value, when it is not a plain scalar; else None.
    return_pickle: bytes | None
    error_class_path: str | None
    traceback: str | None
    started_at: float
    finished_at: float
    retry_in: float | None = None
    #: The metadata the task left changed, as JSON text; else None.
    metadata_json: str | None = None

    def outcome(self, task_path: str) -> Outcome:
        """The ``Outcome`` of the job, its return value rebuilt here; a value that
        cannot be rebuilt fails the job (and only it)."""
        value = self.return_value
        if self.return_pickle is not None:
            try:
                value = pickle.loads(self.return_pickle)
            except Exception as exc:  # noqa: BLE001 - the value, not the pool, fails
                error = ReturnValueError(
                    f"Task {task_path} returned a value that could not be rebuilt in "
                    f"the web process (unpickling it raised {type(exc).__name__}: "
                    f"{exc}); the task ran in the worker process, but its result is "
                    "lost. Return plain JSON data (str, int, float, bool, None, "
                    "list, dict), not subclasses of them."
                )
                return failure(error, self.started_at, self.finished_at, cause=exc)
        return Outcome(
            self.ok,
            value,
            self.error_class_path,
            self.traceback,
            self.started_at,
            self.finished_at,
            self.retry_in,
            None if self.metadata_json is None else json.loads(self.metadata_json),
        )


class Metadata(NamedTuple):
    """The running job saved its metadata (reserved keys included), as JSON
    text: plain data that always reads back, whatever types the task used."""

    metadata_json: str

    @property
    def raw(self) -> dict[str, Any]:
        return json.loads(self.metadata_json)


Message = Ready | Started | Finished | Metadata


# -- the child's side ---------------------------------------------------------------


def encode_ready() -> bytes:
    return pickle.dumps(((_READY,),), PROTOCOL)


def encode_report(
    finished: Outcome | None, task_path: str, started_at: float | None
) -> bytes:
    """One report: the previous job's end (if not yet sent) and the next job's
    start (if it began). A return value that cannot be pickled fails that job
    here, in the worker, with ``ReturnValueError``."""
    parts: list[tuple] = []
    if finished is not None:
        parts.append(_finished_part(finished, task_path))
    if started_at is not None:
        parts.append((_STARTED, started_at))
    return pickle.dumps(tuple(parts), PROTOCOL)


def encode_metadata(raw: dict[str, Any]) -> bytes:
    """The running job's metadata, saved while it runs."""
    return pickle.dumps(((_METADATA, json.dumps(raw)),), PROTOCOL)


def _finished_part(outcome: Outcome, task_path: str) -> tuple:
    ok, value, class_path, trace, started, finished, retry_in, meta = outcome
    meta_json = None if meta is None else json.dumps(meta)
    if type(value) in _PLAIN:
        return (
            _FINISHED, ok, value, None, class_path, trace, started, finished,
            retry_in, meta_json,
        )  # fmt: skip
    try:
        blob = pickle.dumps(value, PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - the value, not the worker, fails
        error = ReturnValueError(
            f"Task {task_path} returned a value that cannot be pickled, so it cannot "
            "cross from the worker process to the parent "
            f"({type(value).__qualname__}): {type(exc).__name__}: {exc}"
        )
        failed = failure(error, started, finished, cause=exc)
        return (
            _FINISHED, False, None, None, failed.error_class_path, failed.traceback,
            started, finished, None, meta_json,
        )  # fmt: skip
    return (
        _FINISHED, ok, None, blob, class_path, trace, started, finished,
        retry_in, meta_json,
    )  # fmt: skip


# -- the parent's side --------------------------------------------------------------


def decode(payload: bytes) -> list[Message]:
    """The messages of one report, in order; ``BadReport`` if it is not a report."""
    try:
        parts = pickle.loads(payload)
        messages: list[Message] = []
        for part in parts:
            kind = part[0]
            if kind == _STARTED:
                messages.append(Started(part[1]))
            elif kind == _FINISHED:
                messages.append(Finished(*part[1:]))
            elif kind == _METADATA:
                messages.append(Metadata(part[1]))
            elif kind == _READY:
                messages.append(Ready())
            else:
                raise ValueError(f"unknown message kind {kind!r}")
    except Exception as exc:
        raise BadReport(
            f"a report of {len(payload)} bytes could not be read "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return messages
