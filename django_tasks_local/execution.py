"""What runs inside a worker, a thread or a child process alike.

::

    Job (result id, task, args, kwargs, attempt)  ──► execute() in the worker
        close_old_connections()
        current_result_id.set(id)
        report_started(started_at)                ──► parent: RUNNING, task_started
        task function (sync, or async on this thread's event loop)
        return value normalised to JSON
        any BaseException captured as class path + traceback
        close_old_connections()
    Outcome (ok, value or error, started_at, finished_at) ──► parent: finished

Nothing here touches the result store or sends a signal: the caller reports.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from inspect import iscoroutinefunction
from typing import Any, NamedTuple

from django.db import close_old_connections
from django.tasks.base import TaskError, TaskResult, TaskResultStatus

from . import metadata
from .jobs import Job
from .results import build_result, normalize_value
from .retries import retry_delay

logger = logging.getLogger(__name__)

#: The id of the ``TaskResult`` the current task is running as; set while a task
#: runs, in threads, in worker processes and in async tasks.
current_result_id: ContextVar[str] = ContextVar("django_tasks_local.current_result_id")


class Outcome(NamedTuple):
    """How one execution ended. A tuple, so it pickles small and fast."""

    ok: bool
    #: The JSON-normalised return value (``ok``), else None.
    return_value: Any
    #: ``module.QualName`` of the exception (not ``ok``), else None.
    error_class_path: str | None
    #: The formatted traceback, message included (not ``ok``), else None.
    traceback: str | None
    started_at: float
    finished_at: float
    #: Seconds until the task's next attempt (a failure it retries), else None.
    retry_in: float | None = None
    #: The metadata the task left, reserved keys included, if it changed it
    #: (saved when the task ends, successful or not); else None.
    metadata: dict[str, Any] | None = None


def exception_class_path(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def failure(
    exc: BaseException,
    started_at: float,
    finished_at: float,
    *,
    cause: BaseException | None = None,
    job: Job | None = None,
    worker_id: str | None = None,
) -> Outcome:
    """An ``Outcome`` for an exception, with its class path and full traceback.

    The one place a failed outcome is built, whether the task raised ``exc`` or
    the backend made it to say why the task could not run or report. ``cause``
    (the error that made the backend give up) is chained, so the traceback shows
    it as ``raise exc from cause`` would. With ``job`` (an attempt that ran, on
    ``worker_id``), the outcome says whether and when it is retried.
    """
    if cause is not None:
        exc.__cause__ = cause
    class_path = exception_class_path(exc)
    text = "".join(traceback.format_exception(exc))
    retry_in = None
    if job is not None and job.attempt < job.max_attempts:

        def failed_result() -> TaskResult:
            return attempt_result(
                job,
                TaskResultStatus.FAILED,
                worker_id or "unknown",
                started_at,
                finished_at,
                error=(class_path, text),
            )

        retry_in = retry_delay(
            job.task, job.attempt, job.max_attempts, exc, failed_result
        )
    return Outcome(False, None, class_path, text, started_at, finished_at, retry_in)


class ReturnValueError(TypeError):
    """The task's return value cannot be stored (not JSON-serialisable)."""


def execute(
    job: Job,
    worker_id: str,
    report_started: Callable[[float], object],
    save_metadata: Callable[[dict[str, Any]], None] | None = None,
) -> Outcome:
    """Run ``job`` here and now and say how it ended. Never raises.

    ``report_started`` is called with the start time just before the task
    function, so RUNNING and ``started_at`` are facts, not guesses.
    ``save_metadata`` takes what a task saves with ``context.save_metadata()``
    while it runs (to the store, or to the parent process); what it leaves
    changed at its end rides with the outcome.
    """
    _close_old_connections()
    token = current_result_id.set(job.id)
    try:
        started_at = time.time()
        report_started(started_at)
        context = None
        try:
            if job.task.takes_context:
                context = _context(job, worker_id, started_at)
                with metadata.saving_to(save_metadata or _keep):
                    value = _invoke(job, context)
            else:
                value = _invoke(job, None)
            try:
                value = normalize_value(value)
            except (TypeError, ValueError) as exc:
                raise ReturnValueError(
                    f"Task {job.task.module_path} returned a value that is not "
                    f"JSON-serialisable ({type(value).__qualname__}): {exc}"
                ) from exc
        except BaseException as exc:  # noqa: BLE001 - SystemExit too fails only the task
            outcome = failure(
                exc, started_at, time.time(), job=job, worker_id=worker_id
            )
        else:
            outcome = Outcome(True, value, None, None, started_at, time.time())
        if context is not None and context.metadata_modified:
            outcome = _with_final_metadata(outcome, context, job, worker_id)
        return outcome
    finally:
        current_result_id.reset(token)
        _close_old_connections()


