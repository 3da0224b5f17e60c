"""Results: snapshots by id, Task.get_result, refresh, and the LRU of finished
results (reads count as use; READY and RUNNING results are never evicted)."""

import contextlib
from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch
from django.utils import timezone

from django_tasks_local import wait
from tests import tasks
from tests.support import DEADLINE


def finished(task, *args):
    return wait(task.enqueue(*args), timeout=DEADLINE)


def test_get_result_returns_a_fresh_snapshot_each_time(backend):
    result = finished(tasks.add, 1, 2)
    first = backend.get_result(result.id)
    second = backend.get_result(result.id)
    assert first is not second
    assert first.id == second.id == result.id
    assert first.status == TaskResultStatus.SUCCESSFUL
    assert first.return_value == 3
    assert first.args == [1, 2]
    assert first.task is tasks.add
    assert first.enqueued_at == result.enqueued_at


@pytest.mark.parametrize("unknown", ["", "no-such-id", "0" * 32, 123, None])
def test_unknown_id_raises(backend, unknown):
    with pytest.raises(TaskResultDoesNotExist):
        backend.get_result(unknown)


def test_task_get_result_and_mismatch(backend):
    result = finished(tasks.add, 3, 4)
    assert tasks.add.get_result(result.id).return_value == 7
    with pytest.raises(TaskResultMismatch):
        tasks.noop.get_result(result.id)
    with pytest.raises(TaskResultDoesNotExist):
        tasks.add.get_result("no-such-id")


def test_refresh_updates_in_place(backend, pipe_gate):
    gate = pipe_gate()
    result = tasks.wait_for_gate.enqueue(gate.path, [1, 2])
    assert result.status == TaskResultStatus.READY
    gate.open()
    assert backend.join(DEADLINE)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == [1, 2]
    assert result.finished_at is not None


@pytest.mark.backend_options(MAX_RESULTS=2)
def test_least_recently_finished_is_evicted(backend):
    a = finished(tasks.add, 0, 1)
    b = finished(tasks.add, 0, 2)
    c = finished(tasks.add, 0, 3)
    with pytest.raises(TaskResultDoesNotExist):
        backend.get_result(a.id)
    assert backend.get_result(b.id).return_value == 2
    assert backend.get_result(c.id).return_value == 3


@pytest.mark.backend_options(MAX_RESULTS=2)
@pytest.mark.parametrize("read", ["get_result", "refresh", "task_get_result"])
def test_reading_counts_as_use(backend, read):
    a = finished(tasks.add, 0, 1)
    b = finished(tasks.add, 0, 2)
    if read == "get_result":
        backend.get_result(a.id)
    elif read == "refresh":
        a.refresh()
    else:
        tasks.add.get_result(a.id)
    finished(tasks.add, 0, 3)
    assert backend.get_result(a.id).return_value == 1
    with pytest.raises(TaskResultDoesNotExist):
        backend.get_result(b.id)
    with pytest.raises(TaskResultDoesNotExist):
        b.refresh()


@pytest.mark.backend_options(MAX_RESULTS=1)
def test_ready_and_running_results_are_never_evicted(backend, signals, pipe_gate):
    gate = pipe_gate()
    running = tasks.wait_for_gate.enqueue(gate.path, "held")
    signals.wait_for("started", running.id)
    later = timezone.now() + timedelta(hours=1)
    deferred = tasks.noop.using(run_after=later).enqueue()

    done = [finished(tasks.add, n, 0) for n in range(4)]

    assert backend.get_result(running.id).status == TaskResultStatus.RUNNING
    assert backend.get_result(deferred.id).status == TaskResultStatus.READY
    for old in done[:-1]:
        with pytest.raises(TaskResultDoesNotExist):
            backend.get_result(old.id)
    assert backend.get_result(done[-1].id).return_value == 3

    gate.open()
    # Once it finishes, the long-running task is the newest finished result.
    assert wait(running, timeout=DEADLINE).return_value == "held"
    assert backend.get_result(running.id).return_value == "held"
    with pytest.raises(TaskResultDoesNotExist):
        backend.get_result(done[-1].id)


@pytest.mark.backend_options(MAX_RESULTS=3)
def test_finished_results_never_exceed_max_results(backend):
    results = [tasks.add.enqueue(n, n) for n in range(20)]
    assert backend.join(DEADLINE)
    readable = []
    for result in results:
        with contextlib.suppress(TaskResultDoesNotExist):
            readable.append(backend.get_result(result.id))
    assert len(readable) == 3
    assert all(r.status == TaskResultStatus.SUCCESSFUL for r in readable)
