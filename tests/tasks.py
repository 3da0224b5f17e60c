"""Task functions the tests enqueue. Module-level, as Django requires."""

from __future__ import annotations

import asyncio
import os
import select
import threading
import time

from django.tasks import task

from django_tasks_local import current_result_id


@task
def add(a, b):
    return a + b


@task(takes_context=True)
def report_context(context, label):
    return {
        "type": type(context).__qualname__,
        "id": context.task_result.id,
        "attempt": context.attempt,
        "status": context.task_result.status,
        "current_result_id": current_result_id.get(),
        "label": label,
    }


@task
async def async_add(a, b):
    await asyncio.sleep(0)
    return {"sum": a + b, "current_result_id": current_result_id.get()}


@task
async def async_add_in_a_thread(a, b):
    """Uses the event loop's default executor, as a DNS lookup does."""
    return await asyncio.to_thread(sum, (a, b))


#: Events that ``wait_for_event`` tasks block on, by name (thread pools only: a
#: worker process has its own copy of this module).
EVENTS: dict[str, threading.Event] = {}

#: Seconds a gated task waits before giving up, so a broken test cannot hang a
#: worker forever.
GATE_DEADLINE = 60


@task
def wait_for_event(name, value=None):
    """Block until the test sets ``EVENTS[name]``; return ``value``."""
    if not EVENTS[name].wait(GATE_DEADLINE):
        raise TimeoutError(f"event {name!r} was never set")
    return value


#: Appended to a ``PipeGate``'s path: the file that says the gate is open.
OPENED_SUFFIX = ".opened"


def gate_is_open(path: str) -> bool:
    """Block until the ``PipeGate`` at ``path`` opens: True, or False past
    ``GATE_DEADLINE``. Nothing polls: the gate is a named pipe that becomes
    readable when the test writes to it. The reading end is open before the
    "opened" file is checked, so a gate opened at any moment is seen, and the
    file answers for a gate opened (and maybe closed) before this began."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if os.path.exists(path + OPENED_SUFFIX):
            return True
        readable, _, _ = select.select([fd], [], [], GATE_DEADLINE)
        return bool(readable)
    finally:
        os.close(fd)


@task
def wait_for_gate(path, value=None):
    """Block until the ``PipeGate`` at ``path`` opens; return ``value``. Works in
    worker processes too."""
    if not gate_is_open(path):
        raise TimeoutError(f"gate {path!r} was never opened")
    return value


@task
def whoami():
    """Where the task ran, and as which result."""
    return {
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "current_result_id": current_result_id.get(),
    }


@task
async def async_whoami():
    await asyncio.sleep(0)
    return {
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "current_result_id": current_result_id.get(),
        "loop_running": asyncio.get_running_loop().is_running(),
    }


@task
def fail(message):
    raise ValueError(message)


@task
async def async_fail(message):
    await asyncio.sleep(0)
    raise ValueError(message)


@task
def exit_task(message):
    raise SystemExit(message)


@task
async def async_exit_task(message):
    await asyncio.sleep(0)
    raise SystemExit(message)


@task
def interrupt_task(message):
    raise KeyboardInterrupt(message)


@task
async def async_interrupt_task(message):
    await asyncio.sleep(0)
    raise KeyboardInterrupt(message)


@task
def clock():
    """The wall-clock time (epoch seconds) while the task function runs."""
    return time.time()


@task
async def async_clock():
    await asyncio.sleep(0)
    return time.time()


@task
def return_tuple():
    return (1, (2, 3), {"k": (4,)})


@task
def return_object():
    return object()


@task
def noop():
    return None


@task
def write_note(text):
    """Write a row through the ORM and read it back, from the worker."""
    from tests.app.models import Note

    note = Note.objects.create(text=text)
    return {"id": note.pk, "count": Note.objects.filter(text=text).count()}


@task
def database_connection_state():
    """Whether this worker's default connection was open when the task began."""
    from django.db import connection

    return {"open_at_start": connection.connection is not None}


@task
def write_file(path, text="done"):
    with open(path, "w") as file:
        file.write(text)
    return text


@task
def write_file_after_main_thread_ends(path):
    """Still RUNNING when the interpreter begins to exit: it waits for the main
    thread to end (thread pools), then writes ``path``."""
    threading.main_thread().join(GATE_DEADLINE)
    with open(path, "w") as file:
        file.write("done")


@task
def enqueue_after_main_thread_ends(alias, path):
    """At interpreter exit (thread pools), enqueue on ``alias`` a task that
    writes ``path`` once this task's thread has ended; what ``enqueue()``
    raised, if anything, goes to ``path + ".error"``."""
    threading.main_thread().join(GATE_DEADLINE)
    try:
        write_file_after_thread_ends.using(backend=alias).enqueue(
            threading.current_thread().name, path
        )
    except RuntimeError as exc:
        with open(path + ".error", "w") as file:
            file.write(str(exc))


@task
def write_file_after_thread_ends(thread_name, path):
    """Write ``path`` once the thread named ``thread_name`` has ended."""
    for thread in threading.enumerate():
        if thread.name == thread_name:
            thread.join(GATE_DEADLINE)
    with open(path, "w") as file:
        file.write("done")


@task
def call_on_own_backend(method):
    """Call ``close`` or ``join`` of the alias this task runs on, from inside it."""
    from django.tasks import default_task_backend

    return getattr(default_task_backend, method)()


@task
def enqueue_add(a, b):
    """Enqueue another task from inside a task; return the new result's id."""
    return add.enqueue(a, b).id


@task
def wait_for_event_then_enqueue_add(name, a, b):
    """Block on ``EVENTS[name]``, then enqueue ``add(a, b)``; return its id."""
    if not EVENTS[name].wait(GATE_DEADLINE):
        raise TimeoutError(f"event {name!r} was never set")
    return add.enqueue(a, b).id


