"""Watches the SQL of every process of the site: "database is locked" errors,
lock waits, transactions and connections.

A contender may catch such an error and retry (django-tasks-db's worker does,
silently), so the count is taken where the error is raised: a Django execute
wrapper on every connection, which re-raises it unchanged. At exit each process
writes what it saw to ``sql-<pid>.json`` in ``BENCH_DB_FOLDER``;
``Site.sql_seen()`` (``bench/sites.py``) adds them up. COMMIT does not pass
through execute wrappers, but every wait for SQLite's write lock does: at
``BEGIN IMMEDIATE`` or ``EXCLUSIVE``, else at the first write of the
transaction, or at the statement itself in autocommit.
"""

from __future__ import annotations

import atexit
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

from django.apps import AppConfig
from django.db import OperationalError
from django.db.backends.signals import connection_created

#: What this process saw: SQLite connections opened, statements run, how many
#: transactions began in each mode (``BEGIN``, ``BEGIN EXCLUSIVE``...), the
#: statements that failed with "database is locked" (the first few kept, each
#: with the seconds it took to fail), and
#: the longest statement in seconds and its SQL (a statement waiting for the
#: write lock sits in SQLite's busy handler for up to the 5-second timeout
#: before it fails).
_seen: dict = {
    "connections": 0,
    "statements": 0,
    "begins": {},
    "locked": 0,
    "locked_sql": [],
    "slowest": 0.0,
    "slowest_sql": "",
}

#: How many failing statements ``locked_sql`` keeps.
KEEP = 5


def _observe(execute, sql, params, many, context):
    start = time.perf_counter()
    if sql.startswith("BEGIN"):
        _seen["begins"][sql] = _seen["begins"].get(sql, 0) + 1
    try:
        return execute(sql, params, many, context)
    except (OperationalError, sqlite3.OperationalError) as error:
        if "locked" in str(error).lower():
            _seen["locked"] += 1
            if len(_seen["locked_sql"]) < KEEP:
                _seen["locked_sql"].append([sql, time.perf_counter() - start])
        raise
    finally:
        elapsed = time.perf_counter() - start
        _seen["statements"] += 1
        if elapsed > _seen["slowest"]:
            _seen["slowest"], _seen["slowest_sql"] = elapsed, sql


def _watch(sender, connection, **kwargs) -> None:
    _seen["connections"] += 1
    # The wrapper list belongs to Django's connection object, which outlives
    # each SQLite connection it opens (CONN_MAX_AGE = 0 reopens them often).
    if _observe not in connection.execute_wrappers:
        connection.execute_wrappers.append(_observe)


def _write(folder: Path) -> None:
    record = {**_seen, "argv": sys.argv[1:]}
    (folder / f"sql-{os.getpid()}.json").write_text(json.dumps(record))


class SiteConfig(AppConfig):
    name = "bench.dbsite"
    label = "bench_dbsite"

    def ready(self) -> None:
        from django.conf import settings

        connection_created.connect(_watch)
        atexit.register(_write, Path(settings.FOLDER))
