"""How much work each case does: ``full`` (the reference), ``quick``, ``tiny``."""

from __future__ import annotations

from dataclasses import dataclass


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
    #: No-op tasks per round of the database-store case (each one an INSERT, a
    #: claim and an UPDATE on a SQLite file: a few hundred per second), and its
    #: rounds.
    db_tasks: int
    db_rounds: int


SIZES = {
    "tiny": Size(
        "tiny",
        2,
        200,
        50,
        20,
        10,
        100,
        20,
        (50, 100, 200),
        2,
        200,
        0.002,
        db_tasks=20,
        db_rounds=1,
    ),
    "quick": Size(
        "quick",
        3,
        5_000,
        1_000,
        300,
        100,
        10_000,
        500,
        (1_000, 10_000),
        3,
        5_000,
        0.05,
        db_tasks=200,
        db_rounds=2,
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
        50_000,
        0.15,
        db_tasks=500,
        db_rounds=3,
    ),
}
