"""What a retry costs: a task that fails its first attempt and is retried at
once, against one that succeeds the first time, on an idle thread pool and in a
batch. Both take the context (as a retried task reads ``context.attempt``), so
the difference is the failed attempt: its traceback, the retry decision, the
result going back to READY, and the second hand-over to a worker."""

from __future__ import annotations

from django.tasks import task

from . import work
from .measure import backend_batch, backend_latency
from .model import Row, Section, alternate
from .sizes import Size

FIRST_TIME = "succeeds at once"
RETRIED = "fails, retried at once"


def retry_cost(size: Size) -> Section:
    section = Section(
        "What a retry costs, ThreadPoolBackend(4): enqueue -> finished (µs, one "
        "at a time) and throughput (tasks/s)"
    )
    options = {"takes_context": True, "backend": "threads"}
    once = task(work.succeeds, **options)
    retried = task(
        work.fails_first_attempt, max_attempts=2, backoff=work.at_once, **options
    )
    for contender in (once, retried):
        backend_latency(contender, 50)
    results = alternate(
        size.rounds,
        {
            FIRST_TIME: lambda: _both(once, size),
            RETRIED: lambda: _both(retried, size),
        },
    )
    for name in (FIRST_TIME, RETRIED):
        for metric, unit in (
            ("finished p50", "µs"),
            ("finished p99", "µs"),
            ("throughput", "tasks/s"),
        ):
            section.rows.append(Row(name, metric, unit, results[name][metric]))
    extra = (
        section.row(RETRIED, "finished p50").median
        - section.row(FIRST_TIME, "finished p50").median
    )
    section.notes.append(
        f"A retried task takes {extra:.0f} µs more from enqueue to finished than "
        "one that succeeds the first time (median of the rounds)."
    )
    return section


def _both(contender, size: Size) -> dict[str, float]:
    latency = backend_latency(contender, size.latency_samples)
    batch = backend_batch(contender, size.thread_tasks // 4)
    return {
        "finished p50": latency["finished p50"],
        "finished p99": latency["finished p99"],
        **batch,
    }
