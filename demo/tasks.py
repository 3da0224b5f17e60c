"""The tasks of the demo. Module-level functions, as Django requires; each names
the alias (set up in ``demo.__main__``) whose pool runs it."""

from __future__ import annotations

import math
import os
import signal
import time

from django.tasks import task

from . import progress

#: Steps each task reports progress in.
STEPS = 10


@task(takes_context=True)
def fetch(context, url: str, seconds: float) -> str:
    """I/O-bound: stands in for a download that takes ``seconds`` of waiting."""
    for done in range(1, STEPS + 1):
        time.sleep(seconds / STEPS)
        progress.report(context, done, STEPS)
    return f"fetched {url}"


@task
def send_reminder(who: str) -> str:
    """Deferred with ``run_after``: starts when it is due, not before."""
    return f"reminded {who}"


@task
def charge_card(amount: int) -> str:
    """Fails: its error (class and traceback) is kept in the result."""
    raise ValueError(f"card declined for {amount} EUR")


@task(backend="serial")
def step(label: str, seconds: float) -> str:
    """One worker runs these one at a time, so the order they run in shows."""
    time.sleep(seconds)
    return label


@task(backend="cpu", takes_context=True)
def count_primes(context, limit: int) -> int:
    """CPU-bound: pure Python arithmetic, so threads would take turns on the GIL;
    worker processes run side by side on separate cores."""
    found = 0
    chunk = limit // STEPS
    for done in range(1, STEPS + 1):
        for n in range(max(2, (done - 1) * chunk), done * chunk):
            found += all(n % d for d in range(2, math.isqrt(n) + 1))
        progress.report(context, done, STEPS)
    return found


@task(backend="cpu")
def crash() -> None:
    """Kills its own worker process, as the OOM killer would."""
    os.kill(os.getpid(), signal.SIGKILL)


@task(backend="limited")
def hang() -> None:
    """Never finishes on its own (a deadlock, a hung connection): the alias's
    ``TIMEOUT`` ends its worker process."""
    time.sleep(3600)
