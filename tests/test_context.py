"""takes_context and current_result_id, in sync and async tasks."""

import asyncio
from contextvars import ContextVar

import pytest
from django.tasks import TaskResultStatus

from django_tasks_local import current_result_id, wait
from tests import tasks
from tests.support import DEADLINE


@pytest.mark.parametrize("task", [tasks.report_context, tasks.async_report_context])
def test_takes_context_gets_task_context_with_id_and_attempt_1(backend, task):
    result = wait(task.enqueue("label"), timeout=DEADLINE)
    assert result.status == TaskResultStatus.SUCCESSFUL
    seen = result.return_value
    assert seen["type"] == "TaskContext"
    assert seen["id"] == result.id
    assert seen["attempt"] == 1
    assert seen["status"] == TaskResultStatus.RUNNING
    assert seen["label"] == "label"
    assert seen["current_result_id"] == result.id


@pytest.mark.parametrize("task", [tasks.whoami, tasks.async_whoami])
def test_current_result_id_is_set_while_the_task_runs(backend, task):
    results = [task.enqueue() for _ in range(4)]
    for result in results:
        wait(result, timeout=DEADLINE)
        assert result.return_value["current_result_id"] == result.id


def test_current_result_id_is_a_context_variable_of_str():
    assert isinstance(current_result_id, ContextVar)
    assert current_result_id.name == "django_tasks_local.current_result_id"


def test_current_result_id_is_unset_outside_tasks(backend):
    wait(tasks.whoami.enqueue(), timeout=DEADLINE)
    assert current_result_id.get(None) is None


def test_async_task_result_id_survives_awaits(backend):
    result = wait(tasks.async_add.enqueue(2, 3), timeout=DEADLINE)
    assert result.return_value == {"sum": 5, "current_result_id": result.id}


def test_current_result_id_reaches_tasks_enqueued_from_async_code(backend):
    async def enqueue():
        return await tasks.whoami.aenqueue()

    result = wait(asyncio.run(enqueue()), timeout=DEADLINE)
    assert result.return_value["current_result_id"] == result.id
