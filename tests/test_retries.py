"""Retries with backoff and time limits per task, on both backends and both
stores: attempts, errors, worker ids and signals per attempt; READY with
run_after between attempts; WorkerDied and TimeoutError count as attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus, task
from django.tasks.exceptions import InvalidTask
from django.test import override_settings
from django.utils import timezone

from django_tasks_local import WorkerDied, exponential, wait
from tests import process_tasks, tasks
from tests.database_support import Script, durable, on_store, row
from tests.process_support import ALIAS, assert_failed_with, on, process_pool
from tests.support import DEADLINE, Announcements


def test_a_task_that_fails_twice_then_succeeds(combination, signals):
    with on_store(combination) as backend:
        result = wait(tasks.fails_twice.enqueue(), timeout=DEADLINE)
        assert backend.join(DEADLINE)

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.attempts == 3
    assert len(result.worker_ids) == 3
    assert result.return_value["attempt"] == 3
    # The task saw every attempt's worker in its own TaskResult.
    assert result.return_value["worker_ids"] == result.worker_ids
    assert [e.exception_class_path for e in result.errors] == [
        "builtins.ValueError"
    ] * 2
    assert "attempt 1 failed" in result.errors[0].traceback
    assert "attempt 2 failed" in result.errors[1].traceback
    assert result.last_attempted_at >= result.started_at
    names = [s.name for s in signals.of(result.id)]
    assert names == ["enqueued", "started", "started", "started", "finished"]
    [finished] = signals.of(result.id, "finished")
    assert finished.result.status == TaskResultStatus.SUCCESSFUL


def test_a_backoff_of_none_stops_retrying(combination, signals):
    with on_store(combination):
        result = wait(tasks.fails_and_stops.enqueue("no more"), timeout=DEADLINE)

    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 1
    assert [s.name for s in signals.of(result.id)] == [
        "enqueued",
        "started",
        "finished",
    ]


def test_max_attempts_of_the_alias_applies_to_tasks_without_their_own(combination):
    with on_store(combination, MAX_ATTEMPTS=3):
        result = wait(tasks.always_fails.enqueue("again"), timeout=DEADLINE)

    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 3
    assert len(result.errors) == 3


def test_between_attempts_the_result_is_ready_with_run_after(combination):
    """The retry is due in an hour: join() returns once the failed attempt is
    recorded, and the result waits, READY, with its error and worker id."""
    with on_store(combination) as backend:
        before = timezone.now()
        result = tasks.fails_then_waits_an_hour.enqueue()
        assert backend.join(DEADLINE)
        # refresh() keeps the TaskResult's task (Django's rule); get_result()
        # shows the task as it now waits, due again.
        result = backend.get_result(result.id)

    assert result.status == TaskResultStatus.READY
    assert result.attempts == 1
    assert len(result.errors) == 1 and "attempt 1" in result.errors[0].traceback
    due = result.task.run_after
    assert before + timedelta(minutes=59) < due < timezone.now() + timedelta(hours=1)


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_time_limits_count_as_failed_attempts(kind):
    """An async task past its own timeout: cancelled at its next await on the
    thread pool, its worker ended on the process pool; TimeoutError, retried."""
    with on_store(f"{kind}-memory"):
        once = wait(tasks.awaits_past_its_timeout.enqueue(), timeout=DEADLINE)
        twice = wait(tasks.awaits_past_its_timeout_twice.enqueue(), timeout=DEADLINE)
        after = wait(tasks.add.enqueue(1, 1), timeout=DEADLINE)

    for result, attempts in ((once, 1), (twice, 2)):
        assert result.status == TaskResultStatus.FAILED
        assert result.attempts == attempts
        for error in result.errors:
            assert error.exception_class_path == "builtins.TimeoutError"
            assert "ran longer than its timeout=0.2 seconds" in error.traceback
    assert after.return_value == 2


def test_a_sync_task_past_its_timeout_ends_its_worker_process():
    with process_pool(MAX_WORKERS=1):
        slow = wait(
            on(ALIAS, process_tasks.hangs_past_its_timeout).enqueue(),
            timeout=DEADLINE,
        )
        after = wait(on(ALIAS, tasks.add).enqueue(2, 2), timeout=DEADLINE)

    assert_failed_with(
        slow, TimeoutError, "ran longer than its timeout=0.5 seconds", "was ended"
    )
    assert after.return_value == 4


def test_a_worker_that_dies_costs_an_attempt():
    with process_pool(MAX_WORKERS=1):
        result = wait(
            on(ALIAS, process_tasks.dies_each_attempt).enqueue(), timeout=DEADLINE
        )

    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 2
    assert [e.exception_class for e in result.errors] == [WorkerDied, WorkerDied]
    assert len(set(result.worker_ids)) == 2  # a new process for the second


def test_options_are_checked_when_the_task_is_defined():
    with pytest.raises(InvalidTask, match=r"max_attempts must be an int >= 1; got 0"):
        task(max_attempts=0)(tasks.add.func)
    with pytest.raises(InvalidTask, match="backoff must be callable"):
        task(backoff=5)(tasks.add.func)
    with pytest.raises(InvalidTask, match="timeout must be a positive number"):
        task(backend="cpu", timeout=-1)(tasks.add.func)
    with pytest.raises(InvalidTask, match="a thread running a plain function cannot"):
        task(timeout=1)(tasks.add.func)  # the default alias is a thread pool
    assert task(backend="cpu", timeout=1)(tasks.add.func).timeout == 1
    # .using() keeps the options of the definition.
    assert tasks.fails_twice.using(priority=3).max_attempts == 3


def test_options_on_a_backend_that_is_not_ours_are_djangos_type_error():
    dummy = {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}
    with (
        override_settings(TASKS={"default": dummy}),
        pytest.raises(TypeError, match="max_attempts"),
    ):
        task(max_attempts=2)(tasks.add.func)


def test_exponential_backoff_grows_to_its_cap_with_jitter():
    class Result:
        def __init__(self, attempts):
            self.attempts = attempts

    exact = exponential(base=2, factor=1, cap=10, jitter=False)
    assert [exact(ValueError(), Result(n)) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    jittered = exponential(base=3, factor=2, cap=100)
    for attempt in range(1, 6):
        delay = min(100, 2 * 3 ** (attempt - 1))
        for _ in range(50):
            assert delay / 2 <= jittered(ValueError(), Result(attempt)) <= delay
    assert exponential(cap=5, jitter=False)(ValueError(), Result(10_000)) == 5
    with pytest.raises(ValueError, match="base >= 1"):
        exponential(base=0.5)


# -- the database store: retries survive a restart, and follow a lost process ----

RESTART = """
import sys
import django
django.setup()
from django.tasks import task_backends
from django.test.utils import override_settings
from tests import tasks
from tests.database_support import durable_config

