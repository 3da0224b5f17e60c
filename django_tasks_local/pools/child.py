"""The worker-process side of the process pool: Django setup and the task loop.

::

    parent (supervisor)                          child (this module)
    ───────────────────                          ───────────────────
                                                 setup: Django, or discard the
                                                 parent's DB connections (fork)
                          ◄── (None, None) ───── ready
    [job, job, ...]  ─────── batch ────────────► for each job, in order:
                          ◄── (prev, t) ──────── started at t (and the previous
                                                 job's outcome, if not yet sent)
                                                   execute(call)
                          ◄── (outcome, None) ── nothing left to do: flush
    None  ────────────────── stop ─────────────► exit 0

Every message is one pickle on the pipe. A job is a pickled ``Call``, pickled on
its own so that one that cannot be unpickled here (its module fails to import)
fails alone. The child reports in the order it was sent jobs, so messages carry
no ids: the parent knows which job each report is about. A finished outcome
rides with the next job's start (one message per task, not two) and is flushed
on its own before the child blocks for more work, so the parent learns of a
start before the task's code runs and of an end before the child idles.

The child ignores SIGINT: Ctrl-C goes to the parent, which drains its pools and
then stops the children. It exits by itself after ``max_tasks`` tasks, when told
to, or when the parent goes away (end of file on its pipe).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from ..execution import Outcome, ReturnValueError, close_event_loop, execute, failure

logger = logging.getLogger("django_tasks_local")

#: The pickle protocol on the pipe: both ends run the same Python.
PROTOCOL = pickle.HIGHEST_PROTOCOL

#: References to database and cache connections inherited through ``fork``. They
#: belong to the parent: closing them here (even by garbage collection) could end
#: the parent's sessions, so they are kept, unused, for the child's lifetime.
_inherited_connections: list[Any] = []


@dataclass(frozen=True)
class ChildSetup:
    """How a worker process gets Django ready. Picklable: it crosses to the child.

    Under ``fork`` the child inherits a configured Django and only has to drop the
    parent's connections. Under ``spawn`` and ``forkserver`` it starts from
    nothing: it configures settings from ``settings_module``, or (when the parent
    used ``settings.configure()``) from ``explicit_settings``, a copy of the
    values given in code, taken when the pool started.
    """

    start_method: str
    settings_module: str | None = None
    explicit_settings: dict[str, Any] | None = None
    #: Module the configured settings fall back to (``django.conf.global_settings``
    #: unless ``settings.configure(default_settings=...)`` named another).
    defaults_module: str | None = None
    skipped: tuple[str, ...] = field(default=())

    @classmethod
    def capture(cls, start_method: str) -> ChildSetup:
        """What a child needs to set up Django like this process did."""
        if start_method == "fork":
            return cls(start_method)
        from django.conf import Settings, UserSettingsHolder, settings

        wrapped = settings._wrapped
        holder = wrapped
        # override_settings() stacks holders over the real settings; the child
        # wants the real ones (the overrides are this process's test-time state).
        while isinstance(holder, UserSettingsHolder):
            inner = holder.default_settings
            if isinstance(inner, UserSettingsHolder | Settings):
                holder = inner
                continue
            # settings.configure(): a holder over a module of defaults.
            explicit, skipped = {}, []
            for name, value in vars(holder).items():
                if not name.isupper():
                    continue
                try:
                    pickle.dumps(value, PROTOCOL)
                except Exception:  # noqa: BLE001 - any pickling failure skips it
                    skipped.append(name)
                else:
                    explicit[name] = value
            if skipped:
                logger.warning(
                    "Settings %s cannot be pickled and are not copied to worker "
                    "processes (start method %r); they fall back to defaults there.",
                    ", ".join(skipped),
                    start_method,
                )
            return cls(
                start_method,
                explicit_settings=explicit,
                defaults_module=getattr(inner, "__name__", None),
                skipped=tuple(skipped),
            )
        module = getattr(holder, "SETTINGS_MODULE", None) or os.environ.get(
            "DJANGO_SETTINGS_MODULE"
        )
        return cls(start_method, settings_module=module)

    def apply(self) -> None:
        """Make Django usable in this (child) process."""
        if self.start_method == "fork":
            discard_inherited_connections()
            return
        import django
        from django.apps import apps
        from django.conf import settings

        if not settings.configured:
            # The main module, imported again by spawn/forkserver, may already
            # have configured settings (a script without a __main__ guard).
            if self.explicit_settings is not None:
                from importlib import import_module

                defaults = import_module(
                    self.defaults_module or "django.conf.global_settings"
                )
                settings.configure(defaults, **self.explicit_settings)
            elif self.settings_module:
                os.environ["DJANGO_SETTINGS_MODULE"] = self.settings_module
        if not apps.ready:
            django.setup()


def discard_inherited_connections() -> None:
    """Forget the parent's database and cache connections without closing them.

    A forked child shares the parent's sockets and SQLite handles; using or
    closing them would corrupt or end the parent's sessions. The child gets
    empty connection handlers and opens its own connections when it needs them.
    """
    from asgiref.local import Local
    from django.core.cache import caches
    from django.db import connections

    for handler in (connections, caches):
        _inherited_connections.append(handler._connections)
        handler._connections = Local(handler.thread_critical)


def child_main(conn: Connection, setup: ChildSetup, max_tasks: int | None) -> None:
    """The worker process: set Django up, then run jobs until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup.apply()
    worker_id = (
        f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"
    )
    reporter = _Reports(conn)
    reporter.send(None, None)  # ready
    executed = 0
    loads = pickle.loads
    try:
        while max_tasks is None or executed < max_tasks:
            reporter.flush()
            try:
                batch = loads(conn.recv_bytes())
            except EOFError:
                return
            if batch is None:
                return
            for blob in batch:
                executed += 1
                try:
                    call = loads(blob)
                except BaseException as exc:  # noqa: BLE001 - fails this job alone
                    now = time.time()
                    reporter.started(now)
                    error = failure(_unpickle_error(exc), now, time.time())
                    reporter.pending = (error, "")
                    continue
                reporter.pending = (
                    execute(call, worker_id, reporter.started),
                    call.task.module_path,
                )
        reporter.flush()
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return  # the parent went away: nothing to report to
    finally:
        close_event_loop()


