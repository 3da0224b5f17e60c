"""The cases of the benchmark, each measured against its contenders.

Every case builds its contenders once (pools started and warmed before the
first round), then ``alternate()`` runs them round by round. The raw
``concurrent.futures`` executors get the same function, the same number of
workers and the same measurement (from the first submit until every task is
done), so the ratios show what the backend's contract costs on top of them.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import logging
import multiprocessing
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

from django.tasks import Task, task, task_backends

from django_tasks_local import wait
from django_tasks_local.options import default_start_method

from . import work
from .django_setup import process_pool_available
from .model import Row, Section, Target, alternate
from .stats import percentile

#: Seconds the benchmark waits for workers to pick up blocking tasks: reached
#: only if something is broken.
DEADLINE = 60


@dataclass(frozen=True)
class Size:
    """How much work each case does. ``full`` is the reference; the others trade
    precision for time."""

    name: str
    rounds: int
    #: No-op tasks per round of the throughput cases.
    thread_tasks: int
    process_tasks: int
    #: Tasks timed one by one per round of the latency cases.
    latency_samples: int
    process_latency_samples: int
    #: Tasks waiting behind busy workers, and enqueues timed on top of them.
    busy_waiting: int
    busy_samples: int
    #: Queue depths of the flat-cost case, and its rounds.
    queued: tuple[int, ...]
    queued_rounds: int
    #: Finished results stored for the bytes-per-result case.
    memory_results: int
    #: Seconds one CPU-bound task takes on an idle core.
    cpu_task_seconds: float


SIZES = {
    "tiny": Size("tiny", 2, 200, 50, 20, 10, 100, 20, (50, 100, 200), 2, 200, 0.002),
    "quick": Size(
        "quick", 3, 5_000, 1_000, 300, 100, 10_000, 500, (1_000, 10_000), 3, 5_000, 0.05
    ),
    "full": Size(
        "full",
        5,
        20_000,
        5_000,
        2_000,
        400,
        10_000,
        2_000,
        (1_000, 10_000, 100_000),
        3,
        20_000,
        0.15,
    ),
}

THREAD_BACKEND = "ThreadPoolBackend(4)"
THREAD_BACKEND_INFO = "ThreadPoolBackend(4), task logs at INFO"
RAW_THREADS = "raw ThreadPoolExecutor(4)"
IMMEDIATE = "ImmediateBackend"
PROCESS_BACKEND = "ProcessPoolBackend(2)"
RAW_PROCESSES = "raw ProcessPoolExecutor(2)"

PROCESS_MISSING = (
    "ProcessPoolBackend is not in this version of django_tasks_local: "
    "its rows appear once it is."
)


def _noop_task(alias: str) -> Task:
    return task(work.noop, backend=alias)


@contextlib.contextmanager
def _task_logs_at_info():
    """Django's default level for its task log receivers, for one round."""
    logger = logging.getLogger("django.tasks")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)


def _micros(nanoseconds: list[int], fraction: float) -> float:
    return percentile(nanoseconds, fraction) / 1000


# -- one round of each kind of contender --------------------------------------


def _backend_batch(noop: Task, count: int) -> dict[str, float]:
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


def _executor_batch(executor: Executor, count: int) -> dict[str, float]:
    """Submit ``count`` no-op calls and wait until all are done: calls/s."""
    submit, function = executor.submit, work.noop
    gc.collect()
    start = time.perf_counter()
    futures = [submit(function) for _ in range(count)]
    concurrent.futures.wait(futures)
    elapsed = time.perf_counter() - start
    return {"throughput": count / elapsed}


def _backend_latency(noop: Task, samples: int) -> dict[str, float]:
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
    return _latency_metrics(calls, latencies)


def _executor_latency(executor: Executor, samples: int) -> dict[str, float]:
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
    return _latency_metrics(calls, latencies)


def _latency_metrics(calls: list[int], latencies: list[int]) -> dict[str, float]:
    return {
        "enqueue p50": _micros(calls, 0.5),
        "enqueue p99": _micros(calls, 0.99),
        "finished p50": _micros(latencies, 0.5),
        "finished p99": _micros(latencies, 0.99),
    }


def _occupy_workers(submit_block: Callable[[], object], workers: int) -> list:
    """Start ``workers`` blocking tasks and return once each one is running."""
    work.gate.clear()
    handles = [submit_block() for _ in range(workers)]
    for _ in range(workers):
        if not work.entered.acquire(timeout=DEADLINE):
            raise RuntimeError("the workers never started the blocking tasks")
    return handles