with override_settings(TASKS={"default": durable_config("thread")}):
    result = tasks.fails_once_slowly.enqueue()
    task_backends["default"].join(60)  # the first attempt failed; the next is due
    print("enqueued", result.id, flush=True)
"""


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_a_retry_waits_in_the_database_across_a_restart():
    """The process that ran the first attempt exits before the second is due;
    the next process runs it."""
    script = Script(RESTART)
    result_id = script.expect("enqueued", DEADLINE).split()[1]
    code, stderr = script.finish(DEADLINE)
    assert code == 0, stderr
    stored = row(result_id)
    assert stored.status == TaskResultStatus.READY and stored.attempts == 1
    assert stored.claimed_by is None and stored.run_after is not None

    with durable("thread") as backend:
        backend.runtime.start()
        result = wait(backend.get_result(result_id), timeout=DEADLINE)

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.attempts == 2
    first, second = (int(worker.split(":")[1]) for worker in result.worker_ids)
    assert first == script.process.pid and second != first
    assert result.return_value == second


KILLED = """
import json, sys
import django
django.setup()
from django.tasks import task_backends
from django.test.utils import override_settings
from tests import tasks
from tests.database_support import durable_config

announce, gate = sys.argv[1], sys.argv[2]
with override_settings(TASKS={"default": durable_config("thread", LEASE=3600)}):
    result = tasks.waits_on_first_attempt.enqueue(announce, gate)
    print("enqueued", result.id, flush=True)
    sys.stdin.readline()  # its first attempt runs: make the row say so
    assert task_backends["default"].runtime.store.flush(60)
    print("flushed", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_an_attempt_lost_with_its_process_is_retried(tmp_path, pipe_gate):
    announcements = Announcements(tmp_path / "started")
    gate = pipe_gate()
    script = Script(KILLED, announcements.path, gate.path)
    result_id = script.expect("enqueued", DEADLINE).split()[1]
    assert announcements.expect(1) == [result_id]
    script.send("flush")
    script.expect("flushed", DEADLINE)
    assert row(result_id).status == TaskResultStatus.RUNNING
    script.kill()

    with durable("thread", LEASE=3600) as backend:
        backend.runtime.start()
        result = wait(backend.get_result(result_id), timeout=DEADLINE)
    announcements.close()

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "second"
    assert result.attempts == 2
    [lost] = result.errors
    assert lost.exception_class is WorkerDied
    assert f"pid {script.process.pid}) is gone" in lost.traceback
