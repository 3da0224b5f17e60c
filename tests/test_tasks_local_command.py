"""``manage.py tasks_local status | list | show | retry | cancel`` on the
database store, in this process (``call_command``) and, for the exit codes
that cron and health checks read, as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.tasks import TaskResultStatus
from django.utils import timezone

from django_tasks_local.models import TaskRecord
from tests.admin_support import in_memory, process_row, stored_row
from tests.database_support import ROOT, durable
from tests.support import DEADLINE

pytestmark = [pytest.mark.database, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def backend():
    with durable("thread") as backend:
        yield backend


def run(*args: str) -> str:
    out = StringIO()
    call_command("tasks_local", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def refused(*args: str) -> tuple[CommandError, str]:
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("tasks_local", *args, stdout=out, stderr=StringIO())
    return raised.value, out.getvalue()


def command(*args: str) -> subprocess.CompletedProcess:
    """``tasks_local`` as a process of its own, on the test database."""
    return subprocess.run(
        [sys.executable, "-m", "django", "tasks_local", *args],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_TASKS_LOCAL_TEST_STORE": "database",
        },
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


# -- status ----------------------------------------------------------------------------


def test_status_counts_each_alias_and_its_processes(backend):
    stored_row("READY")
    stored_row("READY", run_after=timezone.now() + timedelta(hours=1))
    stored_row("RUNNING", claimed_by="elsewhere:4242:99")
    stored_row("FAILED", finished=timedelta(seconds=5))
    stored_row("SUCCESSFUL", finished=timedelta(minutes=5))
    process_row("elsewhere:4242:99")

    out = run("status")
    assert out.splitlines()[0] == (
        "default (ThreadPoolBackend, database store): 1 ready, 1 running, 1 "
        "deferred; finished 1 in the last minute, 2 in the last hour (failed 1 "
        "and 1); 1 live process(es)"
    )
    assert "process elsewhere:4242:99: last heartbeat 1." in out
    assert "alive" in out and "PROBLEM" not in out


def test_status_exits_1_for_running_tasks_whose_lease_expired(backend):
    stored_row("RUNNING", claimed_by="dead:1:1", lease_left=timedelta(seconds=-1))
    process_row("alive:2:2")

    error, out = refused("status")
    assert error.returncode == 1
    assert "PROBLEM: 1 running task(s) whose lease expired" in out


def test_status_exits_1_for_due_tasks_and_no_live_process(backend):
    stored_row("READY")
    process_row("gone:3:3", silent=timedelta(minutes=5), lease=60)

    error, out = refused("status")
    assert error.returncode == 1
    assert "PROBLEM: 1 task(s) due and waiting, and no live process" in out
    assert "silent past its lease (60 s)" in out


def test_status_exit_codes_as_a_process(backend):
    stored_row("READY", run_after=timezone.now() + timedelta(hours=1))
    healthy = command("status")
    assert healthy.returncode == 0, healthy.stderr
    assert "0 ready, 0 running, 1 deferred" in healthy.stdout

    stored_row("READY")
    unhealthy = command("status")
    assert unhealthy.returncode == 1
    assert "PROBLEM: 1 task(s) due and waiting" in unhealthy.stdout
    assert "1 problem(s)" in unhealthy.stderr


def test_status_of_a_memory_store_alias_says_where_its_results_are():
    with in_memory():
        out = run("status")
    assert "default (ThreadPoolBackend, memory store): results live in the memory" in (
        out
    )
    error, _ = refused("status", "--alias", "nowhere")
    assert "Not an alias of django_tasks_local: nowhere" in str(error)


# -- list and show ---------------------------------------------------------------------


def test_list_newest_first_with_filters(backend):
    old = stored_row("FAILED", finished=timedelta(0), enqueued=timedelta(minutes=2))
    new = stored_row("SUCCESSFUL", finished=timedelta(0), return_value=3)
    other = stored_row("READY", queue_name="other")

    lines = run("list").splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [
        other.result_id,
        new.result_id,
        old.result_id,
    ]
    assert lines[-1] == "3 of 3 result(s)."
    assert lines[1].endswith("attempts 1  3")  # the return value
    assert run("list", "--status", "FAILED").splitlines()[0].startswith(old.result_id)
    assert run("list", "--queue", "other").splitlines()[0].startswith(other.result_id)
    out = run("list", "--limit", "1", "--alias", "default")
    assert out.splitlines()[-1] == "1 of 3 result(s)."
    assert "0 of 0 result(s)." in run("list", "--task", "no.such.task")


def test_show_prints_everything_a_result_holds(backend):
    row = stored_row(
        "FAILED",
        finished=timedelta(seconds=1),
        kwargs={"mode": "fast"},
        metadata={"progress": 7},
        errors=[
            {
                "exception_class_path": "builtins.ValueError",
                "traceback": "Traceback (most recent call last):\nValueError: no",
            }
        ],
    )

    out = run("show", row.result_id)
    for expected in (
        f"id:            {row.result_id}",
        "task:          tests.tasks.add",
        "alias:         default (database store)",
        "status:        FAILED",
        "attempts:      1",
        "worker ids:    elsewhere:4242:tasks-default-1",
        "args:\n    [\n      1,\n      2\n    ]",
        '"mode": "fast"',
        '"progress": 7',
        "error 1: builtins.ValueError\n    Traceback (most recent call last):\n"
        "    ValueError: no",
        "(ran 3.00 s)",
    ):
        assert expected in out, expected


def test_show_of_an_unknown_id_exits_1(backend):
    error, _ = refused("show", "no-such-id")
    assert error.returncode == 1 and "No task result no-such-id" in str(error)
    completed = command("show", "no-such-id")
    assert completed.returncode == 1
    assert "No task result no-such-id in the database" in completed.stderr


# -- retry and cancel ------------------------------------------------------------------


def test_retry_runs_the_task_again_and_waits_for_it(backend):
    old = stored_row("FAILED", finished=timedelta(0), args=[20, 22])

    out = run("retry", old.result_id)
    first = out.splitlines()[0]
    assert first.startswith(f"Retried {old.result_id} as ")
    new_id = first.split(" as ")[1].split()[0]
    assert f"{new_id}: SUCCESSFUL\nreturn value:\n    42" in out
    backend.runtime.store.flush(DEADLINE)  # as this process's exit would
    assert TaskRecord.objects.get(result_id=new_id).return_value == 42


def test_retry_exits_1_when_the_new_task_fails_or_is_refused(backend):
    failing = stored_row(
        "FAILED", finished=timedelta(0), task_path="tests.tasks.fail", args=["x"]
    )
    error, out = refused("retry", failing.result_id)
    assert error.returncode == 1 and "ended FAILED" in str(error)
    assert "ValueError: x" in out

    done = stored_row("SUCCESSFUL", finished=timedelta(0))
    error, _ = refused("retry", done.result_id)
    assert error.returncode == 1
    assert "only a FAILED task can be retried" in str(error)


def test_cancel_a_ready_task_or_say_why_not(backend):
    queued = stored_row("READY", run_after=timezone.now() + timedelta(hours=1))
    claimed = stored_row("READY", claimed_by="elsewhere:4242:99")

    out = run("cancel", queued.result_id)
    assert out.startswith(f"Cancelled {queued.result_id}: FAILED, ")
    assert "TaskCancelled" in out
    queued.refresh_from_db()
    assert queued.status == TaskResultStatus.FAILED

    error, _ = refused("cancel", claimed.result_id)
    assert error.returncode == 1
    assert "process elsewhere:4242:99 has claimed it" in str(error)
    error, _ = refused("cancel", queued.result_id)
    assert "has finished (FAILED)" in str(error)
