"""System checks of the database store: the app that holds its table, and SQLite
in the mode that lets readers and the writer of several processes share it."""

from __future__ import annotations

import re

from django.apps import apps
from django.core import checks
from django.db import DatabaseError, connections

_WAL = re.compile(r"journal_mode\s*=\s*'?wal'?", re.IGNORECASE)

WAL_INIT_COMMAND = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"


def database_store_messages(
    alias: str, database: str, backend_name: str
) -> list[checks.CheckMessage]:
    """What is wrong with the database store of ``alias``, if anything."""
    if not apps.is_installed("django_tasks_local"):
        return [
            checks.Error(
                f"TASKS[{alias!r}] uses STORE='database', but 'django_tasks_local' "
                "is not in INSTALLED_APPS: its table holds the results and the "
                "queue.",
                hint="Add 'django_tasks_local' to INSTALLED_APPS, then run "
                "`manage.py migrate`.",
                obj=backend_name,
                id="django_tasks_local.E001",
            )
        ]
    connection = connections[database]
    if connection.vendor != "sqlite" or _in_wal_mode(connection):
        return []
    return [
        checks.Warning(
            f"TASKS[{alias!r}] keeps its tasks in the SQLite database {database!r}, "
            "which is not in WAL mode: without it, a process writing blocks every "
            "reader, and the web processes and their workers wait on each other.",
            hint=(
                f"Set DATABASES[{database!r}]['OPTIONS']['init_command'] = "
                f"{WAL_INIT_COMMAND!r} (synchronous=NORMAL is safe in WAL mode, "
                "and spares a disk sync per commit), and 'transaction_mode': "
                "'IMMEDIATE' so that a transaction that enqueues takes the write "
                "lock when it begins."
            ),
            obj=backend_name,
            id="django_tasks_local.W002",
        )
    ]


def _in_wal_mode(connection) -> bool:
    """WAL set on every connection, or already the file's mode (it persists)."""
    init_command = connection.settings_dict.get("OPTIONS", {}).get("init_command", "")
    if _WAL.search(init_command or ""):
        return True
    if connection.is_in_memory_db():
        return True  # one process only: nothing to share
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            (mode,) = cursor.fetchone()
    except DatabaseError:
        return True  # cannot tell (no database yet): the enqueue will say more
    return str(mode).lower() == "wal"
