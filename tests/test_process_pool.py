"""ProcessPoolBackend on real worker processes: start methods, crashes, timeouts,
recycling, pickling, payloads larger than a pipe, the ORM, parallelism, a failing
supervisor and clean shutdown.

Only what differs by start method (start-up, Django setup, crashes, timeouts,
recycling, large payloads) runs under all three; the rest runs under the
default, forkserver. Pools have two workers: every child costs a process start.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading

import pytest
from django.tasks import TaskResultStatus
from django.tasks.signals import task_finished, task_started

from django_tasks_local import ProcessPoolBackend, WorkerDied, wait
from django_tasks_local.execution import ReturnValueError
from django_tasks_local.pools.process import supervisor as process_module
from django_tasks_local.pools.process.workers import describe_exit
from tests import process_tasks, tasks
from tests.process_support import (
    ALIAS,
    assert_failed_with,
    on,
    process_pool,
    worker_pid,
)

# Forking this multi-threaded test process is what START_METHOD="fork" asks for.
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded, use of fork:DeprecationWarning"
)


class SignalLog:
    """task_started / task_finished as received: (id, status, pid, thread)."""

    def __init__(self):
        self.started: list[tuple] = []
        self.finished: list[tuple] = []
        self.started_events: dict[str, threading.Event] = {}

    def _on_started(self, sender, task_result, **kwargs):
        self.started.append(self._entry(task_result))
        event = self.started_events.get(task_result.id)
        if event is not None:
            event.set()

    def _on_finished(self, sender, task_result, **kwargs):
        self.finished.append(self._entry(task_result))

    @staticmethod
    def _entry(task_result):
        return (
            task_result.id,
            task_result.status,
            os.getpid(),
            threading.current_thread().name,
        )

    def __enter__(self):
        task_started.connect(self._on_started)
        task_finished.connect(self._on_finished)
        return self

    def __exit__(self, *exc):
        task_started.disconnect(self._on_started)
        task_finished.disconnect(self._on_finished)


def test_runs_every_kind_of_task_in_worker_processes(
    start_method, tmp_path, deadline, monkeypatch
):
    """Sync, async and takes_context tasks run in a child under each start method,
    on an alias the child never heard of; RUNNING comes from the child's start
    report; task_started and task_finished are sent once each, in this process.
    The child was started the way START_METHOD says."""
    fifo = tmp_path / "release"
    os.mkfifo(fifo)
    monkeypatch.setattr(process_tasks, "MARK", "changed in the test process")
    with process_pool(start_method) as backend, SignalLog() as log:
        assert isinstance(backend, ProcessPoolBackend)
        blocked = on(ALIAS, process_tasks.wait_for_fifo).enqueue(str(fifo))
        log.started_events[blocked.id] = started = threading.Event()
        results = [
            on(ALIAS, tasks.add).enqueue(2, 3),
            on(ALIAS, tasks.async_add).enqueue(1, 2),
            on(ALIAS, tasks.report_context).enqueue("ctx"),
            on(ALIAS, process_tasks.origin).enqueue(),
        ]
        assert started.wait(deadline)
        running = backend.get_result(blocked.id)
        assert running.status == TaskResultStatus.RUNNING
        assert running.started_at is not None
        assert worker_pid(running) != os.getpid()
        with open(fifo, "w") as release:
            release.write("released")
        for result in [blocked, *results]:
            wait(result, timeout=deadline)

    assert blocked.return_value == "released"
    assert blocked.started_at == running.started_at
    assert blocked.enqueued_at <= blocked.started_at <= blocked.finished_at
    add, async_add, context, origin = results
    # fork copies this process, MARK included; spawn and forkserver import the
    # module afresh; only forkserver's children are not children of this process.
    forked_here = "changed in the test process"
    mark = forked_here if start_method == "fork" else "imported"
    assert origin.return_value["mark"] == mark
    child_of_ours = origin.return_value["parent"] == os.getpid()
    assert child_of_ours is (start_method != "forkserver")
    assert add.return_value == 5
    assert async_add.return_value == {"sum": 3, "current_result_id": async_add.id}
    assert {
        "id": context.id,
        "attempt": 1,
        "status": TaskResultStatus.RUNNING,
        "current_result_id": context.id,
        "label": "ctx",
    }.items() <= context.return_value.items()
    for result in [blocked, *results]:
        assert result.status == TaskResultStatus.SUCCESSFUL
        assert result.backend == ALIAS
        assert worker_pid(result) != os.getpid()
        assert result.attempts == 1
    ids = sorted(r.id for r in [blocked, *results])
    assert sorted(entry[0] for entry in log.started) == ids
    assert sorted(entry[0] for entry in log.finished) == ids
    for entry in log.started:
        assert entry[1] == TaskResultStatus.RUNNING
        assert entry[2] == os.getpid()
    for entry in log.finished:
        assert entry[1] == TaskResultStatus.SUCCESSFUL
        assert entry[2] == os.getpid()


def test_a_dead_worker_fails_only_its_own_task(
    start_method, signals, pipe_gate, deadline
):
    with process_pool(start_method) as backend:
        # One worker runs a held task while the other dies twice.
        gate = pipe_gate()
        held = on(ALIAS, tasks.wait_for_gate).enqueue(gate.path, "survived")
        signals.wait_for("started", held.id)
        exited = on(ALIAS, process_tasks.exit_with).enqueue(3)
        killed = on(ALIAS, process_tasks.kill_self).enqueue(process_tasks.SIGKILL)
        quick = [on(ALIAS, tasks.add).enqueue(i, i) for i in range(6)]
        for result in [exited, killed]:
            wait(result, timeout=deadline)
        assert backend.get_result(held.id).status == TaskResultStatus.RUNNING
        gate.open()
        for result in [held, *quick]:
            wait(result, timeout=deadline)
        later = on(ALIAS, tasks.add).enqueue(20, 22)
        wait(later, timeout=deadline)
        assert backend.join(deadline)
        assert backend.runtime.store.counts()["active"] == 0

    assert_failed_with(
        exited,
        WorkerDied,
        f"exited with code 3 while running task {exited.task.module_path}",
    )
    assert_failed_with(
        killed, WorkerDied, f"died with signal SIGKILL (-{int(signal.SIGKILL)})"
    )
    for result in (exited, killed):
        assert result.started_at is not None
        assert result.finished_at >= result.started_at
        # Each signal once, from this process, as for any task.
        assert [s.name for s in signals.of(result.id)] == [
            "enqueued",
            "started",
            "finished",
        ]
        finished = signals.of(result.id, "finished")[0]
        assert finished.result.status == TaskResultStatus.FAILED
    assert held.return_value == "survived"
    assert worker_pid(held) not in {worker_pid(exited), worker_pid(killed)}
    assert [r.return_value for r in quick] == [i + i for i in range(6)]
    assert later.return_value == 42


def test_timeout_ends_only_the_slow_task(start_method, signals, deadline):
    with process_pool(start_method, TIMEOUT=1) as backend:
        slow = on(ALIAS, process_tasks.hang).enqueue()
        quick = [on(ALIAS, tasks.add).enqueue(i, 1) for i in range(4)]
        for result in [slow, *quick]:
            wait(result, timeout=deadline)
        # Its worker process was ended (and reaped) before the task was FAILED.
        with pytest.raises(ProcessLookupError):
            os.kill(worker_pid(slow), 0)
        later = on(ALIAS, tasks.add).enqueue(1, 1)
        wait(later, timeout=deadline)
        assert backend.join(deadline)

    assert_failed_with(
        slow,
        TimeoutError,
        "ran longer than TIMEOUT=1 seconds",
        f"its worker process {worker_pid(slow)} was ended",
    )
    assert slow.errors[0].exception_class_path == "builtins.TimeoutError"
    assert [s.name for s in signals.of(slow.id)] == ["enqueued", "started", "finished"]
    assert [r.return_value for r in quick] == [1, 2, 3, 4]
    assert later.return_value == 2


def test_max_tasks_per_child_replaces_workers_without_losing_tasks(
    start_method, deadline
):
    with process_pool(start_method, MAX_TASKS_PER_CHILD=1):
        results = [on(ALIAS, process_tasks.pid).enqueue() for _ in range(3)]
        for result in results:
            wait(result, timeout=deadline)

    pids = [r.return_value for r in results]
    assert all(r.status == TaskResultStatus.SUCCESSFUL for r in results)
    assert len(set(pids)) == 3
    assert pids == [worker_pid(r) for r in results]
    assert os.getpid() not in pids


def test_return_values_that_cannot_cross_fail_only_their_task(deadline):
    with process_pool(MAX_WORKERS=1):
        before = on(ALIAS, process_tasks.pid).enqueue()
        unpicklable = on(ALIAS, process_tasks.unpicklable_return).enqueue()
        not_json = on(ALIAS, process_tasks.non_json_return).enqueue()
        after = on(ALIAS, process_tasks.pid).enqueue()
        for result in (before, unpicklable, not_json, after):
            wait(result, timeout=deadline)

    assert_failed_with(
        unpicklable,
        ReturnValueError,
        "returned a value that cannot be pickled",
        "LocalText",
    )
    assert_failed_with(not_json, ReturnValueError, "not JSON-serialisable", "object")
    # The worker survived both: the same process ran the task after them.
    assert before.return_value == after.return_value == worker_pid(unpicklable)


def test_an_argument_that_cannot_be_pickled_fails_only_its_task(deadline):
    """JSON-valid is not always picklable: a str subclass defined in a function
    passes Django's JSON check but cannot cross to a worker."""
    with process_pool():
        bad = on(ALIAS, process_tasks.echo).enqueue(process_tasks.local_text("x"))
        good = on(ALIAS, process_tasks.echo).enqueue("fine")
        for result in (bad, good):
            wait(result, timeout=deadline)

    assert_failed_with(
        bad, pickle.PicklingError, "its arguments cannot be pickled", "LocalText"
    )
    assert good.return_value == "fine"


