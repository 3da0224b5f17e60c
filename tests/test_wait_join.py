"""wait(result, timeout) and backend.join(timeout): event-driven blocking."""

import os
import sys
import threading
from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist
from django.test import override_settings
from django.utils import timezone

import django_tasks_local
from django_tasks_local import wait
from django_tasks_local.stores.memory import Waiter
from tests import tasks
from tests.conftest import BACKENDS
from tests.support import DEADLINE

#: A timeout for waits that are meant to run out: short, since the task is held.
SHORT = 0.05


def test_wait_refreshes_in_place_and_returns_the_same_object(backend):
    result = tasks.add.enqueue(2, 2)
    returned = wait(result, timeout=DEADLINE)
    assert returned is result
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 4
    assert result.worker_ids


def test_wait_times_out_and_leaves_the_result_as_it_was(backend, pipe_gate):
    gate = pipe_gate()
    result = tasks.wait_for_gate.enqueue(gate.path)
    with pytest.raises(TimeoutError, match=result.id):
        wait(result, timeout=SHORT)
    assert result.status == TaskResultStatus.READY
    assert result.finished_at is None
    gate.open()
    assert wait(result, timeout=DEADLINE).status == TaskResultStatus.SUCCESSFUL


def package_calls_while(call) -> int:
    """How many calls the current thread makes in the package while ``call`` runs
    (function calls, C calls such as ``lock.acquire`` or ``time.sleep``, returns)."""
    package = os.path.dirname(django_tasks_local.__file__)
    calls = 0

    def profile(frame, event, arg):
        nonlocal calls
        if frame.f_code.co_filename.startswith(package):
            calls += 1

    sys.setprofile(profile)  # this thread only
    try:
        call()
    finally:
        sys.setprofile(None)
    return calls


def test_wait_does_not_poll(backend, signals, pipe_gate):
    # A poller would check again and again while it waits, so the longer wait
    # would make more calls; an event-driven wait makes the same few calls.
    gate = pipe_gate()
    held = tasks.wait_for_gate.enqueue(gate.path)
    signals.wait_for("started", held.id)  # RUNNING for both waits

    def wait_out(seconds):
        def call():
            with pytest.raises(TimeoutError):
                wait(held, timeout=seconds)

        return call

    wait_out(SHORT)()  # the first wait makes the result's list of waiters
    brief = package_calls_while(wait_out(SHORT))
    longer = package_calls_while(wait_out(SHORT * 6))
    assert brief == longer
    gate.open()
    assert wait(held, timeout=DEADLINE).status == TaskResultStatus.SUCCESSFUL


def test_wait_and_join_without_a_timeout_block_until_done(
    backend, pipe_gate, blocked_waiters
):
    gate = pipe_gate()
    held = tasks.wait_for_gate.enqueue(gate.path, "late")
    outcome = {}
    waiter = threading.Thread(target=lambda: outcome.update(waited=wait(held)))
    joiner = threading.Thread(target=lambda: outcome.update(joined=backend.join()))
    waiter.start()
    joiner.start()
    assert blocked_waiters.acquire(timeout=DEADLINE)
    assert "waited" not in outcome
    gate.open()
    waiter.join(DEADLINE)
    joiner.join(DEADLINE)
    assert outcome["waited"] is held
    assert held.return_value == "late"
    assert outcome["joined"] is True
    assert backend.get_result(held.id).status == TaskResultStatus.SUCCESSFUL


def test_wait_on_a_finished_result_returns_at_once(backend):
    result = wait(tasks.add.enqueue(1, 0), timeout=DEADLINE)
    assert wait(result, timeout=0) is result


@pytest.fixture
def blocked_waiters(monkeypatch):
    """A semaphore released by every thread as it blocks in ``wait()``: on the
    event the store has registered for it, so only ``finish()`` can wake it."""
    blocked = threading.Semaphore(0)
    real_wait = Waiter.wait

    def waiter_wait(self, timeout=None):
        blocked.release()
        return real_wait(self, timeout)

    monkeypatch.setattr(Waiter, "wait", waiter_wait)
    return blocked


