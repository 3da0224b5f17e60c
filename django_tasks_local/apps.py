"""The Django app: the database store's model, its checks, and starting the
database-store pools of a web process with its first request."""

from __future__ import annotations

from django.apps import AppConfig


class TasksLocalConfig(AppConfig):
    name = "django_tasks_local"
    label = "django_tasks_local"
    verbose_name = "Tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_started

        from . import startup

        request_started.connect(
            startup.start_database_pools,
            dispatch_uid="django_tasks_local.start_database_pools",
        )
