"""The database store's SQL, and the few ways SQLite and PostgreSQL differ.

Statements go through Django's cursor for the configured database (``%s``
placeholders on both), so an enqueue joins the caller's transaction and every
value is adapted as the ORM would adapt it: the model (``models.TaskRecord``)
reads the same rows. What differs by vendor is here and nowhere else:

- a write transaction: SQLite's ``BEGIN IMMEDIATE`` takes the write lock at
  once (a deferred transaction that read first could fail to upgrade, with
  "database is locked", whatever the busy timeout); PostgreSQL's ``BEGIN``;
- a claim: one ``UPDATE ... WHERE seq IN (SELECT ... LIMIT n) RETURNING``,
  atomic on both; PostgreSQL adds ``FOR UPDATE SKIP LOCKED`` so claimers never
  wait on each other's rows;
- JSON: text on SQLite; ``jsonb`` on PostgreSQL (a cast in, text out);
- datetimes: the store keeps float seconds; SQLite rows hold text in UTC (or
  local time without ``USE_TZ``), PostgreSQL ``timestamptz``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import BaseDatabaseWrapper

from ..results import _timezone

_from_timestamp = datetime.fromtimestamp
_floor = math.floor

#: ``json.dumps`` with separators of its own builds a new encoder per call
#: (1.3 µs of its 2.8 for a short list): one encoder serves every call, from
#: every thread (``encode`` keeps no state between calls).
_encode = json.JSONEncoder(separators=(",", ":")).encode

TABLE = "django_tasks_local_taskrecord"
PROCESS_TABLE = "django_tasks_local_workerprocess"

#: Milliseconds the store's own threads (writer, claimer) wait for SQLite's write
#: lock before a statement fails and is retried: long, since only they wait.
SQLITE_BUSY_TIMEOUT_MS = 30_000

# The rows the store reads, each as a named tuple whose fields are the columns
# its statement names, in the same order: the statements below are made from
# ``_fields``, so a column is added or moved here and nowhere else. They are
# decoded in ``rows.py``. (An enqueue reads no row, and makes none of these.)


class ResultRow(NamedTuple):
    """A result as ``select_result`` reads it: the columns a snapshot needs."""

    result_id: str
    alias: str
    task_path: str
    queue_name: str
    priority: int
    args: Any
    kwargs: Any
    run_after: Any
    status: str
    enqueued_at: Any
    started_at: Any
    last_attempted_at: Any
    finished_at: Any
    attempts: int
    worker_ids: Any
    return_value: Any
    errors: Any
    metadata: Any


class ClaimedRow(NamedTuple):
    """A row as ``claim`` returns it: the columns a job needs, and ``seq`` (the
    enqueue order, which breaks ties of priority)."""

    seq: int
    result_id: str
    task_path: str
    queue_name: str
    priority: int
    args: Any
    kwargs: Any
    run_after: Any
    enqueued_at: Any
    attempts: int
    worker_ids: Any
    errors: Any
    started_at: Any
    metadata: Any


class HeldRow(NamedTuple):
    """A row another process holds, as ``claimed_rows`` reads it for recovery."""

    result_id: str
    claim_token: str
    status: str
    attempts: int
    worker_ids: Any
    errors: Any
    started_at: Any
    task_path: str
    priority: int
    queue_name: str


RESULT_COLUMNS = ", ".join(ResultRow._fields)
CLAIMED_COLUMNS = ", ".join(ClaimedRow._fields)
HELD_COLUMNS = ", ".join(HeldRow._fields)


class Dialect:
    """How one database connection spells what the store needs."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.vendor = connection.vendor
        if self.vendor not in ("sqlite", "postgresql"):
            raise ImproperlyConfigured(
                f"The database store supports SQLite and PostgreSQL; database "
                f"{connection.alias!r} is {self.vendor}."
            )
        self.postgres = self.vendor == "postgresql"
        self.adapt_datetime = connection.ops.adapt_datetimefield_value
        #: The last second ``time`` wrote on SQLite in UTC, and its text.
        self._second: tuple[int | None, str] = (None, "")
        json_in = "CAST(%s AS jsonb)" if self.postgres else "%s"
        self.begin = "BEGIN" if self.postgres else "BEGIN IMMEDIATE"
        self.insert = (
            f"INSERT INTO {TABLE} (result_id, alias, task_path, queue_name, "
            "priority, args, kwargs, run_after, status, enqueued_at, attempts, "
            "worker_ids, errors, metadata, claimed_by, claim_token, lease_expires_at) "
            f"VALUES (%s, %s, %s, %s, %s, {json_in}, {json_in}, %s, 'READY', %s, 0, "
            f"{json_in}, {json_in}, {json_in}, %s, %s, %s)"
        )
        #: The same in SQLite's own style, for the connection itself.
        self.insert_qmark = self.insert.replace("%s", "?")
        self.select_result = (
            f"SELECT {RESULT_COLUMNS} FROM {TABLE} WHERE result_id = %s AND alias = %s"
        )
        self.select_status = (
            f"SELECT status FROM {TABLE} WHERE result_id = %s AND alias = %s"
        )
        self.delete = f"DELETE FROM {TABLE} WHERE result_id = %s"
        self.mark_running = (
            f"UPDATE {TABLE} SET status = 'RUNNING', "
            "started_at = COALESCE(started_at, %s), last_attempted_at = %s, "
            f"attempts = %s, worker_ids = {json_in}, metadata = {json_in} "
            "WHERE result_id = %s AND claim_token = %s"
        )
        self.save_metadata = (
            f"UPDATE {TABLE} SET metadata = {json_in} "
            "WHERE result_id = %s AND alias = %s AND status IN ('READY', 'RUNNING')"
        )
        self.finish = (
            f"UPDATE {TABLE} SET status = %s, "
            "started_at = COALESCE(started_at, %s), last_attempted_at = %s, "
            f"finished_at = %s, attempts = %s, worker_ids = {json_in}, "
            f"return_value = {json_in}, errors = {json_in}, "
            f"metadata = COALESCE({json_in}, metadata), "
            "claimed_by = NULL, claim_token = NULL, lease_expires_at = NULL "
            "WHERE result_id = %s AND claim_token = %s"
        )
        self.retry = (
            f"UPDATE {TABLE} SET status = 'READY', run_after = %s, "
            "started_at = COALESCE(started_at, %s), last_attempted_at = %s, "
            f"attempts = %s, worker_ids = {json_in}, errors = {json_in}, "
            f"metadata = COALESCE({json_in}, metadata), "
            "claimed_by = NULL, claim_token = NULL, lease_expires_at = NULL "
            "WHERE result_id = %s AND claim_token = %s"
        )
        self.release = (
            f"UPDATE {TABLE} SET claimed_by = NULL, claim_token = NULL, "
            "lease_expires_at = NULL "
            "WHERE result_id = %s AND claim_token = %s AND status = 'READY'"
        )
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.postgres else ""
        self.claim = (
            f"UPDATE {TABLE} SET claimed_by = %s, claim_token = %s, "
            "lease_expires_at = %s "
            f"WHERE seq IN (SELECT seq FROM {TABLE} "
            "WHERE alias = %s AND status = 'READY' AND claimed_by IS NULL "
            "AND (run_after IS NULL OR run_after <= %s) "
            f"ORDER BY priority DESC, seq LIMIT %s{skip_locked}) "
            f"RETURNING {CLAIMED_COLUMNS}"
        )
        # Due READY rows that no other process holds.
        self.any_due = (
            f"SELECT 1 FROM {TABLE} WHERE alias = %s AND status = 'READY' "
            "AND (claimed_by IS NULL OR claimed_by = %s) "
            "AND (run_after IS NULL OR run_after <= %s) LIMIT 1"
        )
        self.next_due = (
            f"SELECT MIN(run_after) FROM {TABLE} WHERE alias = %s AND status = 'READY' "
            "AND claimed_by IS NULL AND run_after > %s"
        )
        # Retention: the finished_at of the newest row past the limit; rows
        # finished then or before (ties broken by seq) are deleted.
        self.retention_cutoff = (
            f"SELECT finished_at, seq FROM {TABLE} "
            "WHERE alias = %s AND finished_at IS NOT NULL "
            "ORDER BY finished_at DESC, seq DESC LIMIT 1 OFFSET %s"
        )
        self.delete_finished_before = (
            f"DELETE FROM {TABLE} WHERE alias = %s AND finished_at IS NOT NULL "
            "AND (finished_at < %s OR (finished_at = %s AND seq <= %s))"
        )

        # Leases: one statement renews every claim of a process on the alias.
        self.renew_leases = (
            f"UPDATE {TABLE} SET lease_expires_at = %s "
            "WHERE claimed_by = %s AND alias = %s"
        )
        self.beat = (
            f"UPDATE {PROCESS_TABLE} SET heartbeat_at = %s, lease = %s "
            "WHERE process_id = %s AND alias = %s"
        )
        self.register_process = (
            f"INSERT INTO {PROCESS_TABLE} "
            "(process_id, alias, host, pid, started_at, heartbeat_at, lease) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)"
        )
        self.unregister_process = (
            f"DELETE FROM {PROCESS_TABLE} WHERE process_id = %s AND alias = %s"
        )
        self.forget_stale_processes = (
            f"DELETE FROM {PROCESS_TABLE} WHERE alias = %s AND heartbeat_at < %s"
        )
        # Recovery: who holds claims, how fresh the oldest of them is, and the
        # rows of one of them.
        self.claimers = (
            f"SELECT claimed_by, MIN(lease_expires_at) FROM {TABLE} "
            "WHERE alias = %s AND claimed_by IS NOT NULL AND claimed_by <> %s "
            "GROUP BY claimed_by"
        )
        self.claimed_rows = (
            f"SELECT {HELD_COLUMNS} FROM {TABLE} WHERE alias = %s AND claimed_by = %s"
        )
        self.claim_token_of = f"SELECT claim_token FROM {TABLE} WHERE result_id = %s"
        self.fail_lost = (
            f"UPDATE {TABLE} SET status = 'FAILED', finished_at = %s, "
            f"errors = {json_in}, claimed_by = NULL, claim_token = NULL, "
            "lease_expires_at = NULL "
            "WHERE result_id = %s AND claim_token = %s AND status = 'RUNNING'"
        )
        self.retry_lost = (
            f"UPDATE {TABLE} SET status = 'READY', run_after = %s, "
            f"errors = {json_in}, claimed_by = NULL, claim_token = NULL, "
            "lease_expires_at = NULL "
            "WHERE result_id = %s AND claim_token = %s AND status = 'RUNNING'"
        )

    # -- values in -------------------------------------------------------------------

    def time(self, timestamp: float | None) -> Any:
        """Float seconds as the database keeps a ``DateTimeField``.

        On SQLite, the text Django's ``adapt_datetimefield_value`` writes (UTC
        with ``USE_TZ``, else local time, as ``str()`` of a naive datetime),
        made directly: seven per task (enqueue, start, end), and Django's way
        costs 5 µs each. In UTC, the date and time to the second are made once
        per second (``fromtimestamp`` and ``isoformat``: 2.6 µs) and reused;
        the microseconds are rounded as ``fromtimestamp`` rounds them (half to
        even, carrying into the second), so the text is the same to the
        character, for 1 µs.
        """
        if timestamp is None:
            return None
        if self.postgres:
            tz = UTC if settings.USE_TZ else None
            return self.adapt_datetime(datetime.fromtimestamp(timestamp, tz))
        if _timezone() is not UTC:
            return _from_timestamp(timestamp).isoformat(" ")
        if timestamp < 0:  # before 1970: the general way
            return _from_timestamp(timestamp, UTC).replace(tzinfo=None).isoformat(" ")
        second = _floor(timestamp)
        micro = round((timestamp - second) * 1e6)
        if micro == 1_000_000:
            second += 1
            micro = 0
        cached = self._second
        if cached[0] != second:
            text = _from_timestamp(second, UTC).replace(tzinfo=None).isoformat(" ")
            cached = self._second = (second, text)
        return f"{cached[1]}.{micro:06d}" if micro else cached[1]

    @staticmethod
    def json(value: Any) -> str:
        """``value`` as compact JSON text; the values most tasks store (no
        arguments, no return value, no errors) as constants."""
        if value is None:
            return "null"
        if not value and type(value) in _EMPTY_JSON:
            return _EMPTY_JSON[type(value)]
        return _encode(value)

    # -- values out ------------------------------------------------------------------

    def timestamp(self, value: Any) -> float | None:
        """A ``DateTimeField`` value as read back, as float seconds."""
        if value is None:
            return None
        if isinstance(value, str):  # SQLite without the column's declared type
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            if settings.USE_TZ:
                value = value.replace(tzinfo=UTC)
            else:
                return value.timestamp()  # naive local time
        return value.timestamp()

    @staticmethod
    def from_json(value: Any) -> Any:
        """A JSON column as read back: text on SQLite, and on PostgreSQL too
        (Django has psycopg hand ``jsonb`` over undecoded, for ``JSONField``)."""
        if value is None:
            return None
        if isinstance(value, bytes | bytearray | memoryview):
            value = bytes(value).decode()
        return json.loads(value) if isinstance(value, str) else value


