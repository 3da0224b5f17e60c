"""A process that only runs queues: ``manage.py tasks_local worker``.

For sites that want the work off their web processes, or on more hosts sharing
one PostgreSQL database: the same pools, claims, leases and recovery as inside a
web process, with nothing else in the process.

::

    start the pools of the chosen database-store aliases
    wait for SIGTERM or SIGINT (Ctrl-C)
        ─► close each alias: running tasks finish, queued ones go back to the
           table for the other processes, this process's row goes
    a second signal while closing: exit at once (the leases of the tasks
    still running then expire, and another process recovers them)
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError
from django.tasks import task_backends

from .backends import LocalBackend
from .identity import process_id


def database_aliases(chosen: list[str] | None) -> list[str]:
    """The aliases the worker runs: ``chosen``, or every database-store alias of
    ``settings.TASKS``. ``CommandError`` for one that cannot be run from here."""
    configured = list(task_backends.settings)
    if not chosen:
        chosen = [
            alias
            for alias in configured
            if isinstance(task_backends[alias], LocalBackend)
            and task_backends[alias].pool_options.store == "database"
        ]
        if not chosen:
            raise CommandError(
                "No alias of settings.TASKS uses STORE='database': a worker process "
                "runs the shared queue of such an alias (a memory-store alias runs "
                "in the process that enqueues)."
            )
        return chosen
    for alias in chosen:
        if alias not in configured:
            raise CommandError(
                f"Alias {alias!r} is not in settings.TASKS ({', '.join(configured)})."
            )
        backend = task_backends[alias]
        if not isinstance(backend, LocalBackend):
            raise CommandError(
                f"Alias {alias!r} uses {type(backend).__qualname__}, not a "
                "django_tasks_local backend."
            )
        if backend.pool_options.store != "database":
            raise CommandError(
                f"Alias {alias!r} uses the memory store: its tasks run in the "
                "process that enqueues them. Set OPTIONS['STORE'] = 'database' to "
                "share its queue with a worker process."
            )
    return chosen


def run(aliases: list[str], say: Callable[[str], Any]) -> None:
    """Run the queues of ``aliases`` until SIGTERM or SIGINT; then close them."""
    stop = threading.Event()
    signals_seen = []

    def on_signal(number: int, frame: Any) -> None:
        signals_seen.append(number)
        if len(signals_seen) > 1:
            say(
                "Second signal: exiting now; the tasks still running will be "
                "recovered by another process when their lease expires."
            )
            os._exit(1)
        stop.set()

    previous = {
        number: signal.signal(number, on_signal)
        for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        backends = [task_backends[alias] for alias in aliases]
        for backend in backends:
            backend.runtime.start()
        say(
            f"Worker {process_id()} runs the queue of {', '.join(map(repr, aliases))}. "
            "SIGTERM or Ctrl-C stops it: running tasks finish, queued ones stay "
            "in the database."
        )
        stop.wait()
        name = signal.Signals(signals_seen[0]).name
        say(f"{name}: finishing the running tasks, leaving the rest queued.")
        for backend in backends:
            backend.close()
        say("Stopped.")
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
