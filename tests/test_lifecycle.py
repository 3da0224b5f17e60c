"""READY, then RUNNING, then SUCCESSFUL or FAILED: exact, and visible from any
thread; real timestamps; worker ids that name host, process and thread."""

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.tasks import TaskResultStatus, task_backends
from django.test import override_settings

from django_tasks_local import wait
from tests import tasks
from tests.support import DEADLINE

MICROSECOND = 1e-6


def read_elsewhere(result_id):
    """``get_result`` from a thread that is not the test's (its own backend)."""
    with ThreadPoolExecutor(1) as other:
        return other.submit(
            lambda: task_backends["default"].get_result(result_id)
        ).result(DEADLINE)


@pytest.mark.backend_options(MAX_WORKERS=1)
def test_ready_until_a_worker_begins_then_running_then_successful(
    backend, signals, pipe_gate
):
    # The only worker is held by a blocker.
    blocker_gate = pipe_gate("blocker")
    blocker = tasks.wait_for_gate.enqueue(blocker_gate.path)
    signals.wait_for("started", blocker.id)

    gate = pipe_gate("second")
    second = tasks.wait_for_gate.enqueue(gate.path, "done")
    assert backend.get_result(second.id).status == TaskResultStatus.READY
    assert read_elsewhere(second.id).status == TaskResultStatus.READY
    assert read_elsewhere(second.id).started_at is None
    assert read_elsewhere(blocker.id).status == TaskResultStatus.RUNNING
    assert signals.of(second.id, "started") == []

    blocker_gate.open()
    signals.wait_for("started", second.id)
    seen_elsewhere = read_elsewhere(second.id)
    assert seen_elsewhere.status == TaskResultStatus.RUNNING
    assert seen_elsewhere.started_at is not None
    assert seen_elsewhere.finished_at is None
    second.refresh()
    assert second.status == TaskResultStatus.RUNNING
    assert second.started_at == seen_elsewhere.started_at
    with pytest.raises(ValueError, match="not finished"):
        _ = second.return_value

    gate.open()
    wait(second, timeout=DEADLINE)
    assert second.status == TaskResultStatus.SUCCESSFUL
    assert second.return_value == "done"
    assert read_elsewhere(second.id).status == TaskResultStatus.SUCCESSFUL
    assert second.started_at >= backend.get_result(blocker.id).finished_at


@pytest.mark.parametrize(
    ("task", "args", "final"),
    [
        (tasks.whoami, (), TaskResultStatus.SUCCESSFUL),
        (tasks.async_whoami, (), TaskResultStatus.SUCCESSFUL),
        (tasks.fail, ("x",), TaskResultStatus.FAILED),
        (tasks.async_fail, ("x",), TaskResultStatus.FAILED),
    ],
    ids=["sync-ok", "async-ok", "sync-failed", "async-failed"],
)
def test_timestamps_worker_id_and_attempts(backend, task, args, final):
    result = wait(task.enqueue(*args), timeout=DEADLINE)
    assert result.status == final
    assert result.is_finished
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.last_attempted_at == result.started_at
    assert result.attempts == 1
    assert len(result.worker_ids) == 1
    host, pid, thread = result.worker_ids[0].split(":", 2)
    assert host == socket.gethostname()
    assert int(pid) > 0
    assert thread
    assert backend.get_result(result.id).worker_ids == result.worker_ids


@pytest.mark.parametrize(
    "task", [tasks.clock, tasks.async_clock], ids=["sync", "async"]
)
def test_started_at_and_finished_at_enclose_the_task_itself(backend, task):
    # started_at is taken just before the task function runs, finished_at just
    # after it returns: the worker's own times, not when the enqueuing process
    # heard of them. (Timestamps are rounded to the microsecond.)
    result = wait(task.enqueue(), timeout=DEADLINE)
    inside = result.return_value
    assert result.started_at.timestamp() <= inside + MICROSECOND
    assert inside <= result.finished_at.timestamp() + MICROSECOND


@pytest.mark.parametrize("task", [tasks.whoami, tasks.async_whoami])
def test_worker_id_is_the_thread_that_ran_the_task(backend, task):
    result = wait(task.enqueue(), timeout=DEADLINE)
    ran = result.return_value
    assert result.worker_ids == [f"{socket.gethostname()}:{ran['pid']}:{ran['thread']}"]


def test_thread_workers_are_named_after_the_alias():
    config = {"BACKEND": "django_tasks_local.ThreadPoolBackend"}
    with override_settings(TASKS={"default": config, "mail": config}):
        on_mail = tasks.whoami.using(backend="mail")
        ran = wait(on_mail.enqueue(), timeout=DEADLINE).return_value
    assert ran["thread"].startswith("tasks-mail-")


def test_worker_keeps_serving_after_a_failure(backend):
    failed = wait(tasks.fail.enqueue("first"), timeout=DEADLINE)
    ok = [wait(tasks.add.enqueue(n, n), timeout=DEADLINE) for n in range(3)]
    assert failed.status == TaskResultStatus.FAILED
    assert [r.return_value for r in ok] == [0, 2, 4]


def test_snapshots_are_independent(backend, pipe_gate):
    gate = pipe_gate()
    result = tasks.wait_for_gate.enqueue(gate.path)
    copy = backend.get_result(result.id)
    gate.open()
    wait(result, timeout=DEADLINE)
    # A TaskResult a caller holds changes only through refresh() or wait().
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert copy.status in (TaskResultStatus.READY, TaskResultStatus.RUNNING)
    copy.refresh()
    assert copy.status == TaskResultStatus.SUCCESSFUL