def test_megabyte_arguments_and_return_values_cross_exactly(start_method, deadline):
    """Payloads many times a pipe's buffer: the supervisor writes each job in
    pieces as the child reads, and reads each outcome in many chunks, without
    blocking on one child. One task alone, then several at once."""

    def text(n: int) -> str:
        # Random, so a lost or reordered chunk cannot go unseen; not all ASCII.
        return f"{n}:é€:" + os.urandom(1 << 20).hex()  # about 2 MB each

    with process_pool(start_method):
        alone = text(0)
        first = on(ALIAS, process_tasks.mirror).enqueue(alone)
        wait(first, timeout=deadline)
        several = [text(n) for n in range(1, 5)]
        results = [on(ALIAS, process_tasks.mirror).enqueue(t) for t in several]
        for result in results:
            wait(result, timeout=deadline)

    assert first.status == TaskResultStatus.SUCCESSFUL, first.errors
    assert first.return_value == alone[::-1]
    for sent, result in zip(several, results, strict=True):
        assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
        assert result.return_value == sent[::-1]


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_tasks_use_the_orm_on_the_same_database(method, deadline):
    from tests.app.models import Note

    Note.objects.create(text="written by the parent")  # the parent's connection
    with process_pool(method):
        result = on(ALIAS, process_tasks.write_note).enqueue("written by a worker")
        wait(result, timeout=deadline)

    assert result.return_value == 2
    # The parent's own connection still works (a forked child never closed it).
    assert sorted(Note.objects.values_list("text", flat=True)) == [
        "written by a worker",
        "written by the parent",
    ]


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_a_forked_worker_discards_the_parents_connections_unclosed(deadline):
    from django.db import connection

    connection.ensure_connection()  # the parent holds an open connection at fork
    with process_pool("fork"):
        result = on(ALIAS, process_tasks.inherited_connections).enqueue()
        wait(result, timeout=deadline)

    # The worker started with no connection of its own and kept the parent's
    # objects referenced (closing them, even by garbage collection, could end
    # the parent's sessions).
    assert result.return_value == {"default_open_here": False, "kept_unclosed": 2}
    assert connection.is_usable()


