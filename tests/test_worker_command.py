"""``manage.py tasks_local worker`` and ``prune``, as real processes on the test
database (SQLite; PostgreSQL under make test-postgres)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.tasks import TaskResultStatus
from django.test import override_settings
from django.utils import timezone

from django_tasks_local import wait
from django_tasks_local.models import TaskRecord
from tests import tasks
from tests.database_support import ROOT, durable, durable_config, executions, row
from tests.support import DEADLINE, Announcements

pytestmark = [pytest.mark.database, pytest.mark.django_db(transaction=True)]


class Worker:
    """``manage.py tasks_local worker`` in a process of its own, on the default
    alias (database store, 2 workers: see tests/settings.py)."""

    def __init__(self, *args: str) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_TASKS_LOCAL_TEST_STORE": "database",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "django", "tasks_local", "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.banner = self.process.stdout.readline()  # it runs its queue now

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.process.send_signal(sig)
        out, err = self.process.communicate(timeout=DEADLINE)
        return self.process.returncode, self.banner + out, err


def enqueue_for_others(*results_of):
    """Enqueue in this process, then close its pool at once: the tasks are due a
    moment later, when only the worker process can take them."""
    due = timezone.now() + timedelta(milliseconds=300)
    with durable("thread") as backend:
        results = [enqueue(due) for enqueue in results_of]
        backend.close()
    return results


def test_a_worker_runs_the_queue_until_sigterm(tmp_path):
    record = tmp_path / "record"
    worker = Worker("--alias", "default")
    assert "runs the queue of 'default'" in worker.banner
    results = enqueue_for_others(
        *(
            lambda due, n=n: tasks.record.using(run_after=due).enqueue(
                str(record), f"t{n}"
            )
            for n in range(5)
        )
    )
    try:
        with override_settings(TASKS={"default": durable_config("thread")}):
            finished = [wait(r, timeout=DEADLINE) for r in results]
    finally:
        code, out, err = worker.stop()
        print(out, err)

    assert code == 0, err
    assert "SIGTERM: finishing the running tasks" in out and "Stopped." in out
    assert [r.status for r in finished] == [TaskResultStatus.SUCCESSFUL] * 5
    assert sorted(executions(record)) == [f"t{n}" for n in range(5)]
    pids = {line.split()[1] for line in record.read_text().splitlines()}
    assert pids == {str(worker.process.pid)}
    assert not TaskRecord.objects.filter(claimed_by__isnull=False).exists()


def test_sigterm_finishes_running_tasks_and_leaves_the_rest_queued(tmp_path, pipe_gate):
    """Both workers busy; three tasks queued behind them (due later than the
    running ones). SIGTERM: the two finish, the three stay READY, unclaimed."""
    record = tmp_path / "record"
    gate = pipe_gate()
    started = Announcements(tmp_path / "started")
    worker = Worker()
    results = enqueue_for_others(
        *(
            lambda due: tasks.announce_then_wait.using(run_after=due).enqueue(
                started.path, gate.path, "ok"
            )
            for _ in range(2)
        ),
        *(
            lambda due, n=n: tasks.record.using(
                run_after=due + timedelta(milliseconds=200)
            ).enqueue(str(record), f"later{n}")
            for n in range(3)
        ),
    )
    held, queued = results[:2], results[2:]
    assert sorted(started.expect(2)) == sorted(r.id for r in held)
    worker.process.send_signal(signal.SIGTERM)
    gate.open()
    code, _, err = worker.stop(0)  # signalled already: only wait for it
    started.close()

    assert code == 0, err
    for result in held:
        assert row(result.id).status == TaskResultStatus.SUCCESSFUL
    for result in queued:
        stored = row(result.id)
        assert stored.status == TaskResultStatus.READY
        assert stored.claimed_by is None
    assert executions(record) == []


def test_the_worker_refuses_aliases_it_cannot_run():
    with pytest.raises(CommandError, match="uses the memory store"):
        call_command("tasks_local", "worker", "--alias", "default")
    with pytest.raises(CommandError, match=r"is not in settings\.TASKS"):
        call_command("tasks_local", "worker", "--alias", "nowhere")


def test_prune_deletes_finished_rows_older_than_some_days():
    with durable("thread") as backend:
        old, recent = [wait(tasks.add.enqueue(n, n), timeout=DEADLINE) for n in (1, 2)]
        backend.runtime.store.flush(DEADLINE)
    TaskRecord.objects.filter(result_id=old.id).update(
        finished_at=timezone.now() - timedelta(days=10)
    )
    with override_settings(TASKS={"default": durable_config("thread")}):
        from io import StringIO

        out = StringIO()
        call_command("tasks_local", "prune", "--older-than", "7", stdout=out)

    assert "default: deleted 1 finished result(s)." in out.getvalue()
    assert not TaskRecord.objects.filter(result_id=old.id).exists()
    assert TaskRecord.objects.filter(result_id=recent.id).exists()
