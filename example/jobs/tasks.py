"""The example's tasks. Module-level functions, as Django requires.

Each task says which backend runs it: I/O-bound tasks stay on the ``default``
thread pool; CPU-bound ones go to the ``cpu`` process pool with
``@task(backend="cpu")``.
"""

from __future__ import annotations

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


@task
def build_report(rows: int, seconds_per_row: float) -> dict[str, int]:
    """I/O-bound with progress: each row stands in for a call to a slow API
    (``seconds_per_row`` of waiting), and progress is reported after each."""
    for done in range(1, rows + 1):
        time.sleep(seconds_per_row)
        progress.report(done, rows)
    return {"rows": rows}
