"""Failures: any exception, SystemExit included, fails only its own task with the
class path and the full traceback; bad return values fail the task too."""

import pytest
from django.tasks import TaskResultStatus
from django.tasks.base import TaskError

from django_tasks_local import wait
from tests import tasks
from tests.support import DEADLINE


@pytest.mark.parametrize(
    ("task", "exception", "path"),
    [
        (tasks.fail, ValueError, "builtins.ValueError"),
        (tasks.async_fail, ValueError, "builtins.ValueError"),
        (tasks.exit_task, SystemExit, "builtins.SystemExit"),
        (tasks.async_exit_task, SystemExit, "builtins.SystemExit"),
        (tasks.interrupt_task, KeyboardInterrupt, "builtins.KeyboardInterrupt"),
        (
            tasks.async_interrupt_task,
            KeyboardInterrupt,
            "builtins.KeyboardInterrupt",
        ),
    ],
    ids=[
        "sync-error",
        "async-error",
        "sync-exit",
        "async-exit",
        "sync-interrupt",
        "async-interrupt",
    ],
)
def test_exception_fails_the_task_with_class_path_and_traceback(
    backend, task, exception, path
):
    result = wait(task.enqueue("the reason"), timeout=DEADLINE)
    assert result.status == TaskResultStatus.FAILED
    assert result.is_finished
    assert len(result.errors) == 1
    error = result.errors[0]
    assert isinstance(error, TaskError)
    assert error.exception_class_path == path
    assert error.exception_class is exception
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert error.traceback.endswith(f"{exception.__name__}: the reason\n")
    assert f"in {task.name}" in error.traceback
    with pytest.raises(ValueError, match="Task failed"):
        _ = result.return_value
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert backend.get_result(result.id).errors == result.errors


def test_failures_leave_other_tasks_running(backend):
    failing = [tasks.exit_task.enqueue("bye") for _ in range(3)]
    failing += [tasks.fail.enqueue("no") for _ in range(3)]
    fine = [tasks.add.enqueue(n, 1) for n in range(6)]
    for result in failing:
        assert wait(result, timeout=DEADLINE).status == TaskResultStatus.FAILED
    assert [wait(r, timeout=DEADLINE).return_value for r in fine] == list(range(1, 7))


@pytest.mark.backend_options(MAX_WORKERS=1)
@pytest.mark.parametrize(
    "task",
    [
        tasks.exit_task,
        tasks.async_exit_task,
        tasks.interrupt_task,
        tasks.async_interrupt_task,
    ],
    ids=["sync-exit", "async-exit", "sync-interrupt", "async-interrupt"],
)
def test_base_exceptions_do_not_end_the_worker(backend, task):
    # One worker: the task after runs on the very thread (or process) that
    # raised SystemExit or KeyboardInterrupt.
    exited = wait(task.enqueue("stop"), timeout=DEADLINE)
    after = wait(tasks.whoami.enqueue(), timeout=DEADLINE)
    assert exited.status == TaskResultStatus.FAILED
    assert after.status == TaskResultStatus.SUCCESSFUL
    assert after.worker_ids == exited.worker_ids


def test_non_json_return_value_fails_with_a_message_saying_so(backend):
    result = wait(tasks.return_object.enqueue(), timeout=DEADLINE)
    assert result.status == TaskResultStatus.FAILED
    error = result.errors[0]
    assert issubclass(error.exception_class, TypeError)
    assert "not JSON-serialisable" in error.traceback
    assert "tests.tasks.return_object" in error.traceback
    assert result.finished_at >= result.started_at


def test_tuple_return_value_is_normalised_to_list(backend):
    result = wait(tasks.return_tuple.enqueue(), timeout=DEADLINE)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == [1, [2, 3], {"k": [4]}]
    assert backend.get_result(result.id).return_value == [1, [2, 3], {"k": [4]}]


def test_none_return_value_is_successful(backend):
    result = wait(tasks.noop.enqueue(), timeout=DEADLINE)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value is None
    assert result.errors == []
