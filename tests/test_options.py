"""Options: defaults, validation when the backend is created, clear messages."""

import pytest
from django.tasks import task_backends
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTaskBackend
from django.test import override_settings

from django_tasks_local import ThreadPoolBackend

THREAD = "django_tasks_local.ThreadPoolBackend"


def make(options, alias="custom"):
    """Create the backend the way Django does, from TASKS."""
    with override_settings(TASKS={alias: {"BACKEND": THREAD, "OPTIONS": options}}):
        return task_backends[alias]


def test_defaults():
    backend = make({})
    assert isinstance(backend, ThreadPoolBackend)
    assert backend.pool_options.max_workers == 10
    assert backend.pool_options.max_results == 1000


def test_options_are_read():
    backend = make({"MAX_WORKERS": 3, "MAX_RESULTS": 7})
    assert backend.pool_options.max_workers == 3
    assert backend.pool_options.max_results == 7


def test_no_options_key_means_defaults():
    with override_settings(TASKS={"plain": {"BACKEND": THREAD}}):
        backend = task_backends["plain"]
    assert backend.pool_options.max_workers == 10


@pytest.mark.parametrize("name", ["MAX_WORKERS", "MAX_RESULTS"])
@pytest.mark.parametrize(
    "value", [0, -1, "4", 2.0, 2.5, True, False, None, [1]], ids=repr
)
def test_bad_value_names_alias_option_and_value(name, value):
    with pytest.raises(InvalidTaskBackend) as caught:
        make({name: value}, alias="reports")
    message = str(caught.value)
    assert "'reports'" in message
    assert name in message
    assert repr(value) in message
    assert "int >= 1" in message


@pytest.mark.parametrize("value", [5, 0.5, None, "10"], ids=repr)
def test_timeout_refused_because_a_thread_cannot_be_stopped(value):
    with pytest.raises(InvalidTaskBackend) as caught:
        make({"TIMEOUT": value}, alias="io")
    message = str(caught.value)
    assert "'io'" in message
    assert "TIMEOUT" in message
    assert repr(value) in message
    assert "a thread cannot be stopped" in message


@pytest.mark.parametrize("options", [None, [("MAX_WORKERS", 2)], "MAX_WORKERS=2"])
def test_options_that_are_not_a_dict(options):
    with pytest.raises(InvalidTaskBackend) as caught:
        make(options, alias="odd")
    assert "'odd'" in str(caught.value)
    assert repr(options) in str(caught.value)


def test_subclasses_djangos_base_backend(backend):
    assert isinstance(backend, BaseTaskBackend)


def test_supports_flags_are_all_true(backend):
    assert backend.supports_get_result is True
    assert backend.supports_priority is True
    assert backend.supports_defer is True
    assert backend.supports_async_task is True