def test_cpu_bound_tasks_run_in_parallel(tmp_path, deadline):
    """Each task spins until the other's file exists: both finish only if both
    run at once, on two workers."""
    first, second = tmp_path / "first", tmp_path / "second"
    with process_pool():
        results = [
            on(ALIAS, process_tasks.rendezvous).enqueue(
                str(first), str(second), deadline
            ),
            on(ALIAS, process_tasks.rendezvous).enqueue(
                str(second), str(first), deadline
            ),
        ]
        for result in results:
            wait(result, timeout=deadline * 2)

    assert [r.return_value["met"] for r in results] == [True, True]
    pids = {r.return_value["pid"] for r in results}
    assert len(pids) == 2
    assert pids == {worker_pid(r) for r in results}


def test_close_leaves_no_orphan_or_zombie(deadline):
    with process_pool() as backend:
        result = on(ALIAS, tasks.add).enqueue(1, 2)
        wait(result, timeout=deadline)
        children = multiprocessing.active_children()
        assert len(children) == 2
        pids = [child.pid for child in children]
        backend.close()
        assert multiprocessing.active_children() == []
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # a zombie would still answer
        assert backend.get_result(result.id).return_value == 3
        again = on(ALIAS, tasks.add).enqueue(2, 2)
        wait(again, timeout=deadline)
        assert again.return_value == 4
        assert worker_pid(again) not in pids


