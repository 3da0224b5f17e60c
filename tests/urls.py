"""The test project's URLs: the admin, where the task-result pages live, and a
plain view for tests that serve a request through Django's test client."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import path


def ping(request):
    return HttpResponse("pong")


urlpatterns = [path("admin/", admin.site.urls), path("ping/", ping)]
