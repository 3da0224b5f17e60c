"""Views that enqueue tasks and return at once, and views that report on them.

Results live in the site's database (the backends use ``STORE = "database"``),
so any server process answers a status request for any task, whichever process
enqueued it or runs it.
"""

from __future__ import annotations

from contextlib import suppress
from uuid import UUID

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.tasks import task_backends
from django.tasks.base import TaskResult
from django.tasks.exceptions import TaskResultDoesNotExist
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from django_tasks_local import wait

from . import progress
from .tasks import build_report, count_primes, send_welcome_email

#: The longest a status request may block with ``?wait=`` (seconds). It holds a
#: server thread that long, so keep it short.
MAX_WAIT = 30.0


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "jobs/index.html")


@require_POST
def start_welcome_email(request: HttpRequest) -> JsonResponse:
    """API style: enqueue, answer 202 with the id and where to ask about it."""
    address = request.POST.get("address", "").strip()
    if "@" not in address:
        return JsonResponse(
            {"error": "address: an email address is needed"}, status=400
        )
    result = send_welcome_email.enqueue(address)
    return JsonResponse(_describe(result), status=202)


@require_POST
def start_report(request: HttpRequest) -> HttpResponse:
    """Form style: enqueue, then redirect to the page that follows the task."""
    try:
        rows = int(request.POST.get("rows", ""))
    except ValueError:
        rows = 0
    if not 1 <= rows <= 100:
        return HttpResponse("rows: a whole number from 1 to 100", status=400)
    result = build_report.enqueue(rows=rows, seconds_per_row=0.2)
    response = HttpResponseRedirect(_status_page(result))
    response.status_code = 303  # See Other: follow with a GET
    return response


@require_POST
def start_primes(request: HttpRequest) -> HttpResponse:
    """Form style, on the process pool: ``count_primes`` names ``backend="cpu"``."""
    try:
        limit = int(request.POST.get("limit", ""))
    except ValueError:
        limit = 0
    if not 10 <= limit <= 5_000_000:
        return HttpResponse("limit: a whole number from 10 to 5000000", status=400)
    result = count_primes.enqueue(limit)
    response = HttpResponseRedirect(_status_page(result))
    response.status_code = 303
    return response


@require_GET
def status_page(request: HttpRequest, alias: str, result_id: UUID) -> HttpResponse:
    """The task's status and result; while it runs, a small script keeps the page
    up to date from ``status_json``."""
    result = _get_result(alias, result_id)
    return render(request, "jobs/status.html", {"task": _describe(result)})


@require_GET
def status_json(request: HttpRequest, alias: str, result_id: UUID) -> JsonResponse:
    """The task's status as JSON. ``?wait=<seconds>`` blocks until the task has
    finished or the seconds have passed (a long poll), then answers."""
    result = _get_result(alias, result_id)
    seconds = _wait_seconds(request)
    if seconds and not result.is_finished:
        with suppress(TimeoutError):  # then answer with the current status
            wait(result, timeout=seconds)
    return JsonResponse(_describe(result))


def _get_result(alias: str, result_id: UUID) -> TaskResult:
    if alias not in settings.TASKS:
        raise Http404(f"No task backend {alias!r}.")
    try:
        return task_backends[alias].get_result(str(result_id))
    except TaskResultDoesNotExist:
        raise Http404(f"No task result {result_id} in {alias!r}.") from None


def _wait_seconds(request: HttpRequest) -> float:
    try:
        seconds = float(request.GET.get("wait", 0))
    except ValueError:
        return 0.0
    return min(max(seconds, 0.0), MAX_WAIT)


def _status_page(result: TaskResult) -> str:
    return reverse("status_page", args=[result.backend, result.id])


def _describe(result: TaskResult) -> dict:
    """What the page and API clients need to know about a result, as JSON."""
    described = {
        "id": result.id,
        "task": result.task.name,
        "backend": result.backend,
        "status": result.status,
        "finished": result.is_finished,
        "enqueued_at": result.enqueued_at,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "worker": result.worker_ids[-1] if result.worker_ids else None,
        "progress": progress.read(result),
        "result": result.return_value if result.status == "SUCCESSFUL" else None,
        "error": None,
        "status_url": reverse("status_json", args=[result.backend, result.id]),
        "page_url": _status_page(result),
    }
    if result.errors:
        error = result.errors[-1]
        # The last line of a traceback is "ExceptionClass: message".
        described["error"] = error.traceback.strip().splitlines()[-1]
    return described
