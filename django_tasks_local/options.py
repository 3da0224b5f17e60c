"""Parsing and validating a backend's ``OPTIONS`` into a frozen dataclass.

Validation happens once, when Django creates the backend, so a typo in settings
fails loudly at start-up (``InvalidTaskBackend``) instead of on the first enqueue.
Unknown option names are not errors (Django passes ``OPTIONS`` through untouched)
but are reported by the system checks as warnings that name them.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core import checks
from django.tasks.exceptions import InvalidTaskBackend

#: Default number of tasks of one alias that execute at once. Ten suits I/O-bound
#: work (threads mostly wait); lower it for CPU-bound process pools.
DEFAULT_MAX_WORKERS = 10
#: Default number of finished results kept in memory per alias. Each costs a few
#: hundred bytes plus its arguments and return value.
DEFAULT_MAX_RESULTS = 1000

#: Default seconds between looks for tasks that other processes enqueued
#: (database store). Each look is one indexed query; a task enqueued elsewhere
#: starts here within this time when this process is the one with room.
DEFAULT_POLL_INTERVAL = 1.0

START_METHODS = ("fork", "forkserver", "spawn")
STORES = ("memory", "database")

#: Default seconds a process may stay silent before the database-store tasks it
#: runs are recovered by another. Its heartbeat renews them several times per
#: lease, so only a dead (or frozen) process loses them.
DEFAULT_LEASE = 60.0

STORE_OPTIONS = frozenset({"STORE", "DATABASE", "POLL_INTERVAL", "LEASE"})
THREAD_OPTIONS = (
    frozenset({"MAX_WORKERS", "MAX_RESULTS", "MAX_ATTEMPTS"}) | STORE_OPTIONS
)
PROCESS_OPTIONS = THREAD_OPTIONS | {"TIMEOUT", "MAX_TASKS_PER_CHILD", "START_METHOD"}


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """The validated options of one alias. Hashable, so it can key shared runtimes."""

    max_workers: int = DEFAULT_MAX_WORKERS
    #: Finished results kept; None (database store only) keeps them all.
    max_results: int | None = DEFAULT_MAX_RESULTS
    #: Seconds a process-pool task may run before its worker process is ended.
    timeout: float | None = None
    #: Tasks a worker process runs before it is replaced (None: never replaced).
    max_tasks_per_child: int | None = None
    #: How worker processes are started (process pool only).
    start_method: str | None = None
    #: Where results and the queue live: "memory" (this process) or "database".
    store: str = "memory"
    #: The key of ``settings.DATABASES`` the database store uses.
    database: str = "default"
    #: Seconds between looks for tasks enqueued by other processes (database).
    poll_interval: float = DEFAULT_POLL_INTERVAL
    #: Seconds without a heartbeat after which a process's claims are void.
    lease: float = DEFAULT_LEASE
    #: Attempts of a task that sets no ``max_attempts`` (1: no retry).
    max_attempts: int = 1


def default_start_method() -> str:
    """``forkserver`` where the platform has it, else ``spawn``.

    Forking a multi-threaded web process can deadlock the child on a lock some
    other thread held at fork time, so ``fork`` is only used when asked for.
    """
    available = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in available else "spawn"


def _fail(alias: str, name: str, value: Any, expected: str) -> InvalidTaskBackend:
    return InvalidTaskBackend(
        f"TASKS[{alias!r}]['OPTIONS'][{name!r}] must be {expected}; got {value!r}."
    )


def _positive_int(alias: str, raw: Mapping[str, Any], name: str, default: int | None):
    """An int >= 1, or ``default`` when the option is absent.

    An explicit None is accepted only where None is the default (the option is
    optional, such as ``MAX_TASKS_PER_CHILD``); ``MAX_WORKERS: None`` is refused
    rather than read as "unlimited" or "default".
    """
    value = raw.get(name, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(alias, name, value, "an int >= 1")
    return value


def parse_thread_options(alias: str, raw: Mapping[str, Any]) -> PoolOptions:
    """Validate the options of a ``ThreadPoolBackend``."""
    if not isinstance(raw, Mapping):
        raise _fail_options(alias, raw)
    if "TIMEOUT" in raw:
        raise InvalidTaskBackend(
            f"TASKS[{alias!r}]['OPTIONS']['TIMEOUT'] is not supported by "
            "ThreadPoolBackend: a thread cannot be stopped from outside. Use "
            "ProcessPoolBackend, whose worker processes can be ended, for tasks "
            f"that need a time limit (got TIMEOUT={raw['TIMEOUT']!r})."
        )
    return PoolOptions(
        max_workers=_positive_int(alias, raw, "MAX_WORKERS", DEFAULT_MAX_WORKERS),
        **_store_options(alias, raw),
    )


def _store_options(alias: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """``STORE``, ``DATABASE``, ``POLL_INTERVAL`` and ``MAX_RESULTS`` (which may
    be None, keep all, in the database store only: a process's memory is not
    the place to keep every result ever)."""
    store = raw.get("STORE", "memory")
    if store not in STORES:
        raise _fail(alias, "STORE", store, f"one of {STORES}")
    database = raw.get("DATABASE", "default")
    if store == "database":
        from django.conf import settings

        if not isinstance(database, str) or database not in settings.DATABASES:
            known = ", ".join(map(repr, settings.DATABASES)) or "none configured"
            raise _fail(
                alias, "DATABASE", database, f"a key of settings.DATABASES ({known})"
            )
        from django.db import connections

        vendor = connections[database].vendor  # the engine's, without connecting
        if vendor not in ("sqlite", "postgresql"):
            raise _fail(
                alias,
                "DATABASE",
                database,
                f"a SQLite or PostgreSQL database (it is {vendor})",
            )
    poll_interval = raw.get("POLL_INTERVAL", DEFAULT_POLL_INTERVAL)
    if not _positive_seconds(poll_interval):
        raise _fail(
            alias, "POLL_INTERVAL", poll_interval, "a positive number of seconds"
        )
    lease = raw.get("LEASE", DEFAULT_LEASE)
    if not _positive_seconds(lease):
        raise _fail(alias, "LEASE", lease, "a positive number of seconds")
    if store == "database" and raw.get("MAX_RESULTS", DEFAULT_MAX_RESULTS) is None:
        max_results = None
    else:
        max_results = _positive_int(alias, raw, "MAX_RESULTS", DEFAULT_MAX_RESULTS)
    return {
        "max_attempts": _positive_int(alias, raw, "MAX_ATTEMPTS", 1),
        "max_results": max_results,
        "store": store,
        "database": database,
        "poll_interval": float(poll_interval),
        "lease": float(lease),
    }


def _positive_seconds(value: Any) -> bool:
    """A positive, finite int or float (bools are ints, and refused)."""
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and 0 < value < float("inf")
    )


def parse_process_options(alias: str, raw: Mapping[str, Any]) -> PoolOptions:
    """Validate the options of a ``ProcessPoolBackend``."""
    if os.name != "posix":
        raise InvalidTaskBackend(
            f"TASKS[{alias!r}]: ProcessPoolBackend needs a POSIX system (Linux, "
            "macOS): its supervisor waits on its workers' pipes with selectors, "
            f"which {sys.platform} does not offer. Use ThreadPoolBackend here."
        )
    if not isinstance(raw, Mapping):
        raise _fail_options(alias, raw)
    timeout = raw.get("TIMEOUT")
    if timeout is not None and not _positive_seconds(timeout):
        raise _fail(alias, "TIMEOUT", timeout, "a positive number of seconds")
    start_method = raw.get("START_METHOD")
    if start_method is None:
        start_method = default_start_method()
    elif start_method not in START_METHODS:
        raise _fail(alias, "START_METHOD", start_method, f"one of {START_METHODS}")
    elif start_method not in multiprocessing.get_all_start_methods():
        raise _fail(
            alias, "START_METHOD", start_method, "a start method this platform has"
        )
    return PoolOptions(
        max_workers=_positive_int(alias, raw, "MAX_WORKERS", DEFAULT_MAX_WORKERS),
        **_store_options(alias, raw),
        timeout=float(timeout) if timeout is not None else None,
        max_tasks_per_child=_positive_int(alias, raw, "MAX_TASKS_PER_CHILD", None),
        start_method=start_method,
    )


def _fail_options(alias: str, raw: Any) -> InvalidTaskBackend:
    return InvalidTaskBackend(
        f"TASKS[{alias!r}]['OPTIONS'] must be a dict; got {raw!r}."
    )


def unknown_option_warnings(
    alias: str, raw: Mapping[str, Any], known: frozenset[str], backend_name: str
) -> list[checks.CheckMessage]:
    """System-check warnings for option names the backend does not read."""
    return [
        checks.Warning(
            f"TASKS[{alias!r}]['OPTIONS'] has an unknown option {name!r}; "
            f"{backend_name} ignores it.",
            hint=f"Known options: {', '.join(sorted(known))}.",
            obj=backend_name,
            id="django_tasks_local.W001",
        )
        for name in raw
        if name not in known
    ]
