"""Faults of the process pool's reports and of its supervisor, on real worker
processes: one bad report fails one task at most, a crashing task fails only
itself, and a supervisor that fails (even while retiring) leaves no task behind.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone

from django_tasks_local import WorkerDied, wait
from django_tasks_local.execution import ReturnValueError
from django_tasks_local.pools.process.ledger import Ledger
from django_tasks_local.pools.process.messages import Finished
from django_tasks_local.pools.process.supervisor import ProcessPool
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


def test_a_return_value_that_cannot_be_rebuilt_fails_only_its_task(
    start_method, signals, deadline
):
    """It pickles in the worker, but unpickling it in the web process raises:
    that task fails saying so, with the original error; the tasks behind it, on
    both workers, finish; the pool never retires."""
    with process_pool(start_method, MAX_WORKERS=2) as backend:
        poisoned = on(ALIAS, process_tasks.poison).enqueue()
        echoes = [on(ALIAS, process_tasks.echo).enqueue(n) for n in range(5)]
        for result in [poisoned, *echoes]:
            wait(result, timeout=deadline)
        later = on(ALIAS, process_tasks.pid).enqueue()
        wait(later, timeout=deadline)
        assert backend.join(deadline)

    assert_failed_with(
        poisoned,
        ReturnValueError,
        "returned a value that could not be rebuilt in the web process",
        "RuntimeError: cannot rebuild this value",
    )
    assert [s.name for s in signals.of(poisoned.id)] == [
        "enqueued",
        "started",
        "finished",
    ]
    assert [r.status for r in echoes] == [TaskResultStatus.SUCCESSFUL] * 5
    assert [r.return_value for r in echoes] == list(range(5))
    assert later.status == TaskResultStatus.SUCCESSFUL


def test_the_worker_of_an_unreadable_return_value_serves_on(deadline):
    with process_pool(MAX_WORKERS=1):
        before = on(ALIAS, process_tasks.pid).enqueue()
        poisoned = on(ALIAS, process_tasks.poison).enqueue()
        after = on(ALIAS, process_tasks.pid).enqueue()
        for result in (before, poisoned, after):
            wait(result, timeout=deadline)

    assert poisoned.status == TaskResultStatus.FAILED
    assert before.return_value == after.return_value == worker_pid(poisoned)


def test_a_segfault_fails_only_its_task(start_method, signals, deadline):
    with process_pool(start_method, MAX_WORKERS=1) as backend:
        crashed = on(ALIAS, process_tasks.segfault).enqueue()
        behind = [on(ALIAS, tasks.add).enqueue(n, n) for n in range(3)]
        for result in [crashed, *behind]:
            wait(result, timeout=deadline)
        assert backend.join(deadline)

    assert_failed_with(
        crashed,
        WorkerDied,
        f"died with signal SIGSEGV (-{int(signal.SIGSEGV)}) while running task "
        f"{crashed.task.module_path}",
    )
    assert [s.name for s in signals.of(crashed.id)] == [
        "enqueued",
        "started",
        "finished",
    ]
    assert [r.return_value for r in behind] == [0, 2, 4]
    assert worker_pid(crashed) not in {worker_pid(r) for r in behind}


def test_an_unreadable_report_ends_its_worker_and_fails_one_task(
    start_method, caplog, deadline
):
    """A message on a worker's pipe that is no report: the worker's stream can no
    longer be trusted, so it is ended; the task it was running fails saying why,
    and the tasks it held but had not started run elsewhere."""
    caplog.set_level("ERROR", logger="django_tasks_local")
    with process_pool(start_method, MAX_WORKERS=1) as backend:
        garbled = on(ALIAS, process_tasks.garble_report).enqueue()
        behind = [on(ALIAS, process_tasks.echo).enqueue(n) for n in range(5)]
        for result in [garbled, *behind]:
            wait(result, timeout=deadline)
        assert backend.join(deadline)

    pid = worker_pid(garbled)
    assert_failed_with(
        garbled,
        WorkerDied,
        f"Worker process {pid} sent a report that could not be used (a report of "
        "20 bytes could not be read (UnpicklingError",
        f"while running task {garbled.task.module_path} (id {garbled.id}); the "
        "worker was ended",
    )
    assert [r.return_value for r in behind] == list(range(5))
    assert pid not in {worker_pid(r) for r in behind}
    assert f"Worker process {pid} sent a report that could not be used" in caplog.text


class InjectedFault(Exception):
    """Stands for a bug in the supervisor thread."""


@pytest.mark.parametrize("fault", ["dispatch", "report"])
def test_a_failing_supervisor_fails_its_tasks_and_the_next_enqueue_recovers(
    fault, monkeypatch, signals, pipe_gate, caplog, deadline
):
    """An unexpected error in the supervisor, injected once just after a task
    finished: before the next dispatch, or while its report is handled. The
    error is logged, the workers are ended (their running task fails), every
    task the pool had queued, due or deferred, fails at once instead of
    hanging, and the next enqueue runs on a fresh pool; close() still works."""
    caplog.set_level("ERROR", logger="django_tasks_local")
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        raise InjectedFault("injected into the supervisor")

    if fault == "dispatch":
        real_assign = Ledger.assign

        def assign(self, workers, send):
            if signals.names("finished") and not fired.is_set():
                fire()
            real_assign(self, workers, send)

        monkeypatch.setattr(Ledger, "assign", assign)
    else:
        real_handle = ProcessPool._handle

        def handle(self, worker, message):
            real_handle(self, worker, message)
            if isinstance(message, Finished) and not fired.is_set():
                fire()

        monkeypatch.setattr(ProcessPool, "_handle", handle)

    with process_pool() as backend:
        gates = [pipe_gate("first"), pipe_gate("second")]
        running = [
            on(ALIAS, tasks.wait_for_gate).enqueue(gate.path, n)
            for n, gate in enumerate(gates)
        ]
        for result in running:
            signals.wait_for("started", result.id)
        pids = {worker_pid(backend.get_result(r.id)) for r in running}
        waiting = on(ALIAS, tasks.add).enqueue(1, 2)  # both workers are busy
        later = timezone.now() + timedelta(hours=1)
        deferred = on(ALIAS, tasks.add).using(run_after=later).enqueue(2, 3)
        gates[0].open()  # the first task finishes; the fault follows
        for result in [*running, waiting, deferred]:
            wait(result, timeout=deadline)
        assert fired.is_set()
        assert multiprocessing.active_children() == []
        after = on(ALIAS, tasks.add).enqueue(2, 2)
        soon = timezone.now() + timedelta(milliseconds=100)
        after_deferred = on(ALIAS, tasks.add).using(run_after=soon).enqueue(3, 3)
        for result in (after, after_deferred):
            wait(result, timeout=deadline)
        closer = threading.Thread(target=backend.close)
        closer.start()
        closer.join(deadline)
        assert not closer.is_alive(), "close() hangs after the supervisor failed"
        fresh = on(ALIAS, tasks.add).enqueue(20, 22)
        wait(fresh, timeout=deadline)

    [logged] = [r for r in caplog.records if "supervisor of" in r.getMessage()]
    assert logged.getMessage() == (
        "The supervisor of tasks-cpu failed; ending its workers and failing its "
        "queued tasks. The next enqueue starts a new pool."
    )
    assert logged.exc_info[0] is InjectedFault
    broken = "the pool's supervisor failed: InjectedFault("
    assert f"{broken}'injected into the supervisor'); failed 2 task(s)" in caplog.text
    first, second = running
    assert first.return_value == 0  # it finished before the fault
    assert_failed_with(
        second,
        WorkerDied,
        f"was running in worker process {worker_pid(second)}, which was ended "
        f"because {broken}",
    )
    for result in (waiting, deferred):
        assert_failed_with(result, WorkerDied, broken, "injected into the supervisor")
        assert [s.name for s in signals.of(result.id)] == ["enqueued", "finished"]
    # The next enqueues ran on a new pool, deferred ones on time.
    assert [r.return_value for r in (after, after_deferred, fresh)] == [4, 6, 42]
    assert not {worker_pid(r) for r in (after, after_deferred, fresh)} & pids
    assert after_deferred.started_at >= soon


def test_a_fault_while_retiring_still_fails_every_task(
    monkeypatch, signals, pipe_gate, caplog, deadline
):
    """A supervisor error retires the pool; a second error while it retires (in
    reaping one of the workers) is logged too, and still every task the pool held,
    running, queued or deferred, ends FAILED; nothing is left running, and the
    next enqueue runs on a fresh pool."""
    caplog.set_level("ERROR", logger="django_tasks_local")
    first, second = threading.Event(), threading.Event()
    real_assign, real_reap = Ledger.assign, ProcessPool._reap

    def assign(self, workers, send):
        if signals.names("finished") and not first.is_set():
            first.set()
            raise InjectedFault("the first fault")
        real_assign(self, workers, send)

    def reap(self, worker):
        if first.is_set() and worker.running and not second.is_set():
            second.set()
            raise InjectedFault("a fault while retiring")
        real_reap(self, worker)

    monkeypatch.setattr(Ledger, "assign", assign)
    monkeypatch.setattr(ProcessPool, "_reap", reap)
    with process_pool() as backend:
        gates = [pipe_gate("first"), pipe_gate("second"), pipe_gate("third")]
        running = [
            on(ALIAS, tasks.wait_for_gate).enqueue(gate.path, n)
            for n, gate in enumerate(gates)
        ]
        for result in running[:2]:
            signals.wait_for("started", result.id)
        waiting = on(ALIAS, tasks.add).enqueue(1, 2)
        later = timezone.now() + timedelta(hours=1)
        deferred = on(ALIAS, tasks.add).using(run_after=later).enqueue(2, 3)
        gates[0].open()  # the first task finishes; both faults follow
        for result in [*running, waiting, deferred]:
            wait(result, timeout=deadline)
        assert first.is_set() and second.is_set()
        assert multiprocessing.active_children() == []
        after = on(ALIAS, tasks.add).enqueue(20, 22)
        wait(after, timeout=deadline)
        assert backend.join(deadline)

    assert running[0].return_value == 0
    for result in [*running[1:], waiting, deferred]:
        assert result.status == TaskResultStatus.FAILED, result.id
        assert result.errors[0].exception_class is WorkerDied
        assert [s.name for s in signals.of(result.id)][-1] == "finished"
    # The worker whose reaping failed: its running task says so.
    reap_failed = [
        r for r in running[1:] if "could not be reaped" in r.errors[0].traceback
    ]
    assert reap_failed, [r.errors[0].traceback for r in running[1:]]
    assert (
        "InjectedFault('a fault while retiring')" in reap_failed[0].errors[0].traceback
    )
    assert "reaping worker process" in caplog.text
    assert after.return_value == 42
