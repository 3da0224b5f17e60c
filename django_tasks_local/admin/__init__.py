"""The admin of django_tasks_local: task results, their actions, and the live
board, for staff with the model's permissions.

``TaskRecord`` is registered so that the admin's index, its permissions
(view, add, change, delete) and its URLs exist, but its pages are this
package's own (``results.py``, ``board.py``): they read through ``catalog``,
so the same pages list the database store's rows (every process's) and the
memory store's results (this process's), which no queryset could hold.
``WorkerProcess`` gets a plain read-only admin.

Permissions: every page needs view (or change); retrying a task needs add (it
makes a new task result), cancelling change, deleting delete. Every action is a
POST, under the admin's CSRF protection.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from ..models import TaskRecord, WorkerProcess
from . import board, results


@admin.register(TaskRecord)
class TaskRecordAdmin(admin.ModelAdmin):
    """Task results: a list with filters, a detail page, actions, the board."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Results are made by enqueuing, never by a form (retry checks the add
        permission itself)."""
        return False

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("", view(self.changelist_view), name=f"{name}_changelist"),
            path("board/", view(self.board_view), name=f"{name}_board"),
            path("board/live/", view(self.board_live_view), name=f"{name}_board_live"),
            path("<str:object_id>/", view(self.change_view), name=f"{name}_change"),
            path(
                "<str:object_id>/<str:action>/",
                view(self.action_view),
                name=f"{name}_action",
            ),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return results.changelist(self, request)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return results.detail(self, request, object_id)

    def action_view(
        self, request: HttpRequest, object_id: str, action: str
    ) -> HttpResponse:
        return results.act(self, request, object_id, action)

    def board_view(self, request: HttpRequest) -> HttpResponse:
        return board.page(self, request)

    def board_live_view(self, request: HttpRequest) -> HttpResponse:
        return board.live(self, request)


@admin.register(WorkerProcess)
class WorkerProcessAdmin(admin.ModelAdmin):
    """The processes running database-store pools, with their heartbeats:
    read-only (each process writes its own row)."""

    list_display = ("process_id", "alias", "host", "pid", "started_at", "heartbeat_at")
    list_filter = ("alias", "host")
    search_fields = ("process_id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
