"""Settings of the example project: two task backends on the database store.

``default`` runs I/O-bound tasks on threads inside the web processes; ``cpu``
runs CPU-bound tasks in worker processes. Both keep their results and their
queue in the site's own database (``STORE = "database"``), so every server
process answers for every task, and queued tasks survive a restart. Worker
processes are started with ``forkserver`` and set Django up from
``DJANGO_SETTINGS_MODULE``, so everything a task needs must come from this
module (not from a test's ``override_settings``).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-a-secret")
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

# django_tasks_local holds the table of the database store (`manage.py migrate`).
INSTALLED_APPS = ["django_tasks_local", "jobs"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.csrf"]},
    }
]
USE_TZ = True
TIME_ZONE = "UTC"

# One SQLite file that every process of the site shares: the web processes and
# their workers. WAL mode lets readers go on while one process writes, as the
# database store's system check asks; IMMEDIATE takes the write lock when a
# transaction begins, so a view that enqueues in a transaction never fails to
# upgrade a read lock. The test database is a file too (not SQLite's in-memory
# default), for the store's own threads to share it.
DATABASE_FILE = Path(os.environ.get("EXAMPLE_DATABASE", BASE_DIR / "db.sqlite3"))
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATABASE_FILE,
        "TEST": {"NAME": DATABASE_FILE.with_name(f"test-{DATABASE_FILE.name}")},
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",
        },
    }
}

TASKS = {
    # I/O-bound work (mail, HTTP calls): threads in each web process.
    "default": {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "OPTIONS": {"STORE": "database", "MAX_WORKERS": 4, "MAX_RESULTS": 500},
    },
    # CPU-bound work: worker processes, so it runs in parallel with the web
    # process instead of taking turns on its GIL. TIMEOUT ends runaway tasks.
    "cpu": {
        "BACKEND": "django_tasks_local.ProcessPoolBackend",
        "OPTIONS": {"STORE": "database", "MAX_WORKERS": 2, "TIMEOUT": 120},
    },
}

# Mail goes to the console while developing; Django's test runner swaps in an
# in-memory outbox.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "example@localhost"
