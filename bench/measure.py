"""One round of each kind of contender, and the helpers the cases share.

Each function measures one round and returns metric -> value. The backend and
the raw executor versions of a measurement do the same steps in the same order,
so the only difference left between them is the machinery under test.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor

from django.tasks import Task, task

from django_tasks_local import wait

from . import work
from .sizes import Size
from .stats import percentile

#: Seconds the benchmark waits for workers to pick up blocking tasks: reached
#: only if something is broken.
DEADLINE = 60


def noop_task(alias: str) -> Task:
    return task(work.noop, backend=alias)


@contextlib.contextmanager
def task_logs_at_info():
    """Django's default level for its task log receivers, for one round."""
    logger = logging.getLogger("django.tasks")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)


def micros(nanoseconds: list[int], fraction: float) -> float:
    return percentile(nanoseconds, fraction) / 1000


def backend_batch(noop: Task, count: int) -> dict[str, float]:
    """Enqueue ``count`` no-op tasks and wait until all are done: tasks/s."""
    enqueue = noop.enqueue
    backend = noop.get_backend()
    join = getattr(backend, "join", None)  # ImmediateBackend runs them inline
    gc.collect()
    start = time.perf_counter()
    results = [enqueue() for _ in range(count)]
    if join is not None:
        join()
    elapsed = time.perf_counter() - start
    del results
    return {"throughput": count / elapsed}


def executor_batch(executor: Executor, count: int) -> dict[str, float]:
    """Submit ``count`` no-op calls and wait until all are done: calls/s."""
    submit, function = executor.submit, work.noop
    gc.collect()
    start = time.perf_counter()
    futures = [submit(function) for _ in range(count)]
    concurrent.futures.wait(futures)
    elapsed = time.perf_counter() - start
    return {"throughput": count / elapsed}


def backend_latency(noop: Task, samples: int) -> dict[str, float]:
    """Time ``enqueue()`` and enqueue -> finished, one task at a time on an idle
    pool: the caller sees the finished result through ``wait()``."""
    enqueue = noop.enqueue
    calls, latencies = [], []
    clock = time.perf_counter_ns
    gc.collect()
    for _ in range(samples):
        start = clock()
        result = enqueue()
        enqueued = clock()
        wait(result, DEADLINE)
        finished = clock()
        calls.append(enqueued - start)
        latencies.append(finished - start)
    return latency_metrics(calls, latencies)


def executor_latency(executor: Executor, samples: int) -> dict[str, float]:
    """The raw executor's ``submit()`` time and submit -> ``result()``."""
    submit, function = executor.submit, work.noop
    calls, latencies = [], []
    clock = time.perf_counter_ns
    gc.collect()
    for _ in range(samples):
        start = clock()
        future = submit(function)
        enqueued = clock()
        future.result(DEADLINE)
        finished = clock()
        calls.append(enqueued - start)
        latencies.append(finished - start)
    return latency_metrics(calls, latencies)


def latency_metrics(calls: list[int], latencies: list[int]) -> dict[str, float]:
    return {
        "enqueue p50": micros(calls, 0.5),
        "enqueue p99": micros(calls, 0.99),
        "finished p50": micros(latencies, 0.5),
        "finished p99": micros(latencies, 0.99),
    }


def occupy_workers(submit_block: Callable[[], object], workers: int) -> list:
    """Start ``workers`` blocking tasks and return once each one is running."""
    work.gate.clear()
    handles = [submit_block() for _ in range(workers)]
    for _ in range(workers):
        if not work.entered.acquire(timeout=DEADLINE):
            raise RuntimeError("the workers never started the blocking tasks")
    return handles


def busy_enqueue_round(
    submit_block: Callable[[], object],
    submit_noop: Callable[[], object],
    wait_all: Callable[[list], object],
    workers: int,
    size: Size,
) -> dict[str, float]:
    """Time single enqueues while every worker is busy and ``busy_waiting`` tasks
    wait in the queue."""
    handles = occupy_workers(submit_block, workers)
    handles += [submit_noop() for _ in range(size.busy_waiting)]
    calls = []
    clock = time.perf_counter_ns
    gc.collect()
    for _ in range(size.busy_samples):
        start = clock()
        handles.append(submit_noop())
        calls.append(clock() - start)
    work.gate.set()
    wait_all(handles)
    return {"enqueue p50": micros(calls, 0.5), "enqueue p99": micros(calls, 0.99)}


def queued_batch(noop: Task, block: Task, workers: int, count: int) -> float:
    """Microseconds per task to enqueue ``count`` tasks behind busy workers, then
    run them all: the cost of one task with that many queued."""
    backend = noop.get_backend()
    occupy_workers(block.enqueue, workers)
    enqueue = noop.enqueue
    gc.collect()
    start = time.perf_counter()
    for _ in range(count):
        enqueue()
    work.gate.set()
    backend.join()
    return (time.perf_counter() - start) / count * 1e6


def spin_iterations(seconds: float) -> int:
    """How many ``spin`` iterations take about ``seconds`` on this machine."""
    probe = 200_000
    best = min(timed_spin(probe) for _ in range(3))
    return max(1_000, int(probe * seconds / best))


def timed_spin(iterations: int) -> float:
    start = time.perf_counter()
    work.spin(iterations)
    return time.perf_counter() - start
