"""The tasks of the demo. Module-level functions, as Django requires; each names
the alias (set up in ``demo.__main__``) whose pool runs it."""

from __future__ import annotations

import time

from django.tasks import task

from . import progress

#: Steps each task reports progress in.
STEPS = 10


@task
def fetch(url: str, seconds: float) -> str:
    """I/O-bound: stands in for a download that takes ``seconds`` of waiting."""
    for done in range(1, STEPS + 1):
        time.sleep(seconds / STEPS)
        progress.report(done, STEPS)
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
