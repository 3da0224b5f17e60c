"""close(): finish running and due tasks, drop deferred ones with one warning,
stop the workers; results stay readable; close again is a no-op; enqueue again
starts a fresh pool."""

import logging
import multiprocessing
import threading
from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus, task_backends
from django.test import override_settings
from django.utils import timezone

from django_tasks_local import TaskDropped, wait
from tests import tasks
from tests.support import DEADLINE


def workers_alive():
    threads = [t for t in threading.enumerate() if t.name.startswith("tasks-default")]
    return threads + multiprocessing.active_children()


def warnings_of(caplog):
    return [
        r
        for r in caplog.records
        if r.name == "django_tasks_local" and r.levelno == logging.WARNING
    ]


@pytest.mark.backend_options(MAX_WORKERS=1)
def test_close_finishes_running_and_due_tasks_and_drops_deferred_ones(
    backend, signals, pipe_gate, caplog
):
    gate = pipe_gate()
    running = tasks.wait_for_gate.enqueue(gate.path, "ran")
    signals.wait_for("started", running.id)
    due = tasks.add.enqueue(2, 3)
    later = timezone.now() + timedelta(hours=1)
    deferred = [tasks.noop.using(run_after=later).enqueue() for _ in range(2)]

    closer = threading.Thread(target=backend.close)
    with caplog.at_level(logging.WARNING, logger="django_tasks_local"):
        closer.start()
        for result in deferred:
            signals.wait_for("finished", result.id)
        # Dropping is done; close() now waits for the running and due tasks.
        assert closer.is_alive()
        assert backend.get_result(due.id).status == TaskResultStatus.READY
        gate.open()
        closer.join(DEADLINE)
    assert not closer.is_alive()
    assert workers_alive() == []

    assert backend.get_result(running.id).return_value == "ran"
    assert backend.get_result(due.id).return_value == 5
    for result in deferred:
        dropped = backend.get_result(result.id)
        assert dropped.status == TaskResultStatus.FAILED
        assert dropped.errors[0].exception_class is TaskDropped
        assert "dropped" in dropped.errors[0].traceback
        assert dropped.started_at is None
        assert dropped.worker_ids == []
        assert [s.name for s in signals.of(result.id)] == ["enqueued", "finished"]
    warnings = warnings_of(caplog)
    assert len(warnings) == 1
    assert "dropped 2 deferred task(s)" in warnings[0].getMessage()
    assert "'default'" in warnings[0].getMessage()


def test_close_again_does_nothing_and_results_stay_readable(backend, caplog):
    result = wait(tasks.add.enqueue(1, 1), timeout=DEADLINE)
    backend.close()
    assert workers_alive() == []
    with caplog.at_level(logging.DEBUG, logger="django_tasks_local"):
        backend.close()
    assert warnings_of(caplog) == []
    assert backend.get_result(result.id).return_value == 2
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_close_with_nothing_enqueued_does_nothing(backend):
    backend.close()
    assert workers_alive() == []


def test_enqueue_after_close_starts_a_fresh_pool(backend):
    first = wait(tasks.whoami.enqueue(), timeout=DEADLINE)
    backend.close()
    assert workers_alive() == []
    second = wait(tasks.whoami.enqueue(), timeout=DEADLINE)
    assert second.status == TaskResultStatus.SUCCESSFUL
    assert workers_alive() != []
    # Both results live in the one store of the alias.
    assert backend.get_result(first.id).status == TaskResultStatus.SUCCESSFUL


def test_close_without_deferred_tasks_logs_no_warning(backend, caplog):
    results = [tasks.add.enqueue(n, n) for n in range(5)]
    with caplog.at_level(logging.WARNING, logger="django_tasks_local"):
        backend.close()
    assert warnings_of(caplog) == []
    assert [backend.get_result(r.id).return_value for r in results] == [
        0,
        2,
        4,
        6,
        8,
    ]


@pytest.mark.parametrize("method", ["close", "join"])
def test_close_or_join_from_a_task_of_the_alias_fails_instead_of_hanging(method):
    # Thread pools: both wait for the alias's running tasks, so from one of them
    # they would wait for themselves forever. (A worker process has a runtime of
    # its own, where they do nothing.)
    result = wait(tasks.call_on_own_backend.enqueue(method), timeout=DEADLINE)
    assert result.status == TaskResultStatus.FAILED
    error = result.errors[0]
    assert error.exception_class is RuntimeError
    assert f"{method}()" in error.traceback
    assert "from one of its own tasks" in error.traceback
    assert wait(tasks.add.enqueue(1, 2), timeout=DEADLINE).return_value == 3


def close_while_a_running_task_enqueues(
    signals, event_gate, caplog, parent_task, *args
):
    """On one worker thread: a task runs and a deferred one waits; close() starts
    (dropping the deferred one), and only then does the running task enqueue,
    through ``parent_task``. Return the backend and the parent's final result,
    once close() has returned and the workers are gone."""
    config = {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "OPTIONS": {"MAX_WORKERS": 1},
    }
    with override_settings(TASKS={"default": config}):
        backend = task_backends["default"]
        gate = event_gate()
        parent = parent_task.enqueue(gate.name, *args)
        signals.wait_for("started", parent.id)
        later = timezone.now() + timedelta(hours=1)
        first = tasks.noop.using(run_after=later).enqueue()
        closer = threading.Thread(target=backend.close)
        with caplog.at_level(logging.WARNING, logger="django_tasks_local"):
            closer.start()
            signals.wait_for("finished", first.id)  # close() is draining now
            gate.open()  # the running task enqueues now
            closer.join(DEADLINE)
        assert not closer.is_alive()
        assert workers_alive() == []
        parent = backend.get_result(parent.id)
        assert parent.status == TaskResultStatus.SUCCESSFUL, parent.errors
        return backend, parent


def test_close_runs_due_tasks_enqueued_while_it_drains(signals, event_gate, caplog):
    backend, parent = close_while_a_running_task_enqueues(
        signals, event_gate, caplog, tasks.wait_for_event_then_enqueue_add, 4, 5
    )
    assert backend.get_result(parent.return_value).return_value == 9


def test_close_drops_deferred_tasks_enqueued_while_it_drains(
    signals, event_gate, caplog
):
    backend, parent = close_while_a_running_task_enqueues(
        signals, event_gate, caplog, tasks.wait_for_event_then_defer_noop
    )
    dropped = backend.get_result(parent.return_value)

    assert dropped.status == TaskResultStatus.FAILED
    assert dropped.errors[0].exception_class is TaskDropped
    assert "was dropped when alias 'default' closed" in dropped.errors[0].traceback
    assert dropped.started_at is None
    assert [s.name for s in signals.of(dropped.id)] == ["enqueued", "finished"]
    # One warning for the drain, one for the late arrival.
    messages = [w.getMessage() for w in warnings_of(caplog)]
    assert len(messages) == 2
    assert all("dropped 1 deferred task(s)" in m for m in messages)
