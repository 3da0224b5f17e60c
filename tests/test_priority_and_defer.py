"""Order end to end: with one worker held, queued tasks run highest priority
first, then in enqueue order; a deferred task never starts before run_after."""

from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus
from django.test import override_settings
from django.utils import timezone

from django_tasks_local import wait
from tests import tasks
from tests.support import DEADLINE


@pytest.mark.backend_options(MAX_WORKERS=1)
def test_queued_tasks_run_by_priority_then_enqueue_order(backend, signals, pipe_gate):
    gate = pipe_gate()
    blocker = tasks.wait_for_gate.enqueue(gate.path)
    signals.wait_for("started", blocker.id)

    queued = {}
    for name, priority in [
        ("p0-a", 0),
        ("p5-a", 5),
        ("m3", -3),
        ("p5-b", 5),
        ("p0-b", 0),
        ("p10", 10),
        ("m100", -100),
        ("p100", 100),
    ]:
        queued[tasks.noop.using(priority=priority).enqueue().id] = name
    for result_id in queued:
        assert backend.get_result(result_id).status == TaskResultStatus.READY

    gate.open()
    assert backend.join(DEADLINE)
    started = [queued[i] for i in signals.names("started") if i in queued]
    assert started == ["p100", "p10", "p5-a", "p5-b", "p0-a", "p0-b", "m3", "m100"]


@pytest.mark.backend_options(MAX_WORKERS=1)
def test_same_priority_runs_in_enqueue_order(backend, signals, pipe_gate):
    gate = pipe_gate()
    blocker = tasks.wait_for_gate.enqueue(gate.path)
    signals.wait_for("started", blocker.id)
    ids = [tasks.add.enqueue(n, 0).id for n in range(30)]
    gate.open()
    assert backend.join(DEADLINE)
    assert [i for i in signals.names("started") if i in ids] == ids


def test_deferred_task_does_not_start_before_run_after(backend):
    run_after = timezone.now() + timedelta(milliseconds=200)
    result = tasks.whoami.using(run_after=run_after).enqueue()
    assert result.status == TaskResultStatus.READY
    wait(result, timeout=DEADLINE)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.started_at >= run_after
    assert result.task.run_after == run_after


@pytest.mark.backend_options(MAX_WORKERS=1)
def test_a_deferred_task_does_not_hold_up_tasks_that_are_due(backend):
    later = timezone.now() + timedelta(hours=1)
    deferred = tasks.noop.using(run_after=later, priority=100).enqueue()
    due = [tasks.add.enqueue(n, 1) for n in range(3)]
    for result in due:
        assert wait(result, timeout=DEADLINE).status == TaskResultStatus.SUCCESSFUL
    held = backend.get_result(deferred.id)
    assert held.status == TaskResultStatus.READY
    assert held.started_at is None


def test_run_after_in_the_past_runs_at_once(backend):
    past = timezone.now() - timedelta(days=1)
    result = wait(tasks.add.using(run_after=past).enqueue(1, 2), timeout=DEADLINE)
    assert result.return_value == 3


def test_naive_run_after_without_use_tz_is_local_time(backend):
    with override_settings(USE_TZ=False):
        run_after = timezone.now() + timedelta(milliseconds=100)
        result = wait(tasks.noop.using(run_after=run_after).enqueue(), DEADLINE)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.started_at >= run_after
