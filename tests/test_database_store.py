"""The database store in one process, on the real test database (SQLite in WAL
mode; PostgreSQL under ``make test-postgres``), on both backends: rows the ORM
reads, transactional enqueue, exact statuses and signals, claims in priority
order, retention, and nothing dropped at close."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from django_tasks_local import TaskDropped, wait
from django_tasks_local.models import TaskRecord
from django_tasks_local.stores import claimer
from django_tasks_local.stores.database import DatabaseStore
from tests import tasks
from tests.database_support import durable, executions, row
from tests.support import DEADLINE

pytestmark = [pytest.mark.database, pytest.mark.django_db(transaction=True)]

KINDS = ["thread", "process"]


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


def test_a_row_per_result_that_the_orm_reads(kind, signals):
    with durable(kind) as backend:
        result = tasks.add.enqueue(2, 3)
        assert result.status == TaskResultStatus.READY
        assert row(result.id).enqueued_at == result.enqueued_at  # there at once
        wait(result, timeout=DEADLINE)
        assert backend.get_result(result.id).status == TaskResultStatus.SUCCESSFUL
        backend.runtime.store.flush(DEADLINE)
        stored = row(result.id)

    assert result.return_value == 5
    assert result.attempts == 1
    assert stored.alias == "default"
    assert stored.task_path == tasks.add.module_path
    assert stored.queue_name == "default"
    assert stored.priority == 0
    assert stored.args == [2, 3] and stored.kwargs == {}
    assert stored.status == TaskResultStatus.SUCCESSFUL
    assert stored.return_value == 5
    assert stored.errors == []
    assert stored.attempts == 1
    assert stored.worker_ids == result.worker_ids
    assert stored.enqueued_at == result.enqueued_at
    assert stored.started_at == result.started_at
    assert stored.finished_at == result.finished_at
    assert stored.claimed_by is None and stored.claim_token is None
    assert [s.name for s in signals.of(result.id)] == [
        "enqueued",
        "started",
        "finished",
    ]


def test_a_failure_is_stored_with_its_traceback(kind):
    with durable(kind) as backend:
        result = wait(tasks.fail.enqueue("it broke"), timeout=DEADLINE)
        backend.runtime.store.flush(DEADLINE)
        reread = backend.get_result(result.id)
        stored = row(result.id)

    assert result.status == TaskResultStatus.FAILED
    [error] = reread.errors
    assert error.exception_class_path == result.errors[0].exception_class_path
    assert "it broke" in error.traceback
    assert stored.errors == [
        {
            "exception_class_path": error.exception_class_path,
            "traceback": error.traceback,
        }
    ]


def test_statuses_are_exact_while_a_task_runs(kind, pipe_gate, signals):
    with durable(kind) as backend:
        gate = pipe_gate()
        result = tasks.wait_for_gate.enqueue(gate.path, "done")
        started = signals.wait_for("started", result.id)
        assert started.result.status == TaskResultStatus.RUNNING
        assert backend.get_result(result.id).status == TaskResultStatus.RUNNING
        # The row says RUNNING too, once the writer has committed.
        backend.runtime.store.flush(DEADLINE)
        assert row(result.id).status == TaskResultStatus.RUNNING
        gate.open()
        wait(result, timeout=DEADLINE)

    assert result.return_value == "done"


def test_a_rollback_leaves_no_task(kind, tmp_path):
    ran = tmp_path / "ran"
    with durable(kind) as backend:
        with pytest.raises(RuntimeError), transaction.atomic():
            result = tasks.record.enqueue(str(ran), "rolled-back")
            raise RuntimeError("the view failed")
        with pytest.raises(TaskResultDoesNotExist):
            backend.get_result(result.id)
        later = wait(tasks.record.enqueue(str(ran), "later"), timeout=DEADLINE)
        assert backend.join(DEADLINE)

    assert later.status == TaskResultStatus.SUCCESSFUL
    assert executions(ran) == ["later"]
    assert not TaskRecord.objects.filter(result_id=result.id).exists()


def test_a_commit_starts_the_task_at_once_and_not_before(kind, tmp_path):
    """POLL_INTERVAL is an hour: the task starts because of the commit."""
    ran = tmp_path / "ran"
    seen_from_another_thread = []
    with durable(kind, POLL_INTERVAL=3600) as backend:
        tasks.add.enqueue(0, 0)  # starts the pool, and its first look is over
        assert backend.join(DEADLINE)
        with transaction.atomic():
            result = tasks.record.enqueue(str(ran), "committed")

            def look() -> None:
                try:
                    backend.get_result(result.id)
                except TaskResultDoesNotExist:
                    seen_from_another_thread.append("nothing")

            reader = threading.Thread(target=look)
            reader.start()
            reader.join(DEADLINE)
            assert backend.get_result(result.id).status == TaskResultStatus.READY
        wait(result, timeout=DEADLINE)

    assert seen_from_another_thread == ["nothing"]
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert executions(ran) == ["committed"]


def test_results_are_read_through_every_api(kind):
    with durable(kind) as backend:
        result = wait(tasks.add.enqueue(4, 5), timeout=DEADLINE)
        backend.runtime.store.flush(DEADLINE)
        by_task = tasks.add.get_result(result.id)
        stale = backend.get_result(result.id)
        from asgiref.sync import async_to_sync

        by_async = async_to_sync(backend.aget_result)(result.id)

    assert by_task.return_value == by_async.return_value == stale.return_value == 9
    assert by_task.status == by_async.status == TaskResultStatus.SUCCESSFUL


@pytest.mark.parametrize("max_workers", [1])
def test_claims_follow_priority_then_enqueue_order(kind, max_workers, tmp_path):
    """Enqueued in one transaction, so none is claimed before all are there."""
    ran = tmp_path / "ran"
    order = [("low", -5), ("first", 0), ("top", 10), ("second", 0), ("high", 5)]
    with durable(kind, MAX_WORKERS=max_workers):
        with transaction.atomic():
            results = [
                tasks.record.using(priority=priority).enqueue(str(ran), label)
                for label, priority in order
            ]
        for result in results:
            wait(result, timeout=DEADLINE)

    assert executions(ran) == ["top", "high", "first", "second", "low"]


@pytest.mark.parametrize("max_workers", [1, 2])
def test_a_deep_queue_runs_without_waiting_for_a_poll(kind, max_workers):
    """More tasks than a process claims at once, and no poll for an hour: each
    claim is made as room opens here (for the process pool, whose supervisor
    takes jobs ahead of its workers, as they finish)."""
    count = 60
    with durable(kind, MAX_WORKERS=max_workers, POLL_INTERVAL=3600, LEASE=3600):
        with transaction.atomic():
            results = [tasks.add.enqueue(n, n) for n in range(count)]
        for result in results:
            wait(result, timeout=DEADLINE)

    assert [r.return_value for r in results] == [2 * n for n in range(count)]


def test_one_task_at_a_time_costs_no_claim_after_the_queue_is_empty(kind, monkeypatch):
    """Enqueued in autocommit with a worker free, each task is claimed as its
    row is written. Once a look has found the queue empty, a worker taking
    such a task does not send the claimer to look again at once (a write
    transaction per task, contending with the next enqueue): within the pause
    (an hour here), not at all."""
    monkeypatch.setattr(claimer, "REFILL_PAUSE_SECONDS", 3600)
    looks: list[int] = []
    real_claim = DatabaseStore._claim

    def counted_claim(store, limit):
        jobs, next_due = real_claim(store, limit)
        looks.append(len(jobs))
        return jobs, next_due

    monkeypatch.setattr(DatabaseStore, "_claim", counted_claim)
    with durable(kind, POLL_INTERVAL=3600, LEASE=3600) as backend:
        results = [wait(tasks.add.enqueue(n, 1), timeout=DEADLINE) for n in range(20)]
        assert backend.join(DEADLINE)

    assert [r.return_value for r in results] == [n + 1 for n in range(20)]
    # The look at the pool's start, and one more if a take came before it ended.
    assert 1 <= len(looks) <= 2
    assert sum(looks) == 0  # every task was claimed as it was written


def test_the_enqueue_order_column_is_the_vendors_cheapest_sequence():
    """On SQLite, no ``AUTOINCREMENT``: an enqueue's commit does not rewrite
    ``sqlite_sequence`` too. On PostgreSQL, Django's identity column, as for
    any ``BigAutoField``. Either way a new row sorts after every row present,
    even once the newest has been deleted."""
    table = TaskRecord._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s",
                [table],
            )
            [schema] = cursor.fetchone()
            assert "AUTOINCREMENT" not in schema.upper()
            assert '"seq" integer NOT NULL PRIMARY KEY' in schema
        else:
            cursor.execute(
                "SELECT is_identity FROM information_schema.columns "
                "WHERE table_name = %s AND column_name = 'seq'",
                [table],
            )
            assert cursor.fetchone() == ("YES",)
    with durable("thread", MAX_WORKERS=1):
        first, newest = (
            tasks.add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(n, n)
            for n in range(2)
        )
        TaskRecord.objects.filter(result_id=newest.id).delete()
        later = tasks.add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(
            2, 2
        )
        assert row(later.id).seq > row(first.id).seq


def test_max_results_keeps_the_most_recently_finished_rows(kind):
    with durable(kind, MAX_WORKERS=1, MAX_RESULTS=3) as backend:
        results = []
        for n in range(8):
            results.append(wait(tasks.add.enqueue(n, 0), timeout=DEADLINE))
            if n == 1:
                backend.get_result(results[0].id)  # reads do not count here
        backend.runtime.store.flush(DEADLINE)
        kept = list(
            TaskRecord.objects.filter(alias="default").values_list(
                "result_id", flat=True
            )
        )
        with pytest.raises(TaskResultDoesNotExist):
            backend.get_result(results[0].id)

    assert sorted(kept) == sorted(r.id for r in results[-3:])


def test_max_results_none_keeps_every_row(kind):
    with durable(kind, MAX_RESULTS=None) as backend:
        for n in range(12):
            tasks.add.enqueue(n, n)
        assert backend.join(DEADLINE)
    assert TaskRecord.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == 12


def test_close_leaves_queued_and_deferred_tasks_in_the_database(
    kind, pipe_gate, signals, tmp_path, caplog, monkeypatch
):
    """close() finishes the running task and gives every queued one back to the
    table, unclaimed; deferred ones were never claimed. A later pool runs them."""
    caplog.set_level("WARNING", logger="django_tasks_local")
    ran = tmp_path / "ran"
    given_back = threading.Event()
    real_detach = DatabaseStore.detach

    def detach(self, scheduler):
        jobs = real_detach(self, scheduler)
        given_back.set()
        return jobs

    monkeypatch.setattr(DatabaseStore, "detach", detach)
    with durable(kind, MAX_WORKERS=1) as backend:
        gate = pipe_gate()
        running = tasks.wait_for_gate.enqueue(gate.path, "finished")
        signals.wait_for("started", running.id)
        queued = [tasks.record.enqueue(str(ran), f"q{n}") for n in range(4)]
        later = timezone.now() + timedelta(hours=1)
        deferred = tasks.add.using(run_after=later).enqueue(1, 1)
        closer = threading.Thread(target=backend.close)
        closer.start()
        assert given_back.wait(DEADLINE)  # the queued ones are back in the table
        gate.open()
        closer.join(DEADLINE)
        assert not closer.is_alive()

        assert wait(running, timeout=0).return_value == "finished"
        for result in [*queued, deferred]:
            stored = row(result.id)
            assert stored.status == TaskResultStatus.READY
            assert stored.claimed_by is None and stored.claim_token is None
        assert executions(ran) == []
        assert "dropped" not in caplog.text

        # A fresh pool (the next process, or this one again) runs them, once.
        tasks.add.enqueue(0, 0)
        for result in queued:
            wait(result, timeout=DEADLINE)

    assert sorted(executions(ran)) == ["q0", "q1", "q2", "q3"]
    assert TaskDropped.__name__ not in caplog.text


def test_workers_never_wait_for_the_database(pipe_gate, signals, tmp_path):
    """While another connection holds the database's write lock, a task still
    starts, finishes and is reported in this process; its row follows once the
    lock is released."""
    with durable("thread") as backend:
        gate = pipe_gate()
        result = tasks.wait_for_gate.enqueue(gate.path, "through")
        signals.wait_for("started", result.id)
        with _write_lock_held_elsewhere():
            gate.open()
            wait(result, timeout=DEADLINE)
            assert signals.of(result.id, "finished")
            assert not backend.runtime.store.flush(0.2)  # the writer waits, alone
        assert backend.runtime.store.flush(DEADLINE)
        assert row(result.id).status == TaskResultStatus.SUCCESSFUL

    assert result.return_value == "through"


class _write_lock_held_elsewhere:
    """Hold the write lock of the test database from a connection of its own."""

    def __enter__(self):
        from django.db import connections

        self.connection = connections.create_connection("default")
        self.connection.ensure_connection()
        self.cursor = self.connection.cursor()
        if connection.vendor == "sqlite":
            self.cursor.execute("BEGIN IMMEDIATE")
        else:
            self.cursor.execute("BEGIN")
            self.cursor.execute(
                "LOCK TABLE django_tasks_local_taskrecord IN EXCLUSIVE MODE"
            )
        return self

    def __exit__(self, *exc):
        self.cursor.execute("ROLLBACK")
        self.cursor.close()
        self.connection.close()


def test_a_deferred_task_is_claimed_when_due_and_runs_then(kind):
    """Claimed from the table (a deferred task is never claimed as it is
    written): its run_after is read back as the moment it was, whatever the
    time zone of the process (Django sets it from TIME_ZONE)."""
    with durable(kind, POLL_INTERVAL=0.05) as backend:
        run_after = timezone.now() + timedelta(milliseconds=200)
        result = tasks.add.using(run_after=run_after).enqueue(1, 1)
        assert row(result.id).claimed_by is None
        wait(result, timeout=DEADLINE)
        assert backend.join(DEADLINE)

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.started_at >= run_after
    assert result.task.run_after == run_after
