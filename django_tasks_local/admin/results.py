"""The admin's task-result pages: a list with filters and search by id, a
detail page with everything a result holds, and the actions (retry, cancel,
delete), one at a time from the detail page or on a selection from the list.

The pages read through ``catalog`` and act through ``operations``: the same
code for both stores, and nothing the command does not do too.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    QueryDict,
)
from django.tasks.exceptions import TaskResultDoesNotExist
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from .. import catalog, operations
from ..catalog import FAILED, FINISHED, READY, RUNNING, SUCCESSFUL, Query, Stored

#: Results per page of the list.
PAGE_SIZE = 50
STATUSES = (READY, RUNNING, SUCCESSFUL, FAILED)

#: Each action: the permission it needs, and what it is called.
ACTIONS = {
    "retry": ("add", "Retry"),
    "cancel": ("change", "Cancel"),
    "delete": ("delete", "Delete"),
}


def allowed(model_admin: ModelAdmin, request: HttpRequest, action: str) -> bool:
    """Whether the user holds the model's permission that ``action`` needs."""
    opts = model_admin.opts
    permission = ACTIONS[action][0]
    return request.user.has_perm(f"{opts.app_label}.{permission}_{opts.model_name}")


def _url(model_admin: ModelAdmin, name: str, *args: str) -> str:
    opts = model_admin.opts
    return reverse(
        f"admin:{opts.app_label}_{opts.model_name}_{name}",
        args=args,
        current_app=model_admin.admin_site.name,
    )


def _context(model_admin: ModelAdmin, request: HttpRequest, **values: Any) -> dict:
    """What every page of ours gives its template, besides its own values."""
    infos = catalog.aliases()
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "app_label": model_admin.opts.app_label,
        "memory_aliases": [info.alias for info in infos if not info.shared],
        "database_aliases": [info.alias for info in infos if info.shared],
        "pid": os.getpid(),
        "list_url": _url(model_admin, "changelist"),
        "board_url": _url(model_admin, "board"),
        **values,
    }


# -- the list ------------------------------------------------------------------------


def _query(params: QueryDict) -> Query:
    def value(name: str) -> str | None:
        text = params.get(name, "").strip()
        return text or None

    status = value("status")
    return Query(
        alias=value("alias"),
        status=status if status in STATUSES else None,
        queue=value("queue"),
        task=value("task"),
        search=value("q"),
    )


def _with(params: QueryDict, **changes: str | None) -> str:
    """The list's query string with ``changes`` (None removes a parameter);
    any change of filter goes back to the first page."""
    merged = {key: params.get(key) for key in params if key != "p"}
    merged.update(changes)
    kept = {key: value for key, value in merged.items() if value}
    return "?" + urlencode(kept) if kept else "?"


def _choices(params: QueryDict, name: str, values: list[str]) -> list[dict]:
    current = params.get(name) or None
    shown = list(values) if current is None or current in values else [*values, current]
    return [
        {"label": "All", "url": _with(params, **{name: None}), "selected": not current}
    ] + [
        {"label": v, "url": _with(params, **{name: v}), "selected": v == current}
        for v in shown
    ]