_EMPTY_JSON: dict[type, str] = {list: "[]", dict: "{}"}


def thread_connection(database: str) -> BaseDatabaseWrapper:
    """This thread's connection to ``database``, opened for one of the store's own
    threads: on SQLite with a long busy timeout (they alone wait on it)."""
    from django.db import connections

    connection = connections[database]
    if connection.connection is None:
        connection.ensure_connection()
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return connection


#: One lock per SQLite database for this process's own writes (see ``writing``).
_write_locks: dict[str, threading.Lock] = {}
_no_lock = contextlib.nullcontext()


def writing(database: str, vendor: str) -> contextlib.AbstractContextManager:
    """Hold while this process writes to ``database`` in autocommit or in the
    store's own transactions.

    SQLite lets one connection write at a time, and a connection that finds the
    lock taken sleeps in SQLite's busy handler, a millisecond and more at a
    time. The enqueuing threads, the writer and the claimer of one process would
    make each other sleep so: they wait for each other on this lock instead,
    for microseconds. Other processes still meet at SQLite's lock. PostgreSQL
    locks rows, not the database: nothing to hold.
    """
    if vendor != "sqlite":
        return _no_lock
    lock = _write_locks.get(database)
    if lock is None:
        lock = _write_locks.setdefault(database, threading.Lock())
    return lock


def _forget_locks_after_fork() -> None:
    # A lock held by a thread of the parent would never be released here.
    _write_locks.clear()


os.register_at_fork(after_in_child=_forget_locks_after_fork)
