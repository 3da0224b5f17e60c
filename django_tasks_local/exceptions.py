"""Errors a task can end with that do not come from the task's own code.

Each is recorded in ``TaskResult.errors`` by its class path, so
``TaskError.exception_class`` resolves to these classes.
"""


class WorkerDied(Exception):
    """The worker process running the task died (``os._exit``, a signal, the OOM
    killer) before the task finished. Only that task fails; the pool replaces the
    worker."""


class TaskDropped(Exception):
    """The task was deferred (``run_after``) and not yet due when its backend was
    closed or the interpreter exited, so it never ran."""


class TaskCancelled(Exception):
    """The task was cancelled while READY (from the admin or ``manage.py
    tasks_local cancel``), before any process had claimed it, so it never ran."""
