"""What every database-store contender's settings share.

The database is a SQLite file in ``BENCH_DB_FOLDER``, in WAL mode, set the way
Django's documentation shows (``init_command``); everything else is Django's
default for SQLite: a 5-second busy timeout, ``DEFERRED`` transactions,
``synchronous = FULL``, ``CONN_MAX_AGE = 0``. A contender's settings module
star-imports this one and adds its app to ``INSTALLED_APPS`` and its ``TASKS``.
"""

import os
from pathlib import Path

FOLDER = Path(os.environ["BENCH_DB_FOLDER"])

DEBUG = False
USE_TZ = True
SECRET_KEY = "benchmark-only"

#: The counter of "database is locked" errors; each contender adds its own app.
INSTALLED_APPS = ["bench.dbsite"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(FOLDER / "db.sqlite3"),
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;"},
    }
}

# As in the rest of the benchmark: Django's task log receivers stay connected,
# the ``django.tasks`` logger is at WARNING.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"django.tasks": {"level": "WARNING"}},
}
