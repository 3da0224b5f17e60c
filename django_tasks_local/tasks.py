"""The backends' ``task_class``: Django's ``Task`` with the options of this
package, given to Django's own decorator.

::

    @task(max_attempts=5, backoff=exponential(base=2, cap=300), timeout=30)
    def sync_invoice(invoice_id): ...

Django 6.1's ``@task`` forwards extra keyword arguments to the backend's
``task_class``; these names are the ones proposed for Django itself, so a site
can move to Django's own API when it lands. A task defined with them on a
backend that is not ours raises Django's usual ``TypeError``. They are validated
when the task is defined (``LocalBackend.validate_task``); ``.using()`` does not
change them (Django's rule: it only sets the enqueue-time options).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.tasks.base import Task

from .metadata import DJANGO_HAS_METADATA


@dataclass(frozen=True, slots=True, kw_only=True)
class _WithOptions(Task):
    #: Attempts in all, the first included (None: the alias's MAX_ATTEMPTS).
    max_attempts: int | None = None
    #: ``backoff(exception, task_result) -> seconds | None`` between attempts
    #: (None: ``django_tasks_local.exponential()``).
    backoff: Callable[[BaseException, Any], float | None] | None = None
    #: Seconds an attempt may run (None: the alias's TIMEOUT, if any).
    timeout: float | None = None


if DJANGO_HAS_METADATA:  # pragma: no cover - a later Django
    LocalTask = _WithOptions
else:

    @dataclass(frozen=True, slots=True, kw_only=True)
    class LocalTask(_WithOptions):  # type: ignore[no-redef]
        """With ``metadata``, as Django's main branch has it: JSON data stored
        with the result (``Task.using(metadata=...)``, ``task.metadata``)."""

        metadata: dict[str, Any] = field(default_factory=dict, hash=False)

        def using(
            self,
            *,
            priority: int | None = None,
            queue_name: str | None = None,
            run_after: Any = None,
            backend: str | None = None,
            metadata: dict[str, Any] | None = None,
        ) -> Task:
            """Django's ``using()``, and ``metadata``."""
            changes: dict[str, Any] = {}
            for name, value in (
                ("priority", priority),
                ("queue_name", queue_name),
                ("run_after", run_after),
                ("backend", backend),
                ("metadata", metadata),
            ):
                if value is not None:
                    changes[name] = value
            return replace(self, **changes)
