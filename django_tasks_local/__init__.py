"""Background task backends for Django's task framework, on local thread and
process pools: no broker, no worker process to run.

::

    TASKS = {
        "default": {"BACKEND": "django_tasks_local.ThreadPoolBackend"},
        "cpu": {"BACKEND": "django_tasks_local.ProcessPoolBackend"},
    }
"""

from .backends import ProcessPoolBackend, ThreadPoolBackend
from .exceptions import TaskCancelled, TaskDropped, WorkerDied
from .execution import current_result_id
from .retries import exponential
from .waiting import wait

__all__ = [
    "ProcessPoolBackend",
    "TaskCancelled",
    "TaskDropped",
    "ThreadPoolBackend",
    "WorkerDied",
    "current_result_id",
    "exponential",
    "wait",
]
