"""Settings of the example project: two task backends and a cache both can reach.

``default`` runs I/O-bound tasks on threads inside the web process; ``cpu`` runs
CPU-bound tasks in worker processes. Worker processes are started with
``forkserver`` and set Django up from ``DJANGO_SETTINGS_MODULE``, so everything a
task needs must come from this module (not from a test's ``override_settings``).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-a-secret")
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = ["jobs"]
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

TASKS = {
    # I/O-bound work (mail, HTTP calls): threads in the web process.
    "default": {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "OPTIONS": {"MAX_WORKERS": 4, "MAX_RESULTS": 500},
    },
    # CPU-bound work: worker processes, so it runs in parallel with the web
    # process instead of taking turns on its GIL. TIMEOUT ends runaway tasks.
    "cpu": {
        "BACKEND": "django_tasks_local.ProcessPoolBackend",
        "OPTIONS": {"MAX_WORKERS": 2, "TIMEOUT": 120},
    },
}

# Progress reports travel through the cache. A file cache is one every process on
# this machine can read: a task running in a worker process writes, the web
# process reads. LocMemCache would not do for that (each process has its own).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.environ.get("EXAMPLE_CACHE_DIR", str(BASE_DIR / ".cache")),
    }
}

# Mail goes to the console while developing; Django's test runner swaps in an
# in-memory outbox.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "example@localhost"
