"""The worker writes a record's start and end without the store's lock; readers
racing with those writes still see whole states, and no waiter is lost."""

import threading

from django.tasks import TaskResultStatus

from django_tasks_local import wait
from tests import tasks
from tests.support import DEADLINE

READY, RUNNING = TaskResultStatus.READY, TaskResultStatus.RUNNING
FINISHED = {TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED}


def _check_whole(snapshot):
    if snapshot.status == READY:
        assert snapshot.started_at is None and snapshot.worker_ids == []
        assert snapshot.finished_at is None
    elif snapshot.status == RUNNING:
        assert snapshot.started_at is not None and len(snapshot.worker_ids) == 1
        assert snapshot.finished_at is None
    else:
        assert snapshot.status in FINISHED
        assert snapshot.started_at is not None and len(snapshot.worker_ids) == 1
        assert snapshot.finished_at is not None
        assert snapshot.return_value == 3


def test_readers_and_waiters_racing_with_workers(backend, pipe_gate, signals):
    """A reader thread reads every result over and over while the workers run
    them; the first task is held RUNNING until the reader has seen it so, so all
    three kinds of state are read. Whatever it reads that is not whole is
    collected and fails the test here (an assertion in the reader's thread
    would only end that thread)."""
    gate = pipe_gate()
    held = tasks.wait_for_gate.enqueue(gate.path, 3)
    signals.wait_for("started", held.id)
    results = [held, *(tasks.add.enqueue(1, 2) for _ in range(400))]
    stop = threading.Event()
    saw_running = threading.Event()
    seen = set()
    broken = []  # what the reader saw that was not whole

    def reader():
        while not stop.is_set():
            for result in results:
                snapshot = backend.get_result(result.id)
                try:
                    _check_whole(snapshot)
                except Exception as error:  # noqa: BLE001 - every kind is a finding
                    broken.append((snapshot.status, repr(error)))
                seen.add(snapshot.status)
                if snapshot.id == held.id and snapshot.status == RUNNING:
                    saw_running.set()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert saw_running.wait(DEADLINE)
        gate.open()
        for result in results:  # each wait() races with that task's finish()
            wait(result, timeout=DEADLINE)
            _check_whole(result)
    finally:
        gate.open()
        stop.set()
        thread.join(DEADLINE)
    assert not thread.is_alive()
    assert broken == []
    assert {RUNNING, TaskResultStatus.SUCCESSFUL} <= seen
