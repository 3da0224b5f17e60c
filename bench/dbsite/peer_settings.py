"""django-tasks-db (``DatabaseBackend`` and its ``db_worker`` command), set up
as its README says: the app installed, the backend as ``default``."""

from bench.dbsite.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]  # noqa: F405

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
