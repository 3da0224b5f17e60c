"""A URL for tests that serve a request through Django's test client."""

from django.http import HttpResponse
from django.urls import path


def ping(request):
    return HttpResponse("pong")


urlpatterns = [path("ping/", ping)]