def test_many_threads_waiting_on_one_result_all_wake(
    backend, pipe_gate, blocked_waiters
):
    gate = pipe_gate()
    result = tasks.wait_for_gate.enqueue(gate.path, "ok")
    seen = []
    lock = threading.Lock()

    def waiter():
        mine = backend.get_result(result.id)
        wait(mine, timeout=DEADLINE)
        with lock:
            seen.append(mine.return_value)

    waiters = [threading.Thread(target=waiter) for _ in range(5)]
    for thread in waiters:
        thread.start()
    for _ in waiters:  # every waiter is registered and blocked before the end
        assert blocked_waiters.acquire(timeout=DEADLINE)
    assert seen == []
    gate.open()
    for thread in waiters:
        thread.join(DEADLINE)
    assert seen == ["ok"] * 5


def test_wait_returns_after_task_finished_was_sent(backend, signals):
    result = wait(tasks.noop.enqueue(), timeout=DEADLINE)
    assert len(signals.of(result.id, "finished")) == 1


@pytest.mark.backend_options(MAX_RESULTS=1)
def test_wait_on_an_evicted_result_raises(backend):
    first = tasks.add.enqueue(1, 1)
    stale = backend.get_result(first.id)
    wait(first, timeout=DEADLINE)
    wait(tasks.add.enqueue(2, 2), timeout=DEADLINE)
    with pytest.raises(TaskResultDoesNotExist):
        wait(stale, timeout=DEADLINE)


def test_wait_refuses_results_of_other_backends():
    dummy = {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}
    with override_settings(TASKS={"default": dummy}):
        result = tasks.noop.enqueue()
        with pytest.raises(TypeError, match="DummyBackend"):
            wait(result, timeout=SHORT)


def test_wait_accepts_finished_results_of_other_backends():
    immediate = {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}
    with override_settings(TASKS={"default": immediate}):
        result = tasks.add.enqueue(3, 3)
        assert wait(result, timeout=SHORT) is result
        assert result.return_value == 6


def test_join_with_nothing_enqueued_returns_true(backend):
    assert backend.join(timeout=SHORT) is True


def test_join_waits_for_running_and_queued_tasks(backend):
    results = [tasks.add.enqueue(n, 1) for n in range(10)]
    assert backend.join(DEADLINE) is True
    statuses = {backend.get_result(r.id).status for r in results}
    assert statuses == {TaskResultStatus.SUCCESSFUL}


def test_join_returns_false_when_the_timeout_passes_first(backend, pipe_gate):
    gate = pipe_gate()
    held = tasks.wait_for_gate.enqueue(gate.path)
    assert backend.join(timeout=SHORT) is False
    assert backend.get_result(held.id).is_finished is False
    gate.open()
    assert backend.join(DEADLINE) is True
    assert backend.get_result(held.id).status == TaskResultStatus.SUCCESSFUL


def test_join_does_not_wait_for_deferred_tasks_not_yet_due(backend):
    later = timezone.now() + timedelta(hours=1)
    deferred = tasks.noop.using(run_after=later).enqueue()
    done = tasks.noop.enqueue()
    assert backend.join(DEADLINE) is True
    assert backend.get_result(done.id).status == TaskResultStatus.SUCCESSFUL
    assert backend.get_result(deferred.id).status == TaskResultStatus.READY


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_join_is_per_alias(kind, pipe_gate):
    config = {**BACKENDS[kind], "OPTIONS": {**BACKENDS[kind].get("OPTIONS", {})}}
    config["OPTIONS"]["MAX_WORKERS"] = 1
    with override_settings(TASKS={"default": config, "other": config}):
        gate = pipe_gate()
        held = tasks.wait_for_gate.enqueue(gate.path)
        other = task_backends["other"]
        assert wait(tasks.noop.using(backend="other").enqueue(), timeout=DEADLINE)
        assert other.join(timeout=SHORT) is True
        assert task_backends["default"].join(timeout=SHORT) is False
        gate.open()
        assert task_backends["default"].join(DEADLINE) is True
        assert wait(held, timeout=DEADLINE).status == TaskResultStatus.SUCCESSFUL
