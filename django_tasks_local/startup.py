"""Starting the database-store pools of a web process with its first request.

With ``STORE = "database"``, tasks enqueued by other processes (or left from
before a restart) run wherever a pool of the alias is started. A web process
starts its pools when it serves its first request (Django's
``request_started``), so every server process of a site takes its share of the
queue, while management commands (``migrate``, ``shell``) start no pool unless
they enqueue.
"""

from __future__ import annotations

import os
from typing import Any

#: The process that started its pools already (a forked child starts its own).
_started_in: int | None = None


def start_database_pools(**kwargs: Any) -> None:
    """``request_started`` receiver: start every database-store pool, once."""
    global _started_in
    if _started_in == os.getpid():
        return
    _started_in = os.getpid()
    for backend in database_backends():
        backend.runtime.start()


def database_backends() -> list:
    """The backends of ``settings.TASKS`` that are ours and use the database store."""
    from django.tasks import task_backends

    from .backends import LocalBackend

    backends = []
    for alias in task_backends.settings:
        backend = task_backends[alias]
        if (
            isinstance(backend, LocalBackend)
            and backend.pool_options.store == "database"
        ):
            backends.append(backend)
    return backends