def changelist(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    if request.method == "POST":
        return _act_on_selection(model_admin, request)
    params = request.GET
    query = _query(params)
    try:
        page = max(1, int(params.get("p", "1")))
    except ValueError:
        page = 1
    found, total = catalog.find_results(query, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    infos = catalog.aliases()
    queues = sorted({queue for info in infos for queue in info.queues})
    filters = [
        ("status", _choices(params, "status", list(STATUSES))),
        ("alias", _choices(params, "alias", [info.alias for info in infos])),
        ("queue", _choices(params, "queue", queues)),
        ("task", _choices(params, "task", catalog.task_paths())),
    ]
    pages = max(1, -(-total // PAGE_SIZE))
    context = _context(
        model_admin,
        request,
        title="Task results",
        results=found,
        total=total,
        filters=filters,
        search=query.search or "",
        hidden={k: v for k, v in params.items() if k not in ("q", "p")},
        page=page,
        pages=pages,
        previous_url=_with(params, p=str(page - 1)) if page > 1 else None,
        next_url=_with(params, p=str(page + 1)) if page < pages else None,
        actions=[
            (name, label)
            for name, (_, label) in ACTIONS.items()
            if allowed(model_admin, request, name)
        ],
        filtered=query != Query(),
    )
    return TemplateResponse(request, "admin/django_tasks_local/results.html", context)


def _act_on_selection(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """An action on the results selected in the list: each result gets it, or
    is named in a message saying why not."""
    action = request.POST.get("action", "")
    selected = request.POST.getlist("_selected")
    back = HttpResponseRedirect(request.get_full_path())
    if action not in ACTIONS:
        messages.warning(request, "Choose an action.")
        return back
    if not allowed(model_admin, request, action):
        raise PermissionDenied
    if not selected:
        messages.warning(request, "Select the task results to act on.")
        return back
    if action == "delete":
        deleted, refused = operations.delete(selected)
        if deleted:
            messages.success(request, f"Deleted {len(deleted)} task result(s).")
        if refused:
            messages.warning(
                request,
                f"Not deleted, since not finished (or gone): {', '.join(refused)}.",
            )
        return back
    for result_id in selected:
        _apply(model_admin, request, action, result_id)
    return back


# -- one result ----------------------------------------------------------------------


def _find(result_id: str) -> Stored:
    try:
        return catalog.find(result_id)
    except TaskResultDoesNotExist:
        raise Http404(
            f"No task result {result_id}: unknown, deleted, or (memory store) "
            "kept by another process."
        ) from None


def _seconds(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def detail(
    model_admin: ModelAdmin, request: HttpRequest, result_id: str
) -> HttpResponse:
    """Everything a result holds; while it is not finished the page refreshes
    its own part (``?live=1`` renders that part alone)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    stored = _find(result_id)
    context = _context(
        model_admin,
        request,
        title=f"Task result {stored.id}",
        result=stored,
        live_url=request.path + "?live=1",
        queued_for=_seconds(stored.enqueued_at, stored.started_at),
        ran_for=_seconds(stored.last_attempted_at, stored.finished_at),
        retries=[
            (new_id, _url(model_admin, "change", new_id))
            for new_id in stored.retried_as
        ],
        can_retry=stored.status == FAILED and allowed(model_admin, request, "retry"),
        can_cancel=stored.status == READY
        and stored.claimed_by is None
        and allowed(model_admin, request, "cancel"),
        can_delete=stored.status in FINISHED
        and allowed(model_admin, request, "delete"),
        retry_url=_url(model_admin, "action", stored.id, "retry"),
        cancel_url=_url(model_admin, "action", stored.id, "cancel"),
        delete_url=_url(model_admin, "action", stored.id, "delete"),
    )
    template = (
        "admin/django_tasks_local/detail_live.html"
        if request.GET.get("live")
        else "admin/django_tasks_local/detail.html"
    )
    return TemplateResponse(request, template, context)


def act(
    model_admin: ModelAdmin, request: HttpRequest, result_id: str, action: str
) -> HttpResponse:
    """One action on one result, from its detail page: POST only."""
    if action not in ACTIONS:
        raise Http404(f"No action {action!r}.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not (
        model_admin.has_view_permission(request)
        and allowed(model_admin, request, action)
    ):
        raise PermissionDenied
    _find(result_id)
    if action == "delete":
        deleted, _ = operations.delete([result_id])
        if deleted:
            messages.success(request, f"Deleted task result {result_id}.")
            return HttpResponseRedirect(_url(model_admin, "changelist"))
        messages.error(request, f"Task {result_id} has not finished: not deleted.")
    else:
        _apply(model_admin, request, action, result_id)
    return HttpResponseRedirect(_url(model_admin, "change", result_id))


def _apply(
    model_admin: ModelAdmin, request: HttpRequest, action: str, result_id: str
) -> None:
    """Retry or cancel one result, and say how it went in a message."""
    try:
        if action == "retry":
            new = operations.retry(result_id)
            messages.success(
                request,
                format_html(
                    'Task {} retried as <a href="{}">{}</a>.',
                    result_id,
                    _url(model_admin, "change", new.id),
                    new.id,
                ),
            )
        else:
            operations.cancel(result_id)
            messages.success(request, f"Task {result_id} cancelled.")
    except operations.Refused as refused:
        messages.error(request, str(refused))
    except TaskResultDoesNotExist:
        messages.error(request, f"No task result {result_id}.")
