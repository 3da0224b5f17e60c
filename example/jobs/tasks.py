"""The example's tasks. Module-level functions, as Django requires.

Each task says which backend runs it: I/O-bound tasks stay on the ``default``
thread pool; CPU-bound ones go to the ``cpu`` process pool with
``@task(backend="cpu")``.
"""

from __future__ import annotations

import math
import time

from django.core.mail import send_mail
from django.tasks import task

from . import progress


@task
def send_welcome_email(address: str) -> int:
    """I/O-bound: talks to a mail server. Returns how many messages were sent."""
    return send_mail(
        "Welcome!",
        "Thanks for signing up.",
        None,
        [address],
    )


@task(takes_context=True)
def build_report(context, rows: int, seconds_per_row: float) -> dict[str, int]:
    """I/O-bound with progress: each row stands in for a call to a slow API
    (``seconds_per_row`` of waiting), and progress is reported after each."""
    for done in range(1, rows + 1):
        time.sleep(seconds_per_row)
        progress.report(context, done, rows)
    return {"rows": rows}


@task(backend="cpu", takes_context=True)
def count_primes(context, limit: int) -> int:
    """CPU-bound, on the ``cpu`` process pool: counts the primes below ``limit``
    in ten slices, reporting progress after each (from the worker process, as
    the result's metadata)."""
    slices = 10
    found = 0
    for done in range(1, slices + 1):
        for n in range(max(2, limit * (done - 1) // slices), limit * done // slices):
            found += all(n % d for d in range(2, math.isqrt(n) + 1))
        progress.report(context, done, slices)
    return found
