"""This package's ``ThreadPoolBackend`` with 4 workers and the database store, on
the SQLite file exactly as every contender gets it (``settings.py``: Django's
defaults plus WAL mode)."""

from bench.dbsite.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_local"]  # noqa: F405

TASKS = {
    "default": {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "OPTIONS": {"MAX_WORKERS": 4, "STORE": "database"},
    }
}
