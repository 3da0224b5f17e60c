"""The test project's URLs: the admin, where the task-result pages live."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
