"""What operators do, below the admin and the command: the memory store's
reads that do not count as uses, and the refusals of ``operations``."""

from __future__ import annotations

import pytest
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist

from django_tasks_local import operations, wait
from tests import tasks
from tests.admin_support import in_memory
from tests.support import DEADLINE


def test_operators_reads_do_not_count_as_uses():
    """``peek`` and ``snapshots`` leave the least recently used order alone:
    an operator looking must not change which result is evicted next."""
    with in_memory(MAX_RESULTS=2) as backend:
        first, second = (
            wait(tasks.add.enqueue(n, n), timeout=DEADLINE) for n in (1, 2)
        )
        store = backend.runtime.store
        assert store.peek(first.id).return_value == 2
        assert {r.id for r in store.snapshots()} == {first.id, second.id}
        wait(tasks.add.enqueue(3, 3), timeout=DEADLINE)

        with pytest.raises(TaskResultDoesNotExist):
            store.peek(first.id)
        assert store.peek(second.id).status == TaskResultStatus.SUCCESSFUL


def test_forget_deletes_finished_results_only(event_gate):
    with in_memory() as backend:
        done = wait(tasks.add.enqueue(1, 1), timeout=DEADLINE)
        gate = event_gate()
        running = tasks.wait_for_event.enqueue(gate.name)
        store = backend.runtime.store

        assert store.forget(done.id) is True
        assert store.forget(done.id) is False
        assert store.forget(running.id) is False
        gate.open()
        assert wait(running, timeout=DEADLINE).status == TaskResultStatus.SUCCESSFUL


def test_a_ready_task_a_worker_has_taken_is_not_cancelled(monkeypatch, event_gate):
    """Between a worker taking a job and saying it started, the result is still
    READY but no longer in the queue: the cancel is refused, and the task runs."""
    with in_memory() as backend:
        gate = event_gate()
        held = tasks.wait_for_event.enqueue(gate.name, "ran")
        monkeypatch.setattr(backend.runtime, "withdraw", lambda result_id: None)
        monkeypatch.setattr(
            backend.runtime.store,
            "peek",
            lambda result_id: held,  # still READY
        )

        with pytest.raises(operations.Refused, match="a worker of this process has"):
            operations.cancel(held.id)
        monkeypatch.undo()
        gate.open()
        assert wait(held, timeout=DEADLINE).return_value == "ran"
