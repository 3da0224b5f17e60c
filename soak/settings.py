"""Django settings of the soak test's processes, from the environment the runner
sets: SOAK_DIR (its folder), SOAK_DATABASE ("sqlite", or "postgres" with the PG*
variables), SOAK_WORKERS (threads per process), SOAK_LEASE (seconds)."""

import os

SECRET_KEY = "soak-only"
USE_TZ = True
INSTALLED_APPS = ["django_tasks_local"]
_DIR = os.environ["SOAK_DIR"]
if os.environ.get("SOAK_DATABASE", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", ""),
            "PORT": os.environ.get("PGPORT", ""),
            "USER": os.environ.get("PGUSER", ""),
            "NAME": os.environ["PGDATABASE"],
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(_DIR, "soak.sqlite3"),
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
TASKS = {
    "default": {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "OPTIONS": {
            "STORE": "database",
            "MAX_WORKERS": int(os.environ.get("SOAK_WORKERS", "4")),
            "LEASE": float(os.environ.get("SOAK_LEASE", "5")),
            "POLL_INTERVAL": 0.1,
            "MAX_RESULTS": None,
        },
    }
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_tasks_local": {"handlers": ["stderr"], "level": "WARNING"},
        "django.tasks": {"handlers": ["stderr"], "level": "CRITICAL"},
    },
}
