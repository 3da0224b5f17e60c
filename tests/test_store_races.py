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


def test_readers_and_waiters_racing_with_workers(backend):
    results = [tasks.add.enqueue(1, 2) for _ in range(400)]
    stop = threading.Event()
    seen = []

    def reader():
        while not stop.is_set():
            for result in results:
                snapshot = backend.get_result(result.id)
                _check_whole(snapshot)
                seen.append(snapshot.status)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for result in results:  # each wait() races with that task's finish()
            wait(result, timeout=DEADLINE)
            _check_whole(result)
    finally:
        stop.set()
        thread.join(DEADLINE)
    assert seen
