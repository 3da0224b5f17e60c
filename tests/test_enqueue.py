"""enqueue(): validation before anything is queued, and the READY result."""

import asyncio
import multiprocessing
import threading
import uuid
from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus, task, task_backends
from django.tasks.exceptions import InvalidTask
from django.tasks.signals import task_enqueued
from django.test import override_settings
from django.utils import timezone

from django_tasks_local import wait
from tests import tasks
from tests.conftest import BACKENDS
from tests.support import DEADLINE

#: ``enqueued_at`` is rounded to the microsecond, ``timezone.now()`` truncated.
ROUNDING = timedelta(microseconds=1)


def test_returns_ready_result_with_aware_enqueued_at_and_uuid(backend):
    before = timezone.now()
    result = tasks.add.enqueue(1, 2)
    after = timezone.now()
    assert result.status == TaskResultStatus.READY
    assert result.task is tasks.add
    assert result.backend == "default"
    assert result.args == [1, 2]
    assert result.kwargs == {}
    assert result.started_at is None
    assert result.finished_at is None
    assert result.worker_ids == []
    assert timezone.is_aware(result.enqueued_at)
    assert before - ROUNDING <= result.enqueued_at <= after + ROUNDING
    assert str(uuid.UUID(result.id)) == result.id
    assert uuid.UUID(result.id).version == 4
    wait(result, timeout=DEADLINE)


def test_ids_are_unique(backend):
    results = [tasks.noop.enqueue() for _ in range(50)]
    assert len({r.id for r in results}) == 50
    backend.join(DEADLINE)


def test_arguments_are_normalised_to_json(backend):
    result = tasks.add.enqueue((1, 2), b=(3,))
    assert result.args == [[1, 2]]
    assert result.kwargs == {"b": [3]}
    wait(result, timeout=DEADLINE)
    assert result.return_value == [1, 2, 3]


@pytest.mark.parametrize(
    "args", [(object(),), ({1, 2},), ([1, {"k": object()}],)], ids=repr
)
def test_non_json_arguments_raise_before_anything_is_queued(backend, signals, args):
    threads_before = threading.active_count()
    with pytest.raises(TypeError) as caught:
        tasks.add.enqueue(*args, 1)
    message = str(caught.value)
    assert "tests.tasks.add" in message
    assert "JSON-serialisable" in message
    assert signals.sent == []
    assert backend.runtime.store.counts() == {"active": 0, "finished": 0}
    assert threading.active_count() == threads_before


def test_non_json_keyword_argument_raises(backend, signals):
    with pytest.raises(TypeError, match="JSON-serialisable"):
        tasks.add.enqueue(1, b=object())
    assert signals.sent == []


def test_task_function_must_be_module_level():
    def local_function():
        return 1

    with pytest.raises(InvalidTask, match="module level"):
        task(local_function)


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_queue_not_in_queues_is_refused_at_enqueue(kind, signals):
    # Made while the queue is valid, enqueued where it is not: Django validates
    # the task again at enqueue.
    on_other = tasks.noop.using(queue_name="other")
    config = {**BACKENDS[kind], "QUEUES": ["default"]}
    with override_settings(TASKS={"default": config}):
        with pytest.raises(InvalidTask, match="Queue 'other' is not valid"):
            on_other.enqueue()
        with pytest.raises(InvalidTask, match="Queue 'other' is not valid"):
            asyncio.run(on_other.aenqueue())
        counts = task_backends["default"].runtime.store.counts()
    assert counts == {"active": 0, "finished": 0}
    assert signals.sent == []
    assert multiprocessing.active_children() == []


def test_naive_run_after_is_refused(backend):
    naive = timezone.now().replace(tzinfo=None)
    with pytest.raises(InvalidTask, match="aware"):
        tasks.noop.using(run_after=naive)


def test_priority_out_of_range_is_refused(backend):
    with pytest.raises(InvalidTask, match="priority"):
        tasks.noop.using(priority=101)


def test_a_failing_enqueued_receiver_stops_the_enqueue(backend):
    def refuse(sender, task_result, **kwargs):
        raise RuntimeError("refused by receiver")

    task_enqueued.connect(refuse, weak=False)
    try:
        with pytest.raises(RuntimeError, match="refused by receiver"):
            tasks.noop.enqueue()
    finally:
        task_enqueued.disconnect(refuse)
    assert backend.join(DEADLINE)
    assert backend.runtime.store.counts() == {"active": 0, "finished": 0}


def test_aenqueue_returns_ready_result(backend):
    async def enqueue():
        return await tasks.add.aenqueue(4, 5)

    result = asyncio.run(enqueue())
    assert result.status == TaskResultStatus.READY
    assert wait(result, timeout=DEADLINE).return_value == 9


def test_without_use_tz_timestamps_are_naive_local_times(backend):
    with override_settings(USE_TZ=False):
        before = timezone.now()
        result = wait(tasks.add.enqueue(1, 1), timeout=DEADLINE)
    assert timezone.is_naive(result.enqueued_at)
    assert timezone.is_naive(result.started_at)
    assert before - ROUNDING <= result.enqueued_at <= result.finished_at


def test_a_thread_pool_task_can_enqueue_another():
    # Thread pools only: a worker thread shares the enqueuing process's runtime.
    parent = wait(tasks.enqueue_add.enqueue(20, 1), timeout=DEADLINE)
    assert parent.status == TaskResultStatus.SUCCESSFUL
    child = task_backends["default"].get_result(parent.return_value)
    assert wait(child, timeout=DEADLINE).return_value == 21
