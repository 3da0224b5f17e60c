"""Running jobs on a fixed set of threads that pull from the scheduler.

::

    enqueue() ──► scheduler heap ──► worker thread 1..MAX_WORKERS: take()
                                        execute(job)  (reporter.started inside)
                                        reporter.finished(job, outcome)
                                        take(finished=1): done, and the next job

There is no queue of its own between the scheduler and the threads: a thread takes
the next job the moment it is free, so priority order holds exactly and a job is
handed over with one lock and one condition notify (cheaper than a
``ThreadPoolExecutor`` future). All threads start together on first use: from
the moment the main thread ends until the process exits, Python 3.12.0 to 3.12.2
refuse to start a thread (``RuntimeError: can't create new thread at interpreter
shutdown``; 3.12.3 and later allow it until the ``atexit`` handlers have run),
and the drain at exit must be able to use every worker on every Python. Idle
threads cost a little memory and nothing else. They are daemon threads so that
the interpreter reaches the ``atexit`` drain, which then finishes their work and
joins them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from functools import partial

from ..execution import close_event_loop, execute
from ..options import PoolOptions
from ..scheduler import Scheduler
from . import Reporter

logger = logging.getLogger(__name__)


class ThreadPool:
    """``MAX_WORKERS`` threads, each running one task at a time."""

    def __init__(
        self, name: str, options: PoolOptions, scheduler: Scheduler, reporter: Reporter
    ) -> None:
        self.name = name
        self.size = options.max_workers
        self.scheduler = scheduler
        self.reporter = reporter
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number in range(1, self.size + 1):
            thread = threading.Thread(
                target=self._work, name=f"{self.name}-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float | None = None) -> None:
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:  # close() called from inside a task
                thread.join(timeout)

    def _work(self) -> None:
        worker_id = (
            f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"
        )
        take = self.scheduler.take
        reporter = self.reporter
        started, finished = reporter.started, reporter.finished
        ran = 0  # jobs finished since the last take(), which counts them done
        try:
            while (job := take(finished=ran)) is not None:
                ran = 1
                try:
                    outcome = execute(
                        job,
                        worker_id,
                        partial(started, job, worker_id=worker_id),
                        # Only a task that takes the context can save metadata.
                        partial(reporter.saved_metadata, job)
                        if job.task.takes_context
                        else None,
                    )
                    finished(job, outcome, worker_id)
                except BaseException:  # a reporting bug must not kill the worker
                    logger.exception(
                        "Worker %s failed to report task %s", worker_id, job.id
                    )
            ran = 0  # the take() that returned None counted it
        finally:
            if ran:  # leaving on an exception: the job still ends in flight no more
                self.scheduler.done()
            close_event_loop()
