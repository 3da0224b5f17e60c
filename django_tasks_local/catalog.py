"""Reading task results for operators: the admin, the live board and the
``tasks_local`` command, over every alias of ``settings.TASKS`` that is ours.

::

    database-store alias ─► the model (TaskRecord, WorkerProcess): every
                            process's results, a few indexed queries
    memory-store alias   ─► its store in this process (MemoryStore.snapshots):
                            this process's results only
                 │
                 ▼
    Stored (one result, whatever its store), AliasState (counts, workers,
    problems of one alias)

Nothing here is on the path of a task, starts a pool or enqueues: reading a
backend's ``runtime`` makes its store (no thread), and the database is read
with the ORM on the request's (or the command's) own connection. A row is shown
as it is, without importing its task, so a task that cannot be imported here
(removed since, or another service's) is still listed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.expressions import RawSQL
from django.db.models.fields import BooleanField
from django.tasks import task_backends
from django.tasks.base import TaskError, TaskResult, TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from .backends import LocalBackend

READY = TaskResultStatus.READY
RUNNING = TaskResultStatus.RUNNING
SUCCESSFUL = TaskResultStatus.SUCCESSFUL
FAILED = TaskResultStatus.FAILED
FINISHED = (SUCCESSFUL, FAILED)

#: The metadata key under which a retried result names the results retried
#: from it (a leading ``_``: not in ``TaskResult.metadata``, only in the raw).
RETRIED_AS = "_retried_as"

#: Retries made from memory-store results in this process, (alias, id) -> new
#: ids: a memory result keeps no metadata, and lives in this process only
#: anyway. Bounded: the oldest entries go first.
_memory_retries: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
MEMORY_RETRIES_KEPT = 10_000

# ``status = 'READY'`` written out, not as a bound parameter: SQLite uses the
# partial index on READY rows (``tasks_local_ready``) only for a literal.
_IS_READY = RawSQL("status = 'READY'", [], output_field=BooleanField())


@dataclass(frozen=True)
class AliasInfo:
    """An alias of ours, as configured in this process."""

    alias: str
    store: str  # "database" or "memory"
    database: str | None
    backend: str
    max_workers: int
    lease: float | None
    queues: tuple[str, ...]

    @property
    def shared(self) -> bool:
        """Whether every process's results are seen here (the database store)."""
        return self.store == "database"


def aliases() -> list[AliasInfo]:
    """Every alias of ``settings.TASKS`` with one of our backends, in order."""
    found = []
    for alias in task_backends.settings:
        backend = task_backends[alias]
        if not isinstance(backend, LocalBackend):
            continue
        options = backend.pool_options
        database = options.store == "database"
        found.append(
            AliasInfo(
                alias=alias,
                store=options.store,
                database=options.database if database else None,
                backend=type(backend).__name__,
                max_workers=options.max_workers,
                lease=options.lease if database else None,
                queues=tuple(sorted(backend.queues)),
            )
        )
    return found


@dataclass(frozen=True)
class Stored:
    """One task result as an operator sees it, from either store."""

    id: str
    alias: str
    store: str
    task_path: str
    queue_name: str
    priority: int
    args: list[Any]
    kwargs: dict[str, Any]
    run_after: datetime | None
    status: str
    enqueued_at: datetime | None
    started_at: datetime | None
    last_attempted_at: datetime | None
    finished_at: datetime | None
    attempts: int
    worker_ids: list[str]
    return_value: Any
    errors: list[TaskError]
    metadata: dict[str, Any]
    #: The process holding the current attempt, and until when (database store).
    claimed_by: str | None = None
    lease_expires_at: datetime | None = None
    #: Results made by retrying this one, newest last.
    retried_as: list[str] = field(default_factory=list)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def is_deferred(self, now: datetime) -> bool:
        """READY but not due before ``run_after``."""
        return (
            self.status == READY and self.run_after is not None and self.run_after > now
        )

    @property
    def task_name(self) -> str:
        return self.task_path.rsplit(".", 1)[-1]

    @property
    def error_summary(self) -> str:
        """The last error as ``Class: message`` (its traceback's last line)."""
        if not self.errors:
            return ""
        error = self.errors[-1]
        lines = error.traceback.strip().splitlines()
        return lines[-1] if lines else error.exception_class_path


def _from_row(record: Any) -> Stored:
    metadata = record.metadata if isinstance(record.metadata, dict) else {}
    return Stored(
        id=record.result_id,
        alias=record.alias,
        store="database",
        task_path=record.task_path,
        queue_name=record.queue_name,
        priority=record.priority,
        args=record.args,
        kwargs=record.kwargs,
        run_after=record.run_after,
        status=record.status,
        enqueued_at=record.enqueued_at,
        started_at=record.started_at,
        last_attempted_at=record.last_attempted_at,
        finished_at=record.finished_at,
        attempts=record.attempts,
        worker_ids=record.worker_ids or [],
        return_value=record.return_value,
        errors=[
            TaskError(
                exception_class_path=error.get("exception_class_path", ""),
                traceback=error.get("traceback", ""),
            )
            for error in record.errors or []
        ],
        metadata=metadata,
        claimed_by=record.claimed_by,
        lease_expires_at=record.lease_expires_at,
        retried_as=list(metadata.get(RETRIED_AS, [])),
    )


