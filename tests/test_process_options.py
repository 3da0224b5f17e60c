"""ProcessPoolBackend options: validated when the backend is created, nothing
started until the first enqueue."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from django.tasks.exceptions import InvalidTaskBackend

from django_tasks_local import ProcessPoolBackend
from django_tasks_local.options import default_start_method


def make(**options) -> ProcessPoolBackend:
    return ProcessPoolBackend(
        "cpu",
        {"BACKEND": "django_tasks_local.ProcessPoolBackend", "OPTIONS": options},
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TIMEOUT", 0, "a positive number of seconds"),
        ("TIMEOUT", -1.5, "a positive number of seconds"),
        ("TIMEOUT", "5", "a positive number of seconds"),
        ("TIMEOUT", True, "a positive number of seconds"),
        ("TIMEOUT", float("inf"), "a positive number of seconds"),
        ("MAX_TASKS_PER_CHILD", 0, "an int >= 1"),
        ("MAX_TASKS_PER_CHILD", 2.0, "an int >= 1"),
        ("MAX_TASKS_PER_CHILD", "3", "an int >= 1"),
        ("MAX_TASKS_PER_CHILD", True, "an int >= 1"),
        ("MAX_WORKERS", 0, "an int >= 1"),
        ("MAX_RESULTS", 0, "an int >= 1"),
        ("MAX_RESULTS", None, "an int >= 1"),
        ("START_METHOD", "threads", "one of ('fork', 'forkserver', 'spawn')"),
    ],
)
def test_bad_option_names_alias_option_and_value(name, value, expected):
    with pytest.raises(InvalidTaskBackend) as caught:
        make(**{name: value})
    message = str(caught.value)
    assert f"TASKS['cpu']['OPTIONS']['{name}']" in message
    assert expected in message
    assert repr(value) in message


def test_defaults():
    options = make().pool_options
    assert (options.max_workers, options.max_results) == (10, 1000)
    assert options.timeout is None
    assert options.max_tasks_per_child is None
    # Forking a multi-threaded web process can deadlock the child: never the default.
    has_forkserver = "forkserver" in multiprocessing.get_all_start_methods()
    assert options.start_method == ("forkserver" if has_forkserver else "spawn")


@pytest.mark.parametrize("value", [1, 0.25, 1.5], ids=repr)
def test_timeout_is_an_int_or_float_of_seconds(value):
    assert make(TIMEOUT=value).pool_options.timeout == value


def test_good_options_are_parsed_and_start_nothing():
    before = set(threading.enumerate())
    backend = make(TIMEOUT=2, MAX_TASKS_PER_CHILD=5, START_METHOD="spawn")
    options = backend.pool_options
    assert (options.timeout, options.max_tasks_per_child) == (2.0, 5)
    assert options.start_method == "spawn"
    assert make().pool_options.start_method == default_start_method()
    assert set(threading.enumerate()) == before
    assert multiprocessing.active_children() == []


def test_unknown_option_is_a_system_check_warning():
    [warning] = make(MAX_WORKER=3).check()
    assert warning.id == "django_tasks_local.W001"
    assert "'MAX_WORKER'" in warning.msg