@task
def wait_for_event_then_defer_noop(name):
    """Block on ``EVENTS[name]``, then enqueue ``noop`` deferred by an hour;
    return its id."""
    from datetime import timedelta

    from django.utils import timezone

    if not EVENTS[name].wait(GATE_DEADLINE):
        raise TimeoutError(f"event {name!r} was never set")
    later = timezone.now() + timedelta(hours=1)
    return noop.using(run_after=later).enqueue().id


@task(takes_context=True)
async def async_report_context(context, label):
    await asyncio.sleep(0)
    return {
        "type": type(context).__qualname__,
        "id": context.task_result.id,
        "attempt": context.attempt,
        "status": context.task_result.status,
        "current_result_id": current_result_id.get(),
        "label": label,
    }


@task
def record(path, label):
    """Append ``label`` and this process's pid as one line to the file at
    ``path``: every execution of every task is counted, in any process."""
    return _append_execution(path, label)


def _append_execution(path, label):
    line = f"{label} {os.getpid()} {current_result_id.get()}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)  # one write of one short line: never interleaved
    finally:
        os.close(fd)
    return label


@task
def announce_then_wait(announce_path, gate_path, value=None):
    """Write this result's id to the ``Announcements`` pipe at ``announce_path``,
    then block until the ``PipeGate`` at ``gate_path`` opens."""
    fd = os.open(announce_path, os.O_WRONLY)
    try:
        os.write(fd, f"{current_result_id.get()}\n".encode())
    finally:
        os.close(fd)
    if not gate_is_open(gate_path):
        raise TimeoutError(f"gate {gate_path!r} was never opened")
    return value


def no_wait(exception, task_result):
    """A backoff: try again at once."""
    return 0


def stop_retrying(exception, task_result):
    """A backoff: no more attempts."""
    return None


def in_an_hour(exception, task_result):
    """A backoff: the next attempt is due in an hour."""
    return 3600


def in_two_seconds(exception, task_result):
    """A backoff long enough for a process to close before the next attempt."""
    return 2


@task(takes_context=True, max_attempts=3, backoff=no_wait)
def fails_twice(context):
    """Fails on its first two attempts, succeeds on the third."""
    if context.attempt < 3:
        raise ValueError(f"attempt {context.attempt} failed")
    return {"attempt": context.attempt, "worker_ids": context.task_result.worker_ids}


@task(max_attempts=5, backoff=stop_retrying)
def fails_and_stops(message):
    raise ValueError(message)


@task(backoff=no_wait)
def always_fails(message):
    """No max_attempts of its own: the alias's MAX_ATTEMPTS applies."""
    raise ValueError(message)


@task(takes_context=True, max_attempts=2, backoff=in_an_hour)
def fails_then_waits_an_hour(context):
    raise ValueError(f"attempt {context.attempt}")


@task(takes_context=True, max_attempts=2, backoff=in_two_seconds)
def fails_once_slowly(context):
    if context.attempt == 1:
        raise ValueError("the first attempt fails")
    return os.getpid()


@task(takes_context=True, max_attempts=2, backoff=no_wait)
def waits_on_first_attempt(context, announce_path, gate_path):
    """Its first attempt announces itself and waits on a gate (and is killed
    there, in the tests); the second returns at once."""
    if context.attempt == 1:
        return announce_then_wait.func(announce_path, gate_path, "first")
    return "second"


@task(timeout=0.2)
async def awaits_past_its_timeout():
    await asyncio.Event().wait()


@task(timeout=0.2, max_attempts=2, backoff=no_wait)
async def awaits_past_its_timeout_twice():
    await asyncio.Event().wait()


@task(takes_context=True)
def get_metadata(context):
    return context.metadata


@task(takes_context=True)
def update_metadata(context, **values):
    context.metadata.update(values)


@task(takes_context=True)
async def update_metadata_async(context, **values):
    context.metadata.update(values)


@task(takes_context=True)
def update_metadata_and_fail(context, **values):
    context.metadata.update(values)
    raise ValueError("failed after updating its metadata")


@task(takes_context=True)
def append_to_metadata_list(context, key, value):
    context.metadata[key].append(value)


@task(takes_context=True)
def set_invalid_metadata(context):
    context.metadata["invalid"] = object()


@task(takes_context=True)
def save_metadata_explicitly(context, key, value):
    context.metadata[key] = value
    context.save_metadata()
    return context.task_result.metadata


@task(takes_context=True)
async def save_metadata_explicitly_async(context, key, value):
    context.metadata[key] = value
    await context.asave_metadata()
    return context.task_result.metadata


@task(takes_context=True)
def report_progress(context, gate_path):
    """Saves progress half-way, waits on a gate, and ends at 100."""
    context.metadata["progress"] = 50
    context.save_metadata()
    if not gate_is_open(gate_path):
        raise TimeoutError(f"gate {gate_path!r} was never opened")
    context.metadata["progress"] = 100
    return "done"


@task
def announce_then_record(announcements, gate, path, label):
    """Write this process's pid to the ``Announcements`` pipe at
    ``announcements``, wait for the ``PipeGate`` at ``gate``, then
    ``record(path, label)``: the test learns which processes started a task
    while every one of them is still running."""
    fd = os.open(announcements, os.O_WRONLY)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())  # shorter than PIPE_BUF: atomic
    finally:
        os.close(fd)
    if not gate_is_open(gate):
        raise TimeoutError(f"gate {gate!r} was never opened")
    return _append_execution(path, label)


@task
def read_file(path):
    """Fails while ``path`` does not exist (a cause an operator can fix before
    retrying); then returns its text."""
    with open(path) as file:
        return file.read()
