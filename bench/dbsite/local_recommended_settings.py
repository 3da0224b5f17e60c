"""As ``local_settings``, with SQLite set as this package's system check
recommends (``django_tasks_local.checks``): ``synchronous=NORMAL`` beside WAL
mode, so a commit no longer waits for the disk (WAL mode keeps the database
consistent after a crash; only the last commits may be lost at a power cut),
and ``IMMEDIATE`` transactions. The other contenders run with Django's default
``synchronous=FULL``: this row is the setting a site of this package is told to
use, not a like-for-like comparison."""

from bench.dbsite.local_settings import *  # noqa: F403

#: ``django_tasks_local.checks.WAL_INIT_COMMAND`` (a test keeps them equal: a
#: settings module imports no app).
WAL_INIT_COMMAND = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"

DATABASES = {
    "default": {
        **DATABASES["default"],  # noqa: F405
        "OPTIONS": {"init_command": WAL_INIT_COMMAND, "transaction_mode": "IMMEDIATE"},
    }
}
