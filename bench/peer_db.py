"""The peer of the database store: django-tasks-db.

django-tasks-db (Jake Howard's ``DatabaseBackend``, the ORM backend that left
the django-tasks backport as a package of its own) keeps each task as a row of
its model ``DBTaskResult``. ``enqueue()`` is one INSERT in the caller's
transaction; ``get_result()`` reads the row. Tasks run only in its ``db_worker``
management command, which a site starts beside its web processes:

- one ``db_worker`` process runs one task at a time, in its main thread; a site
  runs several processes for more workers (the command has no threads option);
- it polls: when it finds no task it sleeps ``--interval`` seconds (default 1);
  ``--batch`` exits instead, once the queue is empty; a random start-up delay
  of up to 1 s spreads workers that start together (``--no-startup-delay``);
- a claim, on SQLite, is a ``BEGIN EXCLUSIVE`` transaction (its
  ``exclusive_transaction``): SELECT the first ready row by priority, then
  UPDATE it to RUNNING. ``select_for_update(skip_locked=True)``, its claim on
  PostgreSQL, is ignored by Django on SQLite. The task's end (SUCCESSFUL or
  FAILED) is one autocommit UPDATE, retried on any error up to 3 times, 0.1 s
  apart. With Django's default ``CONN_MAX_AGE = 0`` the worker's
  ``close_old_connections()`` reopens the SQLite connection for every task;
- "database is locked": if the SELECT or the claiming UPDATE fails with it, the
  worker swallows the error, logs nothing, sleeps ``--interval`` and tries
  again (in ``--batch`` it does not count as an empty queue). The ``BEGIN``
  itself runs outside that handler: if it fails, the error ends the worker.

What it does on a site with Django's defaults (``CONN_MAX_AGE = 0``), as this
benchmark's SQL counts show: the worker's ``close_old_connections()`` closes
its connection after every task, so every claim opens a new one inside
``exclusive_transaction``, and Django's ``connect()`` resets the connection's
``transaction_mode`` from the settings (``None``) after the worker had set it to
``EXCLUSIVE``. Every claim then runs in a plain, deferred ``BEGIN``: two
workers can read the same row, and the second one's UPDATE fails at once with
"database is locked" (SQLite cannot upgrade a read snapshot that another writer
has moved past, and does not wait for it), which costs that worker a 1-second
sleep. No task runs twice, but a second worker slows the queue down. With
persistent connections (``CONN_MAX_AGE = None``) every claim after the first is
``BEGIN EXCLUSIVE``: no error, and the workers queue in SQLite's busy handler.

Here each ``db_worker`` runs as a site runs it (``python -m django db_worker``,
that is ``manage.py db_worker``, with the site's settings), with ``--batch`` so
it exits when every task is done, ``--no-startup-delay`` (the delay is random,
and would only add noise) and ``--verbosity 0`` (its default, 1, prints two log
lines per task; the other cases keep task logs at WARNING too). Its interval
stays at the default: in ``--batch`` it is slept only after a locked error.

This module never imports django-tasks-db: its settings are
``bench/dbsite/peer_settings.py``, and it runs only in subprocesses.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

from .sites import Workspace
from .sizes import Size

#: The peer's settings modules (``bench/dbsite/``): as a site has it, and with
#: persistent connections.
SETTINGS = "bench.dbsite.peer_settings"
PERSISTENT_SETTINGS = "bench.dbsite.peer_persistent_settings"

#: One ``db_worker`` process, as a site starts it (see above for the options).
DB_WORKER = (
    "-m",
    "django",
    "db_worker",
    "--batch",
    "--no-startup-delay",
    "--verbosity",
    "0",
)

#: The section's note on the peer's rows.
NOTE = (
    "django-tasks-db {version}: each db_worker process runs one task at a time in "
    "one thread; started as `manage.py db_worker --batch --no-startup-delay "
    "--verbosity 0`, it exits once the queue is empty. At CONN_MAX_AGE=0 "
    "(Django's default) its claims are not exclusive, and each 'database is "
    "locked' its worker catches costs it a 1 s sleep (see bench/peer_db.py)."
)

MISSING = (
    "django-tasks-db is not installed: its rows appear once it is "
    "(pip install -e '.[dev]')."
)


def installed() -> bool:
    """Whether django-tasks-db can run here (found without importing it)."""
    return importlib.util.find_spec("django_tasks_db") is not None


def db_workers(processes: int, settings: str = SETTINGS):
    """The peer with ``processes`` ``db_worker`` processes: one round."""

    def measure(size: Size, workspace: Workspace) -> dict[str, float]:
        site = workspace.site(settings)
        figures = site.driver("enqueue", str(size.db_tasks))
        site.run_all([DB_WORKER] * processes)
        figures |= site.driver("read")
        figures |= site.sql_seen()
        return figures

    return measure


#: The peer's contenders: one ``db_worker`` (one task at a time) and two (one
#: per core of a 2-core machine) as a site has them, and two with persistent
#: connections, where its claims are exclusive (see above).
CONTENDERS = {
    "django-tasks-db, 1 db_worker": db_workers(1),
    "django-tasks-db, 2 db_workers": db_workers(2),
    "django-tasks-db, 2 db_workers, CONN_MAX_AGE=None": db_workers(
        2, PERSISTENT_SETTINGS
    ),
}


def version() -> str:
    """The installed version of django-tasks-db (read without importing it)."""
    return importlib.metadata.version("django-tasks-db")
