"""When a failed attempt is tried again: ``max_attempts`` and ``backoff``.

A failed attempt (the task raised, its worker died, it ran past its time limit)
is retried while the task has attempts left and its ``backoff`` gives a delay:

::

    attempt fails ──► attempts left?  no ──► FAILED, task_finished
                          │ yes
                          ▼
                      backoff(exception, task_result) ── None ──► FAILED
                          │ seconds
                          ▼
                      READY, run_after = now + seconds (errors and worker ids
                      kept); the next attempt is claimed like any task

The decision is taken where the exception is: in the worker (thread or process)
for what the task raised, in the process that ended or lost the worker for
``WorkerDied`` and ``TimeoutError``.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("django_tasks_local")

Backoff = Callable[[BaseException, Any], "float | None"]


class exponential:  # lower case: used like a function, exponential(base=2)
    """The default backoff: ``factor * base ** (attempt - 1)`` seconds, at most
    ``cap``, with jitter.

    The jitter keeps half the delay and draws the other half at random, so tasks
    that failed together (a database that was down) do not all come back at the
    same instant, and no retry comes back sooner than half its delay. With
    ``jitter=False`` the delay is exact (tests, predictable schedules).
    """

    def __init__(
        self,
        base: float = 2.0,
        factor: float = 1.0,
        cap: float = 300.0,
        jitter: bool = True,
    ) -> None:
        for name, value in (("base", base), ("factor", factor), ("cap", cap)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(
                    f"exponential({name}=...) must be a number; got {value!r}"
                )
        if base < 1 or factor < 0 or cap < 0 or not math.isfinite(cap):
            raise ValueError(
                "exponential() needs base >= 1, factor >= 0 and a finite cap >= 0; "
                f"got base={base!r}, factor={factor!r}, cap={cap!r}"
            )
        self.base = base
        self.factor = factor
        self.cap = cap
        self.jitter = jitter

    def __call__(self, exception: BaseException, task_result: Any) -> float:
        attempt = max(1, task_result.attempts)
        try:
            delay = min(self.cap, self.factor * self.base ** (attempt - 1))
        except OverflowError:
            delay = self.cap
        if self.jitter:
            delay = delay / 2 + random.uniform(0, delay / 2)
        return delay

    def __eq__(self, other: object) -> bool:
        return isinstance(other, exponential) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((self.base, self.factor, self.cap, self.jitter))

    def __repr__(self) -> str:
        return (
            f"exponential(base={self.base!r}, factor={self.factor!r}, "
            f"cap={self.cap!r}, jitter={self.jitter!r})"
        )


DEFAULT_BACKOFF = exponential()


def retry_delay(
    task: Any,
    attempt: int,
    max_attempts: int,
    exception: BaseException,
    failed_result: Callable[[], Any],
) -> float | None:
    """Seconds until the next attempt, or None: no attempt left, or the backoff
    said stop (or failed: a broken backoff must not retry for ever)."""
    if attempt >= max_attempts:
        return None
    backoff = getattr(task, "backoff", None) or DEFAULT_BACKOFF
    try:
        delay = backoff(exception, failed_result())
    except Exception:
        logger.exception(
            "The backoff of task %s raised; the task is not retried.", task.module_path
        )
        return None
    if delay is None:
        return None
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not (0 <= delay < math.inf)
    ):
        logger.error(
            "The backoff of task %s returned %r, not a number of seconds >= 0 or "
            "None; the task is not retried.",
            task.module_path,
            delay,
        )
        return None
    return float(delay)
