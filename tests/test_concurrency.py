"""Many threads enqueuing, reading and closing at once lose nothing."""

import threading
from collections import Counter

from django.tasks import TaskResultStatus

from django_tasks_local import wait
from tests import tasks
from tests.support import DEADLINE

THREADS = 8
PER_THREAD = 40


def run_threads(target, count):
    errors = []

    def guarded(n):
        try:
            target(n)
        except BaseException as exc:  # noqa: BLE001 - the test asserts on these
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def test_max_workers_tasks_run_at_once_and_no_more(backend, signals, pipe_gate):
    # The backend fixture has MAX_WORKERS=2.
    gate = pipe_gate()
    held = [tasks.wait_for_gate.enqueue(gate.path, n) for n in range(3)]
    ids = [r.id for r in held]
    running = signals.wait_for_many("started", ids, 2)
    [waiting] = [r for r in held if r.id not in running]
    assert backend.get_result(waiting.id).status == TaskResultStatus.READY
    gate.open()
    assert [wait(r, timeout=DEADLINE).return_value for r in held] == [0, 1, 2]
    first_two = [r for r in held if r.id in running]
    # Two ran at once (both began before either ended); the third began only
    # once one of them had ended.
    assert max(r.started_at for r in first_two) <= min(r.finished_at for r in first_two)
    assert waiting.started_at >= min(r.finished_at for r in first_two)


def test_many_threads_enqueuing_and_reading_lose_nothing(backend, signals):
    results = {}
    start = threading.Barrier(THREADS)

    def enqueue_and_read(n):
        start.wait(DEADLINE)
        mine = []
        for i in range(PER_THREAD):
            result = tasks.add.enqueue(n * 1000, i)
            mine.append(result)
            # Read something of ours back at once, whatever state it is in.
            assert backend.get_result(mine[i // 2].id).id == mine[i // 2].id
        for i, result in enumerate(mine):
            wait(result, timeout=DEADLINE)
            assert result.return_value == n * 1000 + i
        results[n] = mine

    run_threads(enqueue_and_read, THREADS)
    ids = [r.id for mine in results.values() for r in mine]
    assert len(ids) == len(set(ids)) == THREADS * PER_THREAD
    assert backend.join(DEADLINE)
    for result_id in ids:
        assert backend.get_result(result_id).status == TaskResultStatus.SUCCESSFUL
    counts = Counter((s.name, s.result_id) for s in signals.sent)
    assert set(counts.values()) == {1}
    assert len(counts) == 3 * len(ids)


def test_enqueue_racing_close_loses_nothing(backend):
    enqueued = []
    lock = threading.Lock()
    start = threading.Barrier(4 + 1)

    def enqueue(n):
        if n == 4:
            start.wait(DEADLINE)
            for _ in range(5):
                backend.close()
            return
        start.wait(DEADLINE)
        for i in range(PER_THREAD):
            result = tasks.add.enqueue(n, i)
            with lock:
                enqueued.append((result, n + i))

    run_threads(enqueue, 4 + 1)
    assert backend.join(DEADLINE)
    for result, expected in enqueued:
        assert wait(result, timeout=DEADLINE).return_value == expected
    assert len(enqueued) == 4 * PER_THREAD
