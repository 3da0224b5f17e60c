"""Django settings for the benchmark, given in code: a real, minimal project.

Aliases (one pool each, so cases do not disturb each other):

- ``threads``: ThreadPoolBackend, 4 workers (throughput, enqueue time, latency,
  deep queues);
- ``threads2``: ThreadPoolBackend, 2 workers (the CPU-bound comparison);
- ``memory``: ThreadPoolBackend keeping every result, for bytes per result;
- ``immediate``: Django's own ``ImmediateBackend``;
- ``processes``: ProcessPoolBackend, 2 workers, when the package provides it.

Logging: Django's own receivers of the task signals stay connected and run for
every signal, but the ``django.tasks`` logger is set to WARNING. At Django's
default level (INFO) those receivers build two ``LogRecord``s per task (about
9 µs each on a 2-core machine), which by itself costs more than a whole task
on a raw ``ThreadPoolExecutor``, which logs nothing; the throughput case measures
that configuration too, as its own row.
"""

from __future__ import annotations

import django
from django.conf import settings

import django_tasks_local

#: The ``MAX_RESULTS`` of the ``memory`` alias: more than any size ever stores,
#: so no result is evicted while memory is measured.
MEMORY_MAX_RESULTS = 1_000_000


#: Level of the ``django.tasks`` logger during the benchmark (see above).
TASK_LOG_LEVEL = "WARNING"


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
        LOGGING={
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {"django.tasks": {"level": TASK_LOG_LEVEL}},
        },
    )
    django.setup()
