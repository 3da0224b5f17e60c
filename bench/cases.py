"""The cases of the benchmark, each measured against its contenders.

Every case builds its contenders once (pools started and warmed before the
first round), then ``alternate()`` runs them round by round. The raw
``concurrent.futures`` executors get the same function, the same number of
workers and the same measurement (from the first submit until every task is
done), so the ratios show what the backend's contract costs on top of them.
"""

from __future__ import annotations

import concurrent.futures
import gc
import multiprocessing
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from django.tasks import Task, task, task_backends

from django_tasks_local.options import default_start_method

from . import work
from .database import database_store
from .django_setup import process_pool_available
from .floor import django_floor
from .measure import (
    backend_batch,
    backend_latency,
    busy_enqueue_round,
    executor_batch,
    executor_latency,
    noop_task,
    queued_batch,
    spin_iterations,
    task_logs_at_info,
)
from .model import Row, Section, Target, alternate
from .retries import retry_cost
from .sizes import Size

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


# -- the cases -----------------------------------------------------------------


def thread_throughput(size: Size) -> Section:
    section = Section("No-op throughput, 4 thread workers (tasks/s, higher is better)")
    backend, immediate = noop_task("threads"), noop_task("immediate")
    with ThreadPoolExecutor(4, thread_name_prefix="bench-raw") as executor:
        warm = max(100, size.thread_tasks // 10)
        backend_batch(backend, warm)
        executor_batch(executor, warm)
        backend_batch(immediate, warm)

        def with_info_logs() -> dict[str, float]:
            with task_logs_at_info():
                return backend_batch(backend, size.thread_tasks)

        results = alternate(
            size.rounds,
            {
                THREAD_BACKEND: lambda: backend_batch(backend, size.thread_tasks),
                THREAD_BACKEND_INFO: with_info_logs,
                RAW_THREADS: lambda: executor_batch(executor, size.thread_tasks),
                IMMEDIATE: lambda: backend_batch(immediate, size.thread_tasks),
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
    backend = noop_task("processes")
    with _process_executor() as executor:
        warm = max(50, size.process_tasks // 10)
        backend_batch(backend, warm)
        executor_batch(executor, warm)
        results = alternate(
            size.rounds,
            {
                PROCESS_BACKEND: lambda: backend_batch(backend, size.process_tasks),
                RAW_PROCESSES: lambda: executor_batch(executor, size.process_tasks),
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
    backend = noop_task("threads")
    with ThreadPoolExecutor(4, thread_name_prefix="bench-raw") as executor:
        backend_latency(backend, 50)
        executor_latency(executor, 50)
        results = alternate(
            size.rounds,
            {
                THREAD_BACKEND: lambda: backend_latency(backend, size.latency_samples),
                RAW_THREADS: lambda: executor_latency(executor, size.latency_samples),
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
    noop, block = noop_task("threads"), task(work.block, backend="threads")
    backend = noop.get_backend()
    with ThreadPoolExecutor(4, thread_name_prefix="bench-raw") as executor:

        def raw_round() -> dict[str, float]:
            return busy_enqueue_round(
                lambda: executor.submit(work.block),
                lambda: executor.submit(work.noop),
                concurrent.futures.wait,
                4,
                size,
            )

        def backend_round() -> dict[str, float]:
            return busy_enqueue_round(
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
    backend = noop_task("processes")
    samples = size.process_latency_samples
    with _process_executor() as executor:
        backend_latency(backend, 20)
        executor_latency(executor, 20)
        results = alternate(
            size.rounds,
            {
                PROCESS_BACKEND: lambda: backend_latency(backend, samples),
                RAW_PROCESSES: lambda: executor_latency(executor, samples),
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
    noop, block = noop_task("threads"), task(work.block, backend="threads")
    queued_batch(noop, block, 4, size.queued[0])
    results = alternate(
        size.queued_rounds,
        {
            f"{count:,} queued": (
                lambda count=count: {"per task": queued_batch(noop, block, 4, count)}
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
    """Bytes one finished result keeps in the store, from tracemalloc, all of it
    counted: the record, its id, its place in the store, its arguments.

    Two tasks: one that takes no argument (the store keeps no empty containers
    for it), and one that takes a small int and a short string, as a typical
    ``send_email(user_id, template)`` would. Both return None.
    """
    section = Section("Memory per stored finished result (bytes, lower is better)")
    noop = noop_task("memory")
    welcome = task(work.send_welcome, backend="memory")
    backend = noop.get_backend()
    count = size.memory_results
    for _ in range(100):  # start the pool and warm every cache first
        noop.enqueue()
        welcome.enqueue(7, "welcome")
    backend.join()
    per_result = {}
    for label, enqueue in (
        ("no arguments", noop.enqueue),
        ("args (int, short str)", lambda: welcome.enqueue(123456, "welcome")),
    ):
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(count):
                enqueue()
            backend.join()
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        per_result[label] = (after - before) / count
        section.rows.append(
            Row("ThreadPoolBackend", label, "bytes", [per_result[label]])
        )
        backend.close()  # the next round starts from an empty store
    section.notes.append(
        f"{count:,} finished results kept per row (MAX_RESULTS is larger); "
        "arguments included, and small ints are shared by Python."
    )
    total = per_result["no arguments"]
    section.targets.append(
        Target(
            "bytes per stored finished result",
            f"{total:.0f} bytes",
            "<= 400 bytes, arguments included",
            total <= 400,
        )
    )
    return section


def cpu_bound(size: Size) -> Section:
    iterations = spin_iterations(size.cpu_task_seconds)
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
    "floor": django_floor,
    "database": database_store,
    "retry": retry_cost,
}
