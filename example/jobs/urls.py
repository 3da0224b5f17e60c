from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("tasks/welcome-email/", views.start_welcome_email, name="welcome_email"),
    path("tasks/report/", views.start_report, name="report"),
    path("tasks/primes/", views.start_primes, name="primes"),
    path("tasks/<str:alias>/<uuid:result_id>/", views.status_page, name="status_page"),
    path(
        "tasks/<str:alias>/<uuid:result_id>.json",
        views.status_json,
        name="status_json",
    ),
]