def test_jobs_held_by_a_dead_worker_are_given_back(caplog, deadline):
    """One worker, short tasks: jobs travel in batches, so when the worker dies
    it holds jobs it had not started. They run on its replacement."""
    caplog.set_level("INFO", logger="django_tasks_local")
    with process_pool(MAX_WORKERS=1):
        warm_up = [on(ALIAS, tasks.add).enqueue(i, 0) for i in range(40)]
        for result in warm_up:
            wait(result, timeout=deadline)
        crash = on(ALIAS, process_tasks.exit_with).enqueue(5)
        after = [on(ALIAS, process_tasks.pid).enqueue() for _ in range(20)]
        for result in [crash, *after]:
            wait(result, timeout=deadline)

    assert_failed_with(crash, WorkerDied, "exited with code 5")
    assert all(r.status == TaskResultStatus.SUCCESSFUL for r in after)
    assert worker_pid(crash) not in {r.return_value for r in after}
    assert "gave back" in caplog.text


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_a_task_whose_loading_kills_workers_fails_and_the_pool_survives(
    method, deadline
):
    from tests import crash_on_load

    with process_pool(method):
        doomed = on(ALIAS, crash_on_load.never_runs).enqueue()
        wait(doomed, timeout=deadline)
        later = on(ALIAS, tasks.add).enqueue(3, 4)
        wait(later, timeout=deadline)

    assert_failed_with(
        doomed,
        WorkerDied,
        "could not be started: 2 worker processes died before running it",
        "exited with code 7",
    )
    assert later.return_value == 7


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_a_task_whose_module_fails_to_import_fails_and_its_worker_serves_on(
    method, deadline
):
    """Unpickling the job imports the task's module, which raises in a worker:
    the task fails with an ImportError that gives the cause, and the worker,
    still sound, runs the next task."""
    from tests import raise_on_load

    with process_pool(method, MAX_WORKERS=1):
        doomed = on(ALIAS, raise_on_load.never_runs).enqueue()
        wait(doomed, timeout=deadline)
        later = on(ALIAS, process_tasks.pid).enqueue()
        wait(later, timeout=deadline)

    assert_failed_with(
        doomed,
        ImportError,
        "The worker process could not load this task",
        "RuntimeError: raise_on_load refuses to be imported in a worker process",
        "must be importable from its module path in a fresh process",
    )
    assert doomed.started_at is not None
    assert doomed.finished_at >= doomed.started_at
    # The same worker process ran the next task.
    assert later.return_value == worker_pid(doomed) == worker_pid(later)


def test_a_worker_that_does_not_exit_when_told_is_killed(monkeypatch, caplog, deadline):
    """close() tells idle workers to exit and waits STOP_GRACE_SECONDS; one that
    is still there is killed and reaped, and close() returns."""
    monkeypatch.setattr(process_module, "STOP_GRACE_SECONDS", 0.5)
    caplog.set_level("WARNING", logger="django_tasks_local")
    with process_pool(MAX_WORKERS=1) as backend:
        stalled = on(ALIAS, process_tasks.stall_at_exit).enqueue()
        wait(stalled, timeout=deadline)
        closer = threading.Thread(target=backend.close)
        closer.start()
        closer.join(deadline)
        assert not closer.is_alive(), "close() waits for a worker that never exits"

    pid = worker_pid(stalled)
    assert stalled.return_value == pid
    assert (
        f"worker process {pid} did not exit within 0.5 seconds of being told to "
        "stop; killing it"
    ) in caplog.text
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped, not a zombie


def test_describe_exit_names_what_it_knows():
    assert describe_exit(41, 3) == "worker process 41 exited with code 3"
    assert describe_exit(41, -int(signal.SIGKILL)) == (
        f"worker process 41 died with signal SIGKILL (-{int(signal.SIGKILL)})"
    )
    # Signal 200 does not exist on any platform; None is what a process that
    # could not be joined reports.
    assert (
        describe_exit(41, -200)
        == "worker process 41 died with an unknown signal (-200)"
    )
    assert describe_exit(41, None) == "worker process 41 died (exit status unknown)"
