"""Task functions for the process-pool tests: they crash, hang, spin, report the
process they ran in, or meet each other through files. Module-level, so a worker
process imports them by path under every start method."""

from __future__ import annotations

import multiprocessing.util
import os
import signal
import threading
import time
from pathlib import Path

from django.tasks import task

#: What this module's copy in a worker holds; a test changes it in the parent,
#: so a worker shows whether it was forked from the parent or imported afresh.
MARK = "imported"


@task
def pid():
    return os.getpid()


@task
def origin():
    """How this worker came to be: its copy of ``MARK`` and its parent's pid."""
    return {"mark": MARK, "parent": os.getppid()}


@task
def echo(value):
    return value


@task
def mirror(text):
    """``text`` reversed: a return value as large as the argument, and not it."""
    return text[::-1]


@task
def exit_with(code):
    os._exit(code)


@task
def kill_self(signal_number):
    os.kill(os.getpid(), signal_number)
    threading.Event().wait()  # not reached: the signal ends the process


@task
def stall_at_exit():
    """Return at once, but leave this worker unable to exit: a finaliser that
    multiprocessing runs as the worker process ends blocks for ever."""
    multiprocessing.util.Finalize(None, threading.Event().wait, exitpriority=0)
    return os.getpid()


@task
def hang():
    """Blocks for ever: only a TIMEOUT (or the end of its process) stops it."""
    threading.Event().wait()


@task
def wait_for_fifo(path):
    """Blocks until the test writes to the named pipe at ``path``."""
    with open(path) as fifo:
        return fifo.read()


@task
def rendezvous(mine, theirs, deadline):
    """Spin (CPU-bound) until the other task's file appears; True if it did.

    Both tasks can only return True if they run at the same time, in two
    processes: run one after the other, the first would spin until ``deadline``.
    """
    Path(mine).write_text(str(os.getpid()))
    spins = 0
    give_up = time.monotonic() + deadline
    while not os.path.exists(theirs):
        spins += sum(i * i for i in range(1000)) & 1
        if time.monotonic() > give_up:
            return {"pid": os.getpid(), "met": False}
    return {"pid": os.getpid(), "met": True}


def _local_text(value):
    class LocalText(str):
        """A str subclass: JSON-valid, but (defined in a function) not picklable."""

    return LocalText(value)


@task
def unpicklable_return():
    return _local_text("made in the worker")


@task
def non_json_return():
    return object()


@task
def write_note(text):
    from tests.app.models import Note

    Note.objects.create(text=text)
    return Note.objects.count()


@task
def setting(name):
    from django.conf import settings

    return getattr(settings, name)


def local_text(value):
    """A JSON-valid argument that cannot be pickled (its class is local)."""
    return _local_text(value)


SIGKILL = int(signal.SIGKILL)


@task
def inherited_connections():
    """What a worker holds of the parent's database connections."""
    from django.db import connections

    from django_tasks_local.pools import child_setup

    return {
        "default_open_here": hasattr(connections._connections, "default"),
        "kept_unclosed": len(child_setup._inherited_connections),
    }


def _refuse_to_rebuild():
    raise RuntimeError("cannot rebuild this value")


class Poison(str):
    """A str, so Django's JSON check lets it through; it pickles in the worker,
    but unpickling it (in the web process) raises."""

    def __reduce__(self):
        return (_refuse_to_rebuild, ())


@task
def poison():
    return Poison("x")


@task
def segfault():
    """Crash this worker process with a real segmentation fault."""
    import ctypes
    import faulthandler

    faulthandler.disable()  # a forked worker inherits pytest's: keep the log short
    ctypes.string_at(0)


@task
def garble_report():
    """Send the parent a message on this worker's own pipe that is no report,
    then wait: what follows is the parent's to decide."""
    import gc
    from multiprocessing.connection import Connection

    [pipe] = [
        obj
        for obj in gc.get_objects()
        if type(obj) is Connection and not obj.closed  # not isinstance: lazy objects
    ]
    pipe.send_bytes(b"this is not a report")
    threading.Event().wait()


@task(backend="cpu", timeout=0.5)
def hangs_past_its_timeout():
    threading.Event().wait()


def _at_once(exception, task_result):
    return 0


@task(max_attempts=2, backoff=_at_once)
def dies_each_attempt():
    os._exit(7)
