"""Django settings for the test suite: a real SQLite file, real task backends."""

import os
import tempfile
from pathlib import Path

SECRET_KEY = "tests-only"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "tests.app",
    "django_tasks_local",
]
# The admin (task results, the live board), for the tests of its pages.
ROOT_URLCONF = "tests.urls"
# Django's test client, also in the processes the tests start (which do not run
# Django's test set-up), and the live server of the browser tests.
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
# One SQLite file per test run, so parallel runs do not share a database. The run
# id is kept in the environment, and the test database is the same file as NAME:
# worker processes started with spawn or forkserver import these settings afresh,
# without the test runner's changes, and must still open the test database.
_RUN_ID = os.environ.setdefault("DJANGO_TASKS_LOCAL_TEST_RUN", str(os.getpid()))
_DB_FILE = str(Path(tempfile.gettempdir()) / f"django-tasks-local-{_RUN_ID}.sqlite3")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _DB_FILE,
        "TEST": {"NAME": _DB_FILE},
        # As the database store's system check asks: several processes share it.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",
        },
    }
}
TASKS = {
    "default": {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "QUEUES": ["default", "other"],
        "OPTIONS": {"MAX_WORKERS": 2},
    },
    # Tasks that only a process pool can run (a sync task with a timeout) are
    # defined on this alias.
    "cpu": {
        "BACKEND": "django_tasks_local.ProcessPoolBackend",
        "OPTIONS": {"MAX_WORKERS": 2, "START_METHOD": "forkserver"},
    },
}
# Processes the tests start (the worker command) get the default alias on the
# database store this way; tests in this process use override_settings.
if os.environ.get("DJANGO_TASKS_LOCAL_TEST_STORE") == "database":
    TASKS["default"]["OPTIONS"] |= {"STORE": "database", "POLL_INTERVAL": 0.1}
LOGGING_CONFIG = None