def _busy_enqueue(
    submit_block: Callable[[], object],
    submit_noop: Callable[[], object],
    wait_all: Callable[[list], object],
    workers: int,
    size: Size,
) -> dict[str, float]:
    """Time single enqueues while every worker is busy and ``busy_waiting`` tasks
    wait in the queue."""
    handles = _occupy_workers(submit_block, workers)
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
    return {"enqueue p50": _micros(calls, 0.5), "enqueue p99": _micros(calls, 0.99)}


def _queued_batch(noop: Task, block: Task, workers: int, count: int) -> float:
    """Microseconds per task to enqueue ``count`` tasks behind busy workers, then
    run them all: the cost of one task with that many queued."""
    backend = noop.get_backend()
    _occupy_workers(block.enqueue, workers)
    enqueue = noop.enqueue
    gc.collect()
    start = time.perf_counter()
    for _ in range(count):
        enqueue()
    work.gate.set()
    backend.join()
    return (time.perf_counter() - start) / count * 1e6


# -- the cases -----------------------------------------------------------------


def thread_throughput(size: Size) -> Section:
    section = Section("No-op throughput, 4 thread workers (tasks/s, higher is better)")
    backend, immediate = _noop_task("threads"), _noop_task("immediate")
    with ThreadPoolExecutor(4, thread_name_prefix="bench-raw") as executor:
        warm = max(100, size.thread_tasks // 10)
        _backend_batch(backend, warm)
        _executor_batch(executor, warm)
        _backend_batch(immediate, warm)

        def with_info_logs() -> dict[str, float]:
            with _task_logs_at_info():
                return _backend_batch(backend, size.thread_tasks)

        results = alternate(
            size.rounds,
            {
                THREAD_BACKEND: lambda: _backend_batch(backend, size.thread_tasks),
                THREAD_BACKEND_INFO: with_info_logs,
                RAW_THREADS: lambda: _executor_batch(executor, size.thread_tasks),
                IMMEDIATE: lambda: _backend_batch(immediate, size.thread_tasks),
            },
        )
    for name in (THREAD_BACKEND, THREAD_BACKEND_INFO, RAW_THREADS, IMMEDIATE):
        section.rows.append(
            Row(name, "throughput", "tasks/s", results[name]["throughput"])
        )
    ours = section.row(THREAD_BACKEND, "throughput")
    ratio = section.ratio(
        f"{THREAD_BACKEND} / {RAW_THREADS}",
        ours,
        section.row(RAW_THREADS, "throughput"),
    )
    section.ratio(
        f"{THREAD_BACKEND} / {IMMEDIATE}", ours, section.row(IMMEDIATE, "throughput")
    )
    section.ratio(
        f"{THREAD_BACKEND_INFO} / {RAW_THREADS}",
        section.row(THREAD_BACKEND_INFO, "throughput"),
        section.row(RAW_THREADS, "throughput"),
    )
    section.notes.append(
        "django.tasks logs at WARNING except in the 'task logs at INFO' row "
        "(Django's default): the raw executor logs nothing."
    )
    section.targets.append(
        Target(
            "thread throughput vs raw ThreadPoolExecutor",
            f"{ratio.median:.2f}x",
            ">= 1.0x (at least 0.6x)",
            ratio.median >= 1.0,
        )
    )
    return section


def _process_executor() -> ProcessPoolExecutor:
    """The raw executor, started the way the backend starts its workers."""
    method = default_start_method()
    if process_pool_available():
        method = task_backends["processes"].pool_options.start_method or method
    return ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method))


