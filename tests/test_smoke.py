"""The shortest path through the package: enqueue, wait, read the result."""

from django.tasks import TaskResultStatus

from django_tasks_local import wait
from tests import tasks


def test_enqueue_runs_task_and_wait_returns_result(deadline):
    result = tasks.add.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY
    wait(result, timeout=deadline)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5


def test_each_backend_runs_a_task(backend, deadline):
    result = tasks.add.enqueue(1, 1)
    wait(result, timeout=deadline)
    assert result.return_value == 2
    assert result.backend == "default"