def _from_snapshot(result: TaskResult) -> Stored:
    # Metadata where the running Django (or this package) keeps it on results.
    metadata = getattr(result, "raw_metadata", None)
    if metadata is None:
        metadata = getattr(result, "metadata", None)
    task = result.task
    return Stored(
        id=result.id,
        alias=result.backend,
        store="memory",
        task_path=task.module_path,
        queue_name=task.queue_name,
        priority=task.priority,
        args=list(result.args),
        kwargs=dict(result.kwargs),
        run_after=task.run_after,
        status=result.status,
        enqueued_at=result.enqueued_at,
        started_at=result.started_at,
        last_attempted_at=result.last_attempted_at,
        finished_at=result.finished_at,
        attempts=result.attempts,
        worker_ids=list(result.worker_ids),
        return_value=result._return_value,
        errors=list(result.errors),
        metadata=dict(metadata or {}),
        retried_as=list(_memory_retries.get((result.backend, result.id), [])),
    )


def note_memory_retry(alias: str, result_id: str, new_id: str) -> None:
    """Remember that the memory-store result ``result_id`` was retried as
    ``new_id`` (its detail page links the new one)."""
    key = (alias, result_id)
    _memory_retries[key] = [*_memory_retries.pop(key, []), new_id]
    while len(_memory_retries) > MEMORY_RETRIES_KEPT:
        _memory_retries.popitem(last=False)


def memory_results(alias: str) -> list[Stored]:
    """This process's results of a memory-store alias (not counted as uses)."""
    store = task_backends[alias].runtime.store
    return [_from_snapshot(result) for result in store.snapshots()]


def _records(info: AliasInfo) -> Any:
    from .models import TaskRecord

    return TaskRecord.objects.using(info.database).filter(alias=info.alias)


# -- lists and look-ups --------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """What a list of results is narrowed to; None is "any"."""

    alias: str | None = None
    status: str | None = None
    queue: str | None = None
    task: str | None = None
    #: A result id, or the start of one.
    search: str | None = None


def _matches(stored: Stored, query: Query) -> bool:
    return (
        (query.status is None or stored.status == query.status)
        and (query.queue is None or stored.queue_name == query.queue)
        and (query.task is None or stored.task_path == query.task)
        and (query.search is None or stored.id.startswith(query.search))
    )


def _filtered(info: AliasInfo, query: Query) -> Any:
    rows = _records(info)
    if query.status is not None:
        rows = rows.filter(status=query.status)
    if query.queue is not None:
        rows = rows.filter(queue_name=query.queue)
    if query.task is not None:
        rows = rows.filter(task_path=query.task)
    if query.search is not None:
        if len(query.search) == 36:  # a whole id: the unique index
            rows = rows.filter(result_id=query.search)
        else:
            rows = rows.filter(result_id__startswith=query.search)
    return rows


def find_results(query: Query, limit: int, offset: int = 0) -> tuple[list[Stored], int]:
    """Results matching ``query``, newest enqueued first: the page of ``limit``
    from ``offset``, and how many match in all.

    Each alias gives its newest ``offset + limit`` matches (database: by the
    primary key, which is enqueue order), and the page is cut from them merged:
    exact for any mix of stores, and cheap for the first pages people read.
    """
    found: list[Stored] = []
    total = 0
    for info in aliases():
        if query.alias is not None and info.alias != query.alias:
            continue
        if info.shared:
            rows = _filtered(info, query)
            total += rows.count()
            found += [_from_row(row) for row in rows.order_by("-seq")[: offset + limit]]
        else:
            matching = [r for r in memory_results(info.alias) if _matches(r, query)]
            total += len(matching)
            found += matching
    found.sort(key=_newest_first)
    return found[offset : offset + limit], total


def _newest_first(stored: Stored) -> tuple:
    enqueued = stored.enqueued_at
    return (-(enqueued.timestamp() if enqueued else 0.0), stored.id)


def find(result_id: str) -> Stored:
    """The result ``result_id`` of any of our aliases; ``TaskResultDoesNotExist``
    if no alias has it (memory store: not in this process)."""
    for info in aliases():
        if info.shared:
            record = _records(info).filter(result_id=result_id).first()
            if record is not None:
                return _from_row(record)
        else:
            store = task_backends[info.alias].runtime.store
            try:
                return _from_snapshot(store.peek(result_id))
            except TaskResultDoesNotExist:
                continue
    raise TaskResultDoesNotExist(result_id)


def task_paths(limit: int = 2000) -> list[str]:
    """The task paths of recent results, for a filter: those among the newest
    ``limit`` rows of each database alias (not a scan of the whole table) and
    every memory result here."""
    paths: set[str] = set()
    for info in aliases():
        if info.shared:
            newest = _records(info).order_by("-seq").values_list("task_path", flat=True)
            paths.update(newest[:limit])
        else:
            paths.update(r.task_path for r in memory_results(info.alias))
    return sorted(paths)