def process_throughput(size: Size) -> Section:
    section = Section("No-op throughput, 2 process workers (tasks/s, higher is better)")
    if not process_pool_available():
        section.notes.append(PROCESS_MISSING)
        return section
    backend = _noop_task("processes")
    with _process_executor() as executor:
        warm = max(50, size.process_tasks // 10)
        _backend_batch(backend, warm)
        _executor_batch(executor, warm)
        results = alternate(
            size.rounds,
            {
                PROCESS_BACKEND: lambda: _backend_batch(backend, size.process_tasks),
                RAW_PROCESSES: lambda: _executor_batch(executor, size.process_tasks),
            },
        )
    for name in (PROCESS_BACKEND, RAW_PROCESSES):
        section.rows.append(
            Row(name, "throughput", "tasks/s", results[name]["throughput"])
        )
    ratio = section.ratio(
        f"{PROCESS_BACKEND} / {RAW_PROCESSES}",
        section.row(PROCESS_BACKEND, "throughput"),
        section.row(RAW_PROCESSES, "throughput"),
    )
    section.targets.append(
        Target(
            "process throughput vs raw ProcessPoolExecutor",
            f"{ratio.median:.2f}x",
            ">= 1.5x (at least 1.0x)",
            ratio.median >= 1.5,
        )
    )
    return section


def _latency_rows(section: Section, results: dict, names: tuple[str, ...]) -> None:
    for name in names:
        for metric, values in results[name].items():
            section.rows.append(Row(name, metric, "µs", values))


def thread_latency(size: Size) -> Section:
    section = Section(
        "Idle thread pool, one task at a time: enqueue() call and enqueue -> "
        "finished (µs, lower is better)"
    )
    backend = _noop_task("threads")
    with ThreadPoolExecutor(4, thread_name_prefix="bench-raw") as executor:
        _backend_latency(backend, 50)
        _executor_latency(executor, 50)
        results = alternate(
            size.rounds,
            {
                THREAD_BACKEND: lambda: _backend_latency(backend, size.latency_samples),
                RAW_THREADS: lambda: _executor_latency(executor, size.latency_samples),
            },
        )
    _latency_rows(section, results, (THREAD_BACKEND, RAW_THREADS))
    enqueue = section.row(THREAD_BACKEND, "enqueue p50").median
    finished = section.row(THREAD_BACKEND, "finished p50").median
    section.targets += [
        Target("enqueue() p50, idle", f"{enqueue:.1f} µs", "<= 25 µs", enqueue <= 25),
        Target(
            "enqueue -> finished p50, idle, threads",
            f"{finished:.1f} µs",
            "<= 100 µs",
            finished <= 100,
        ),
    ]
    return section


def busy_enqueue(size: Size) -> Section:
    section = Section(
        f"enqueue() with all 4 workers busy and {size.busy_waiting:,} tasks waiting "
        "(µs, lower is better)"
    )
    noop, block = _noop_task("threads"), task(work.block, backend="threads")
    backend = noop.get_backend()
    with ThreadPoolExecutor(4, thread_name_prefix="bench-raw") as executor:

        def raw_round() -> dict[str, float]:
            return _busy_enqueue(
                lambda: executor.submit(work.block),
                lambda: executor.submit(work.noop),
                concurrent.futures.wait,
                4,
                size,
            )

        def backend_round() -> dict[str, float]:
            return _busy_enqueue(
                block.enqueue, noop.enqueue, lambda _: backend.join(), 4, size
            )

        results = alternate(
            size.rounds, {THREAD_BACKEND: backend_round, RAW_THREADS: raw_round}
        )
    _latency_rows(section, results, (THREAD_BACKEND, RAW_THREADS))
    p99 = section.row(THREAD_BACKEND, "enqueue p99").median
    section.targets.append(
        Target(
            f"enqueue() p99, {size.busy_waiting:,} waiting",
            f"{p99:.1f} µs",
            "<= 100 µs",
            p99 <= 100,
        )
    )
    return section


def process_latency(size: Size) -> Section:
    section = Section(
        "Idle process pool, one task at a time: enqueue() call and enqueue -> "
        "finished (µs, lower is better)"
    )
    if not process_pool_available():
        section.notes.append(PROCESS_MISSING)
        return section
    backend = _noop_task("processes")
    samples = size.process_latency_samples
    with _process_executor() as executor:
        _backend_latency(backend, 20)
        _executor_latency(executor, 20)
        results = alternate(
            size.rounds,
            {
                PROCESS_BACKEND: lambda: _backend_latency(backend, samples),
                RAW_PROCESSES: lambda: _executor_latency(executor, samples),
            },
        )
    _latency_rows(section, results, (PROCESS_BACKEND, RAW_PROCESSES))
    finished = section.row(PROCESS_BACKEND, "finished p50").median
    section.targets.append(
        Target(
            "enqueue -> finished p50, idle, processes",
            f"{finished:.1f} µs",
            "<= 300 µs",
            finished <= 300,
        )
    )
    return section


def queued(size: Size) -> Section:
    section = Section(
        "Cost per task with N queued behind 4 busy workers, enqueue + run "
        "(µs/task, lower is better)"
    )
    noop, block = _noop_task("threads"), task(work.block, backend="threads")
    _queued_batch(noop, block, 4, size.queued[0])
    results = alternate(
        size.queued_rounds,
        {
            f"{count:,} queued": (
                lambda count=count: {"per task": _queued_batch(noop, block, 4, count)}
            )
            for count in size.queued
        },
    )
    for name, metrics in results.items():
        section.rows.append(Row(name, "per task", "µs", metrics["per task"]))
    first, last = size.queued[0], size.queued[-1]
    ratio = section.ratio(
        f"{last:,} queued / {first:,} queued",
        section.row(f"{last:,} queued", "per task"),
        section.row(f"{first:,} queued", "per task"),
    )
    section.targets.append(
        Target(
            f"per-task cost, {last:,} vs {first:,} queued",
            f"{ratio.median:.2f}x",
            "<= 1.3x",
            ratio.median <= 1.3,
        )
    )
    return section


def memory(size: Size) -> Section:
    """Bytes one finished result keeps in the store, from tracemalloc.

    The task takes no argument and returns None; the record's own (empty) args
    list and kwargs dict are arguments and are counted apart.
    """
    section = Section("Memory per stored finished result (bytes, lower is better)")
    noop = _noop_task("memory")
    backend = noop.get_backend()
    count = size.memory_results
    for _ in range(100):  # start the pool and warm every cache first
        noop.enqueue()
    backend.join()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        last = None
        for _ in range(count):
            last = noop.enqueue().id
        backend.join()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    stored = backend.get_result(last)
    arguments = sys.getsizeof(stored.args) + sys.getsizeof(stored.kwargs)
    total = (after - before) / count
    section.rows += [
        Row("ThreadPoolBackend", "all of it", "bytes", [total]),
        Row("ThreadPoolBackend", "args aside", "bytes", [total - arguments]),
    ]
    section.notes.append(
        f"{count:,} finished no-op results kept; 'args aside' leaves out each "
        f"record's own empty args list and kwargs dict ({arguments} bytes)."
    )
    per_result = total - arguments
    section.targets.append(
        Target(
            "bytes per stored finished result",
            f"{per_result:.0f} bytes",
            "<= 400 bytes",
            per_result <= 400,
        )
    )
    backend.close()
    return section


def _spin_iterations(seconds: float) -> int:
    """How many ``spin`` iterations take about ``seconds`` on this machine."""
    probe = 200_000
    best = min(_timed_spin(probe) for _ in range(3))
    return max(1_000, int(probe * seconds / best))


def _timed_spin(iterations: int) -> float:
    start = time.perf_counter()
    work.spin(iterations)
    return time.perf_counter() - start


def cpu_bound(size: Size) -> Section:
    iterations = _spin_iterations(size.cpu_task_seconds)
    section = Section(
        f"8 CPU-bound tasks of ~{size.cpu_task_seconds * 1000:.0f} ms on 2 workers "
        "(wall seconds, lower is better)"
    )
    thread_task = task(work.spin, backend="threads2")
    contenders: dict[str, Callable[[], dict[str, float]]] = {}

    def backend_round(spin: Task) -> dict[str, float]:
        start = time.perf_counter()
        for _ in range(8):
            spin.enqueue(iterations)
        spin.get_backend().join()
        return {"wall": time.perf_counter() - start}

    def executor_round(executor: Executor) -> dict[str, float]:
        start = time.perf_counter()
        futures = [executor.submit(work.spin, iterations) for _ in range(8)]
        concurrent.futures.wait(futures)
        return {"wall": time.perf_counter() - start}

    with _process_executor() as executor:
        executor_round(executor)  # start its processes
        if process_pool_available():
            process_task = task(work.spin, backend="processes")
            backend_round(process_task)
            contenders[PROCESS_BACKEND] = lambda: backend_round(process_task)
        else:
            section.notes.append(PROCESS_MISSING)
        contenders[RAW_PROCESSES] = lambda: executor_round(executor)
        contenders["ThreadPoolBackend(2)"] = lambda: backend_round(thread_task)
        results = alternate(size.rounds, contenders)
    for name, metrics in results.items():
        section.rows.append(Row(name, "wall", "s", metrics["wall"]))
    threads = section.row("ThreadPoolBackend(2)", "wall")
    for name in contenders:
        if name != "ThreadPoolBackend(2)":
            section.ratio(
                f"ThreadPoolBackend(2) / {name} (speed-up of processes)",
                threads,
                section.row(name, "wall"),
            )
    return section


#: Every case, in the order they run and print.
CASES: dict[str, Callable[[Size], Section]] = {
    "thread-throughput": thread_throughput,
    "process-throughput": process_throughput,
    "thread-latency": thread_latency,
    "busy-enqueue": busy_enqueue,
    "process-latency": process_latency,
    "queued": queued,
    "memory": memory,
    "cpu": cpu_bound,
}
