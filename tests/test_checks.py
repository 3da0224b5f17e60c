"""System checks: an unknown option name is a warning that names it."""

from django.core import checks
from django.tasks import task_backends
from django.tasks.checks import check_tasks
from django.test import override_settings

THREAD = "django_tasks_local.ThreadPoolBackend"


def test_unknown_option_is_a_warning_naming_it():
    with override_settings(
        TASKS={"mail": {"BACKEND": THREAD, "OPTIONS": {"MAX_WORKER": 4}}}
    ):
        messages = list(check_tasks())  # what `manage.py check` runs for tasks
    ours = [m for m in messages if m.id == "django_tasks_local.W001"]
    assert len(ours) == 1
    warning = ours[0]
    assert warning.level == checks.WARNING
    assert "'MAX_WORKER'" in warning.msg
    assert "'mail'" in warning.msg
    assert "MAX_WORKERS" in warning.hint


def test_process_only_options_are_unknown_to_the_thread_pool():
    with override_settings(
        TASKS={"io": {"BACKEND": THREAD, "OPTIONS": {"START_METHOD": "spawn"}}}
    ):
        messages = task_backends["io"].check()
    assert [m.id for m in messages] == ["django_tasks_local.W001"]
    assert "'START_METHOD'" in messages[0].msg


def test_known_options_pass_the_checks():
    with override_settings(
        TASKS={
            "io": {"BACKEND": THREAD, "OPTIONS": {"MAX_WORKERS": 2, "MAX_RESULTS": 5}}
        }
    ):
        assert task_backends["io"].check() == []