# -- the state of each alias (the board, ``tasks_local status``) ---------------------


@dataclass(frozen=True)
class Worker:
    """A process running an alias's pool, as its heartbeat row says."""

    process_id: str
    host: str
    pid: int
    started_at: datetime | None
    heartbeat_at: datetime
    lease: float
    alive: bool


@dataclass
class AliasState:
    """Counts, workers and problems of one alias at one moment."""

    info: AliasInfo
    ready: int = 0
    deferred: int = 0
    running: int = 0
    finished_minute: int = 0
    failed_minute: int = 0
    finished_hour: int = 0
    failed_hour: int = 0
    #: RUNNING rows whose lease expired (their process died or froze, and no
    #: live process has recovered them yet).
    expired: int = 0
    workers: list[Worker] = field(default_factory=list)
    #: Memory store: whether this process's pool is started.
    pool_started: bool | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def live_workers(self) -> list[Worker]:
        return [worker for worker in self.workers if worker.alive]


def alias_states(now: datetime | None = None) -> list[AliasState]:
    """The state of every alias of ours. Database aliases: three aggregate
    queries on partial indexes per alias (READY rows; claimed rows; rows
    finished in the last hour) and one on the small process table; memory
    aliases: one pass over this process's results."""
    now = now or timezone.now()
    return [
        _database_state(info, now) if info.shared else _memory_state(info, now)
        for info in aliases()
    ]


def _database_state(info: AliasInfo, now: datetime) -> AliasState:
    from .models import WorkerProcess

    state = AliasState(info)
    rows = _records(info)
    waiting = rows.filter(_IS_READY).aggregate(
        ready=Count("seq", filter=Q(run_after__isnull=True) | Q(run_after__lte=now)),
        deferred=Count("seq", filter=Q(run_after__gt=now)),
    )
    claimed = rows.filter(claimed_by__isnull=False).aggregate(
        running=Count("seq", filter=Q(status=RUNNING)),
        expired=Count("seq", filter=Q(status=RUNNING, lease_expires_at__lt=now)),
    )
    minute, hour = now - timedelta(minutes=1), now - timedelta(hours=1)
    finished = rows.filter(finished_at__isnull=False, finished_at__gte=hour).aggregate(
        finished_minute=Count("seq", filter=Q(finished_at__gte=minute)),
        failed_minute=Count("seq", filter=Q(finished_at__gte=minute, status=FAILED)),
        finished_hour=Count("seq"),
        failed_hour=Count("seq", filter=Q(status=FAILED)),
    )
    for name, value in {**waiting, **claimed, **finished}.items():
        setattr(state, name, value or 0)
    processes = WorkerProcess.objects.using(info.database).filter(alias=info.alias)
    state.workers = [
        Worker(
            process_id=process.process_id,
            host=process.host,
            pid=process.pid,
            started_at=process.started_at,
            heartbeat_at=process.heartbeat_at,
            lease=process.lease,
            alive=process.heartbeat_at + timedelta(seconds=process.lease) >= now,
        )
        for process in processes.order_by("host", "pid")
    ]
    if state.expired:
        state.problems.append(
            f"{state.expired} running task(s) whose lease expired: their process "
            "died or froze, and no live process of the alias has recovered them."
        )
    if state.ready and not state.live_workers:
        state.problems.append(
            f"{state.ready} task(s) due and waiting, and no live process runs the "
            "alias (start a web process, or `manage.py tasks_local worker`)."
        )
    return state


def _memory_state(info: AliasInfo, now: datetime) -> AliasState:
    runtime = task_backends[info.alias].runtime
    state = AliasState(info, pool_started=runtime.active)
    minute, hour = now - timedelta(minutes=1), now - timedelta(hours=1)
    for stored in memory_results(info.alias):
        if stored.status == RUNNING:
            state.running += 1
        elif stored.status == READY:
            if stored.is_deferred(now):
                state.deferred += 1
            else:
                state.ready += 1
        elif stored.finished_at is not None and stored.finished_at >= hour:
            failed = stored.status == FAILED
            state.finished_hour += 1
            state.failed_hour += failed
            if stored.finished_at >= minute:
                state.finished_minute += 1
                state.failed_minute += failed
    return state


def latest(limit: int, running: bool = False) -> list[Stored]:
    """The ``limit`` newest results of every alias (RUNNING ones only, with
    ``running``), newest first. Database aliases: the newest rows by primary
    key, which stops after ``limit`` rows of the alias; RUNNING rows through the
    partial index on claimed rows (few: each process claims a few per worker),
    sorted here, since reading them in key order would scan the table."""
    found: list[Stored] = []
    for info in aliases():
        if info.shared:
            rows = _records(info)
            if running:
                found += [
                    _from_row(row)
                    for row in rows.filter(claimed_by__isnull=False, status=RUNNING)
                ]
            else:
                found += [_from_row(row) for row in rows.order_by("-seq")[:limit]]
        else:
            found += [
                stored
                for stored in memory_results(info.alias)
                if not running or stored.status == RUNNING
            ]
    found.sort(key=_newest_first)
    return found[:limit]
