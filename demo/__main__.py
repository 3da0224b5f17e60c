"""``python -m demo`` (``make demo``): a live tour of django-tasks-local.

Real Django settings, given in code with ``settings.configure()``; everything
below uses the package's public API. Worker processes started with forkserver or
spawn import modules again, so all the work stays under the ``__main__`` guard.
"""

from __future__ import annotations

import os
import sys
import tempfile

import django
from django.conf import settings


def configure(cache_dir: str) -> None:
    settings.configure(
        USE_TZ=True,
        TASKS={
            # I/O-bound work on threads of this process.
            "default": {
                "BACKEND": "django_tasks_local.ThreadPoolBackend",
                "OPTIONS": {"MAX_WORKERS": 4},
            },
            # CPU-bound work in worker processes, one per core here.
            "cpu": {
                "BACKEND": "django_tasks_local.ProcessPoolBackend",
                "OPTIONS": {"MAX_WORKERS": 2},
            },
            # Tasks that must not run for long: a worker past TIMEOUT is ended.
            "limited": {
                "BACKEND": "django_tasks_local.ProcessPoolBackend",
                "OPTIONS": {"MAX_WORKERS": 1, "TIMEOUT": 1.5},
            },
            # A single worker, so that priority decides what runs next.
            "serial": {
                "BACKEND": "django_tasks_local.ThreadPoolBackend",
                "OPTIONS": {"MAX_WORKERS": 1},
            },
        },
        # Progress reports go through the cache: a file cache, so that worker
        # processes and this one read and write the same entries.
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": cache_dir,
            }
        },
        # The board shows every failure with its error; the log lines for failed
        # tasks and lost workers would only repeat it (and break the live board).
        LOGGING={
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {
                "django.tasks": {"level": "CRITICAL"},
                "django_tasks_local": {"level": "CRITICAL"},
            },
        },
    )
    django.setup()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="django-tasks-local-demo-") as cache_dir:
        configure(cache_dir)
        from demo.tour import Tour

        # Redraw in place only on a real terminal; a pipe or a CI log gets one
        # line per change.
        live = sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
        return Tour(sys.stdout, live=live).run()


if __name__ == "__main__":
    sys.exit(main())