class _Reports:
    """Reports to the parent, a finished outcome riding with the next start."""

    __slots__ = ("conn", "pending")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        #: The last (outcome, task path) not yet sent, or None.
        self.pending: Any = None

    def started(self, started_at: float) -> None:
        pending, self.pending = self.pending, None
        self.send(pending, started_at)

    def flush(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self.send(pending, None)

    def send(self, pending: Any, started_at: float | None) -> None:
        if pending is None:
            self.conn.send_bytes(pickle.dumps((None, started_at), PROTOCOL))
            return
        outcome, task_path = pending
        try:
            data = pickle.dumps((tuple(outcome), started_at), PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - the value, not the worker, fails
            data = pickle.dumps(
                (tuple(_unpicklable_value(outcome, task_path, exc)), started_at),
                PROTOCOL,
            )
        self.conn.send_bytes(data)


def _unpicklable_value(outcome: Outcome, task_path: str, exc: Exception) -> Outcome:
    try:
        raise ReturnValueError(
            f"Task {task_path} returned a value that cannot be pickled, so it cannot "
            f"cross from the worker process to the parent "
            f"({type(outcome.return_value).__qualname__}): {type(exc).__name__}: "
            f"{exc}"
        ) from exc
    except ReturnValueError as error:
        return failure(error, outcome.started_at, outcome.finished_at)


def _unpickle_error(exc: BaseException) -> BaseException:
    try:
        raise ImportError(
            "The worker process could not load this task (unpickling the task and "
            f"its arguments failed): {type(exc).__name__}: {exc}. The task must be "
            "importable from its module path in a fresh process."
        ) from exc
    except ImportError as error:
        return error
