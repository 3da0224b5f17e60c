"""async def tasks run to completion on an event loop in the worker, and the
async half of Django's API (aenqueue, aget_result, arefresh) works."""

import asyncio

import pytest
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.test import override_settings

from django_tasks_local import wait
from tests import tasks
from tests.support import DEADLINE


def test_async_task_runs_on_an_event_loop_in_a_worker_thread(backend):
    result = wait(tasks.async_whoami.enqueue(), timeout=DEADLINE)
    ran = result.return_value
    assert ran["loop_running"] is True
    assert result.worker_ids[0].endswith(f":{ran['pid']}:{ran['thread']}")


def test_async_tasks_run_one_after_another_on_the_same_worker():
    # One worker, so every async task reuses that thread's loop.
    config = {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "OPTIONS": {"MAX_WORKERS": 1},
    }
    with override_settings(TASKS={"default": config}):
        results = [tasks.async_add.enqueue(n, 1) for n in range(5)]
        for result in results:
            wait(result, timeout=DEADLINE)
    assert [r.return_value["sum"] for r in results] == [1, 2, 3, 4, 5]
    assert len({r.worker_ids[0] for r in results}) == 1


def test_async_api_end_to_end(backend):
    async def scenario():
        result = await tasks.add.aenqueue(20, 22)
        assert result.status == TaskResultStatus.READY
        # Block a worker thread of the default executor, not the loop.
        await asyncio.to_thread(wait, result, DEADLINE)
        fetched = await backend.aget_result(result.id)
        by_task = await tasks.add.aget_result(result.id)
        return result, fetched, by_task

    result, fetched, by_task = asyncio.run(scenario())
    assert fetched.status == TaskResultStatus.SUCCESSFUL
    assert fetched.return_value == 42
    assert by_task.id == result.id
    assert by_task.return_value == 42


def test_arefresh_updates_the_result_in_place(backend, pipe_gate):
    gate = pipe_gate()

    async def scenario():
        result = await tasks.wait_for_gate.aenqueue(gate.path, "v")
        before = result.status
        gate.open()
        await asyncio.to_thread(backend.join, DEADLINE)
        await result.arefresh()
        return before, result

    before, result = asyncio.run(scenario())
    assert before == TaskResultStatus.READY
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "v"


def test_aget_result_of_unknown_id_raises(backend):
    with pytest.raises(TaskResultDoesNotExist):
        asyncio.run(backend.aget_result("no-such-id"))
