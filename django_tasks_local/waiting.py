"""``wait()``: block until one result is finished, without polling."""

from __future__ import annotations

from django.tasks import task_backends
from django.tasks.base import TaskResult

from .backends import LocalBackend
from .metadata import REFRESH_ATTRS


def wait(result: TaskResult, timeout: float | None = None) -> TaskResult:
    """Block until ``result`` is finished, refresh it in place and return it.

    ``timeout`` is in seconds (None: no limit); past it, ``TimeoutError`` is
    raised and ``result`` is left as it was. The caller blocks on an event set
    when the task finishes (after ``task_finished`` was sent), so this costs no
    CPU while waiting. A result of another backend that is already finished (such
    as ``ImmediateBackend``'s) is returned as it is.
    """
    if result.is_finished:
        return result
    backend = task_backends[result.backend]
    if not isinstance(backend, LocalBackend):
        raise TypeError(
            f"wait() works with django_tasks_local backends; alias {result.backend!r} "
            f"uses {type(backend).__qualname__}."
        )
    final = backend.wait_result(result.id, timeout)
    for attr in REFRESH_ATTRS:
        object.__setattr__(result, attr, getattr(final, attr))
    return result
