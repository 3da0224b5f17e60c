"""Django settings for the test suite: a real SQLite file, real task backends."""

import os
import tempfile
from pathlib import Path

SECRET_KEY = "tests-only"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "tests.app",
]
# One file per test run, so parallel runs of the suite do not share a database.
_DB_DIR = Path(os.environ.get("TESTS_DB_DIR", tempfile.gettempdir()))
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(_DB_DIR / f"django-tasks-local-tests-{os.getpid()}.sqlite3"),
        "TEST": {
            "NAME": str(_DB_DIR / f"django-tasks-local-test-db-{os.getpid()}.sqlite3")
        },
    }
}
TASKS = {
    "default": {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "QUEUES": ["default", "other"],
        "OPTIONS": {"MAX_WORKERS": 2},
    },
}
LOGGING_CONFIG = None
