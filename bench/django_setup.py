"""Django settings for the benchmark, given in code: a real, minimal project.

Aliases (one pool each, so cases do not disturb each other):

- ``threads``: ThreadPoolBackend, 4 workers (throughput, enqueue time, latency,
  deep queues);
- ``threads2``: ThreadPoolBackend, 2 workers (the CPU-bound comparison);
- ``memory``: ThreadPoolBackend keeping every result, for bytes per result;
- ``immediate``: Django's own ``ImmediateBackend``;
- ``processes``: ProcessPoolBackend, 2 workers, when the package provides it.
"""

from __future__ import annotations

import django
from django.conf import settings

import django_tasks_local

#: The ``MAX_RESULTS`` of the ``memory`` alias: more than any size ever stores,
#: so no result is evicted while memory is measured.
MEMORY_MAX_RESULTS = 1_000_000


def process_pool_available() -> bool:
    """Whether this version of the package has ``ProcessPoolBackend``."""
    return hasattr(django_tasks_local, "ProcessPoolBackend")


def configure() -> None:
    """Configure and set up Django once for this process."""
    if settings.configured:
        return
    thread = "django_tasks_local.ThreadPoolBackend"
    tasks = {
        "default": {"BACKEND": thread, "OPTIONS": {"MAX_WORKERS": 4}},
        "threads": {"BACKEND": thread, "OPTIONS": {"MAX_WORKERS": 4}},
        "threads2": {"BACKEND": thread, "OPTIONS": {"MAX_WORKERS": 2}},
        "memory": {
            "BACKEND": thread,
            "OPTIONS": {"MAX_WORKERS": 4, "MAX_RESULTS": MEMORY_MAX_RESULTS},
        },
        "immediate": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
    }
    if process_pool_available():
        tasks["processes"] = {
            "BACKEND": "django_tasks_local.ProcessPoolBackend",
            "OPTIONS": {"MAX_WORKERS": 2},
        }
    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        SECRET_KEY="benchmark-only",
        INSTALLED_APPS=[],
        # Configured as a site would have it, but never opened by the no-op
        # tasks: close_old_connections() around each task then has one alias to
        # look at, as in a real project.
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        },
        TASKS=tasks,
    )
    django.setup()
