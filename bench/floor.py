"""The part of each task's cost that Django's contract fixes, measured alone.

Whatever the pool, a backend that keeps Django's task contract does this much
work per task, with Django's own code:

- three ``TaskResult`` objects: the one ``enqueue()`` returns and the snapshots
  ``task_started`` and ``task_finished`` carry (built as cheaply as this package
  builds them);
- three signal sends, each running Django's own log receiver;
- ``close_old_connections()`` before and after the task;
- ``Task.enqueue()`` looking its backend up (``task_backends[alias]``).

Set against the whole per-task cost of a raw ``ThreadPoolExecutor(4)`` measured
in the same rounds, it shows how close to the raw executor a backend can get.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections
from django.tasks import TaskResultStatus
from django.tasks.signals import task_started

from django_tasks_local import ThreadPoolBackend, dispatch
from django_tasks_local.results import build_result

from .measure import executor_batch, noop_task
from .model import Row, Section, alternate
from .sizes import Size

DJANGO = "Django's own work"
RAW = "raw ThreadPoolExecutor(4), whole task"


def _micros_per_call(function: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls * 1e6


def _django_round(calls: int) -> dict[str, float]:
    noop = noop_task("threads")

    def snapshot():
        return build_result(
            task=noop,
            result_id="0" * 36,
            status=TaskResultStatus.SUCCESSFUL,
            enqueued_at=1.0,
            started_at=2.0,
            finished_at=3.0,
            args=[],
            kwargs={},
            backend="threads",
            errors=[],
            worker_ids=["worker"],
        )

    result = snapshot()
    parts = {
        "3 TaskResults": 3 * _micros_per_call(snapshot, calls),
        "3 signal sends": 3
        * _micros_per_call(
            lambda: dispatch.send_robust(
                task_started, ThreadPoolBackend, task_result=result
            ),
            calls,
        ),
        "2 close_old_connections()": 2 * _micros_per_call(close_old_connections, calls),
        "Task.get_backend()": _micros_per_call(noop.get_backend, calls),
    }
    parts["per task, in all"] = sum(parts.values())
    return parts


def django_floor(size: Size) -> Section:
    section = Section(
        "Work per task that Django's contract fixes, against a whole raw task "
        "(µs per task, measured alone)"
    )
    calls = size.thread_tasks
    with ThreadPoolExecutor(4, thread_name_prefix="bench-raw") as executor:
        executor_batch(executor, calls)
        results = alternate(
            size.rounds,
            {
                DJANGO: lambda: _django_round(calls),
                RAW: lambda: {
                    "per task": 1e6 / executor_batch(executor, calls)["throughput"]
                },
            },
        )
    for metric, values in results[DJANGO].items():
        section.rows.append(Row(DJANGO, metric, "µs", values))
    section.rows.append(Row(RAW, "per task", "µs", results[RAW]["per task"]))
    section.ratio(
        f"{DJANGO} / {RAW}",
        section.row(DJANGO, "per task, in all"),
        section.row(RAW, "per task"),
    )
    section.notes.append(
        "At a ratio r, a backend keeping the contract reaches at most 1/r of the "
        "raw executor's throughput, before any cost of its own; at r >= 1.0 the "
        "contract's own work alone costs a whole raw task."
    )
    return section
