"""The URLs of the demo's board (``demo/web.py``): the admin, and a front door
that logs the browser in as the demo's superuser."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse


def enter(request: HttpRequest) -> HttpResponse:
    """Log the browser in as the demo's superuser and show the board."""
    user, _ = get_user_model().objects.get_or_create(
        username="demo", defaults={"is_staff": True, "is_superuser": True}
    )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(reverse("admin:django_tasks_local_taskrecord_board"))


urlpatterns = [path("", enter), path("admin/", admin.site.urls)]
