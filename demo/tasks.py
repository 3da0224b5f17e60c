"""Tasks the demo enqueues. Module-level functions, as Django requires."""

import time

from django.tasks import task


@task
def fetch(url: str, seconds: float) -> str:
    """Stands in for I/O-bound work (an HTTP call): it mostly waits."""
    time.sleep(seconds)
    return f"fetched {url}"
