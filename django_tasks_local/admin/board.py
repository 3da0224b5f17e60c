"""The live board: per alias what waits, runs and finished lately, which
processes run it, and the latest tasks, refreshed in place once a second.

::

    board/        the page: the admin's frame around the first rendering
    board/live/   the same part alone (server-rendered HTML); live.js fetches
                  it every second and swaps it in, with no reload

The part costs a few indexed queries per database alias (``catalog``) and a
pass over this process's results per memory alias. It enqueues nothing and
starts no pool: reading a backend's runtime only makes its store.
"""

from __future__ import annotations

from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from .. import catalog
from .results import _context, _url

#: Milliseconds between two refreshes of the board in the browser.
REFRESH_MS = 1000
#: How many of the latest tasks, and of those running now, the board lists.
LATEST = 15


def _board_context(model_admin: ModelAdmin, request: HttpRequest) -> dict:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    now = timezone.now()
    return _context(
        model_admin,
        request,
        title="Live board",
        now=now,
        states=catalog.alias_states(now),
        running=catalog.latest(LATEST, running=True),
        latest=catalog.latest(LATEST),
        live_url=_url(model_admin, "board_live"),
        refresh_ms=REFRESH_MS,
    )


def page(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    return TemplateResponse(
        request,
        "admin/django_tasks_local/board.html",
        _board_context(model_admin, request),
    )


def live(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    return TemplateResponse(
        request,
        "admin/django_tasks_local/board_live.html",
        _board_context(model_admin, request),
    )