def _keep(raw: dict[str, Any]) -> None:
    """A sink for saves nobody reads (a task run outside a pool)."""


def _with_final_metadata(
    outcome: Outcome, context: Any, job: Job, worker_id: str
) -> Outcome:
    """The task changed its metadata and did not save it: it is saved with its
    end, successful or failed. Metadata that is not JSON fails the task with
    ``TypeError`` (and the metadata last saved stays)."""
    try:
        raw = metadata.to_save(context.task_result, context.metadata)
    except TypeError as exc:
        return failure(
            exc, outcome.started_at, outcome.finished_at, job=job, worker_id=worker_id
        )
    return outcome._replace(metadata=raw)


def _context(job: Job, worker_id: str, started_at: float) -> Any:
    """The ``TaskContext`` of a task that takes one, around its RUNNING result."""
    running = attempt_result(job, TaskResultStatus.RUNNING, worker_id, started_at)
    return metadata.TaskContext(task_result=running)


def attempt_result(
    job: Job,
    status: TaskResultStatus,
    worker_id: str,
    started_at: float,
    finished_at: float | None = None,
    error: tuple[str, str] | None = None,
) -> TaskResult:
    """The ``TaskResult`` of ``job``'s attempt on ``worker_id`` as its worker sees
    it: every earlier attempt's worker id and error, this attempt's (and its
    ``error``, for a failed one), and the metadata it started with."""
    errors = job.errors if error is None else (*job.errors, error)
    return build_result(
        task=job.task,
        result_id=job.id,
        status=status,
        enqueued_at=job.enqueued_at,
        started_at=started_at,
        finished_at=finished_at,
        args=job.args,
        kwargs=job.kwargs,
        backend=job.backend,
        errors=[
            TaskError(exception_class_path=path, traceback=trace)
            for path, trace in errors
        ],
        worker_ids=[*job.worker_ids, worker_id],
        raw_metadata=job.metadata,
    )


def _invoke(job: Job, context: Any) -> Any:
    args = job.args if context is None else [context, *job.args]
    task = job.task
    func = task.func
    if _is_async(func):
        coroutine = func(*args, **job.kwargs)
        timeout = getattr(task, "timeout", None)
        if timeout is not None:
            coroutine = _cancelled_after(coroutine, timeout, task.module_path)
        # The coroutine runs in a copy of this context, current_result_id included.
        return _event_loop().run(coroutine, context=contextvars.copy_context())
    return func(*args, **job.kwargs)


async def _cancelled_after(coroutine: Any, seconds: float, task_path: str) -> Any:
    """Run ``coroutine``, cancelled at its next ``await`` past ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            return await coroutine
    except TimeoutError as exc:
        raise TimeoutError(
            f"Task {task_path} ran longer than its timeout={seconds:g} seconds; "
            "it was cancelled at an await."
        ) from exc


#: Task function -> whether it is ``async def``. ``inspect.iscoroutinefunction``
#: costs about 1 µs per task; task functions are module-level (Django requires
#: it), so this holds one entry per task function the worker has run.
_async_functions: dict[Callable[..., Any], bool] = {}


def _is_async(func: Callable[..., Any]) -> bool:
    try:
        return _async_functions[func]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable: ask every time
        return iscoroutinefunction(func)
    result = _async_functions[func] = iscoroutinefunction(func)
    return result


def _close_old_connections() -> None:
    """Django's per-request connection hygiene, around each task instead."""
    try:
        close_old_connections()
    except Exception:  # a broken connection must not fail the worker
        logger.exception("close_old_connections() failed")


_local = threading.local()


def _event_loop() -> asyncio.Runner:
    """This worker thread's event loop, made on first use and kept: a new loop per
    async task would cost more than most tasks."""
    runner = getattr(_local, "runner", None)
    if runner is None:
        runner = _local.runner = asyncio.Runner()
    return runner


def close_event_loop() -> None:
    """Close this thread's event loop, if it made one (a worker is exiting)."""
    runner = getattr(_local, "runner", None)
    if runner is None:
        return
    _local.runner = None
    try:
        runner.close()
    except RuntimeError:
        # Closing a loop whose default executor was used (``asyncio.to_thread``,
        # ``run_in_executor``, DNS lookups) shuts that executor down from a new
        # thread. Python 3.12.0 to 3.12.2 refuse to start one once the main
        # thread has ended (the drain at interpreter exit; 3.12.3 and later
        # allow it). The loop is closed all the same, and the executor's threads
        # were joined when the main thread ended (``concurrent.futures`` does
        # that), so nothing is left behind: no need for the error's traceback.
        if threading.main_thread().is_alive():
            raise
