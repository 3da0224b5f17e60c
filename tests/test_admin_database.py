"""The admin on the database store: every process's rows (written here as
other processes leave them), their actions as conditional writes, and the
board's counts, processes and problems from a few indexed queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.tasks import TaskResultStatus
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_tasks_local import TaskCancelled, catalog, wait
from django_tasks_local.models import TaskRecord
from tests import tasks
from tests.admin_support import (
    ADMIN,
    no_pools_from_requests,
    process_row,
    stored_row,
    user,
)
from tests.database_support import durable
from tests.support import DEADLINE

pytestmark = [pytest.mark.database, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def backend():
    with no_pools_from_requests(), durable("thread") as backend:
        yield backend


@pytest.fixture
def operator() -> Client:
    client = Client()
    client.force_login(user("operator", "view", "add", "change", "delete"))
    return client


def page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response
    return response.content.decode()


def test_the_list_shows_every_process_rows(backend, operator):
    mine = wait(tasks.add.enqueue(2, 3), timeout=DEADLINE)
    backend.runtime.store.flush(DEADLINE)
    theirs = stored_row("FAILED", finished=timedelta(seconds=1))
    # Deferred: this process's pool (started by the enqueue above) would claim
    # it, and fail it for its task cannot be imported here.
    unimportable = stored_row(
        "READY",
        task_path="gone.tasks.vanished",
        run_after=timezone.now() + timedelta(hours=1),
    )

    html = page(operator, ADMIN)
    assert f'data-result-id="{mine.id}" data-status="SUCCESSFUL"' in html
    assert f'data-result-id="{theirs.result_id}" data-status="FAILED"' in html
    assert f'data-result-id="{unimportable.result_id}" data-status="READY"' in html
    assert "memory store" not in html  # no "this process only" note
    html = page(operator, f"{ADMIN}?status=FAILED")
    assert theirs.result_id in html and mine.id not in html
    html = page(operator, f"{ADMIN}?task=gone.tasks.vanished")
    assert unimportable.result_id in html and mine.id not in html
    html = page(operator, f"{ADMIN}?q={theirs.result_id[:6]}")
    assert theirs.result_id in html and mine.id not in html


def test_the_detail_page_shows_attempts_metadata_and_the_claim(backend, operator):
    errors = [
        {"exception_class_path": "builtins.OSError", "traceback": "OSError: first"},
        {"exception_class_path": "builtins.OSError", "traceback": "OSError: second"},
    ]
    row = stored_row(
        "FAILED",
        finished=timedelta(seconds=1),
        attempts=2,
        worker_ids=["a:1:tasks-default-1", "b:2:tasks-default-2"],
        errors=errors,
        metadata={"progress": [3, 10], "_internal": "kept"},
        kwargs={"mode": "fast"},
    )
    claimed = stored_row("READY", claimed_by="elsewhere:4242:99")

    html = page(operator, f"{ADMIN}{row.result_id}/")
    assert "OSError: first" in html and "OSError: second" in html
    assert "a:1:tasks-default-1" in html and "b:2:tasks-default-2" in html
    assert "<th>Attempts</th><td>2</td>" in html
    assert "&quot;progress&quot;: [\n    3,\n    10\n  ]" in html
    assert "_internal" in html  # everything a result holds
    assert "&quot;mode&quot;: &quot;fast&quot;" in html
    assert "default (database store)" in html
    html = page(operator, f"{ADMIN}{claimed.result_id}/")
    assert "elsewhere:4242:99" in html and 'id="cancel"' not in html
    assert "it can no longer be cancelled" in html


def test_retry_enqueues_a_row_of_another_process_again(backend, operator):
    old = stored_row("FAILED", finished=timedelta(seconds=1), args=[20, 22], priority=5)

    response = operator.post(f"{ADMIN}{old.result_id}/retry/", follow=True)
    old.refresh_from_db()
    [new_id] = old.metadata[catalog.RETRIED_AS]
    new = wait(backend.get_result(new_id), timeout=DEADLINE)
    assert new.return_value == 42 and new.task.priority == 5
    assert new.task.module_path == old.task_path and new.backend == "default"
    assert f'<a href="{ADMIN}{new_id}/"><code>{new_id}</code></a>' in (
        response.content.decode()
    )


def test_retry_of_a_task_that_cannot_be_imported_is_refused(backend, operator):
    old = stored_row("FAILED", task_path="gone.tasks.vanished", finished=timedelta(0))

    response = operator.post(f"{ADMIN}{old.result_id}/retry/", follow=True)
    assert "cannot be imported here" in response.content.decode()
    assert TaskRecord.objects.count() == 1


def test_cancel_an_unclaimed_ready_row(backend, operator, signals):
    queued = stored_row("READY", run_after=timezone.now() + timedelta(hours=1))
    again = stored_row(
        "READY",
        attempts=1,
        worker_ids=["a:1:t"],
        errors=[{"exception_class_path": "builtins.OSError", "traceback": "x"}],
    )

    for row in (queued, again):
        response = operator.post(f"{ADMIN}{row.result_id}/cancel/", follow=True)
        assert f"Task {row.result_id} cancelled." in response.content.decode()
        row.refresh_from_db()
        assert row.status == TaskResultStatus.FAILED
        assert row.finished_at is not None and row.claimed_by is None
        assert row.errors[-1]["exception_class_path"] == (
            "django_tasks_local.exceptions.TaskCancelled"
        )
        result = backend.get_result(row.result_id)
        assert result.errors[-1].exception_class is TaskCancelled
        [finished] = signals.of(row.result_id, "finished")
        assert finished.result.status == TaskResultStatus.FAILED
    assert len(again.errors) == 2  # the earlier attempt's error stays


def test_cancel_is_refused_for_a_claimed_running_or_finished_row(backend, operator):
    claimed = stored_row("READY", claimed_by="elsewhere:4242:99")
    running = stored_row("RUNNING", claimed_by="elsewhere:4242:99")
    done = stored_row("SUCCESSFUL", finished=timedelta(0))

    for row, why in (
        (claimed, "process elsewhere:4242:99 has claimed it and will start it soon"),
        (running, "a running task cannot be cancelled"),
        (done, "has finished (SUCCESSFUL)"),
    ):
        response = operator.post(f"{ADMIN}{row.result_id}/cancel/", follow=True)
        assert why in response.content.decode()
        before = row.status
        row.refresh_from_db()
        assert row.status == before


def test_a_claim_between_the_look_and_the_cancel_wins(backend, monkeypatch):
    """The cancel is one conditional UPDATE: a row claimed after the cancel read
    it is left to the process that claimed it."""
    from django_tasks_local import operations

    row = stored_row("READY", run_after=timezone.now() + timedelta(hours=1))
    seen = catalog.find(row.result_id)
    TaskRecord.objects.filter(pk=row.pk).update(claimed_by="elsewhere:4242:99")
    looks = iter([seen])
    real_find = catalog.find
    monkeypatch.setattr(
        catalog, "find", lambda result_id: next(looks, None) or real_find(result_id)
    )

    with pytest.raises(operations.Refused, match="elsewhere:4242:99 has claimed it"):
        operations.cancel(row.result_id)
    row.refresh_from_db()
    assert row.status == TaskResultStatus.READY


def test_delete_a_finished_row_only(backend, operator):
    done = stored_row("SUCCESSFUL", finished=timedelta(0))
    queued = stored_row("READY", run_after=timezone.now() + timedelta(hours=1))

    response = operator.post(
        ADMIN, {"action": "delete", "_selected": [done.result_id, queued.result_id]}
    )
    assert response.status_code == 302
    assert list(TaskRecord.objects.values_list("result_id", flat=True)) == [
        queued.result_id
    ]


def test_the_board_counts_every_process_tasks(backend, operator):
    now = timezone.now()
    stored_row("READY")
    stored_row("READY", claimed_by="elsewhere:4242:99")  # due, taken
    stored_row("READY", run_after=now + timedelta(hours=1))
    running = stored_row("RUNNING", claimed_by="elsewhere:4242:99")
    stored_row("SUCCESSFUL", finished=timedelta(seconds=10))
    failed = stored_row("FAILED", finished=timedelta(seconds=20))
    stored_row("FAILED", finished=timedelta(minutes=10))
    stored_row("SUCCESSFUL", finished=timedelta(hours=2))
    process_row("elsewhere:4242:99", silent=timedelta(seconds=3))
    process_row("gone:7:1", silent=timedelta(minutes=5), lease=60)

    part = page(operator, f"{ADMIN}board/live/")
    for name, count in {
        "ready": 2,
        "running": 1,
        "deferred": 1,
        "finished_minute": 2,
        "finished_hour": 3,
        "failed_hour": 2,
    }.items():
        assert f'<td data-count="{name}">{count}</td>' in part, name
    assert 'data-count="failed_minute" class="tasks-bad">1</td>' in part
    assert "1 alive" in part
    process = part.split('<tr data-process="elsewhere:4242:99">')[1].split("</tr>")[0]
    assert re.search(r"<td>3\.\d\d s ago</td>", process)  # its last heartbeat
    assert "silent past its lease (60.0 s)" in part
    assert f'data-result-id="{running.result_id}" data-status="RUNNING"' in part
    assert f'data-result-id="{failed.result_id}" data-status="FAILED"' in part
    assert "tasks-problem" not in part


def test_the_board_names_what_is_wrong(backend, operator):
    stored_row("RUNNING", claimed_by="dead:1:1", lease_left=timedelta(seconds=-5))
    part = page(operator, f"{ADMIN}board/live/")
    assert "1 running task(s) whose lease expired" in part
    assert "task(s) due and waiting" not in part

    stored_row("READY")
    part = page(operator, f"{ADMIN}board/live/")
    assert "1 task(s) due and waiting, and no live process runs the alias" in part


def test_the_boards_live_part_is_a_few_indexed_queries_and_starts_nothing(
    backend, operator
):
    for status in ("READY", "SUCCESSFUL", "FAILED"):
        stored_row(status, finished=None if status == "READY" else timedelta(0))
    stored_row("RUNNING", claimed_by="elsewhere:4242:99")
    process_row()

    with CaptureQueriesContext(connection) as queries:
        page(operator, f"{ADMIN}board/live/")
    ours = [q["sql"] for q in queries if "django_tasks_local" in q["sql"]]
    assert len(ours) <= 6, ours
    assert not backend.runtime.active  # no pool started, nothing enqueued
    if connection.vendor != "sqlite":
        return  # PostgreSQL plans a scan of so small a table anyway
    for sql in ours:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = " ".join(str(step[-1]) for step in cursor.fetchall())
        if "taskrecord" in sql and "ORDER BY" not in sql:
            assert "USING INDEX tasks_local_" in plan, (sql, plan)
