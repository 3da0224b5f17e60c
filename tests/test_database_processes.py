"""The database store across real processes on the one test database (SQLite in
WAL mode; PostgreSQL under ``make test-postgres``): results read by every
process, tasks left by a process that closed run in the next, several pools
sharing one queue with every task run once, signals where each fact happened,
pools started by a request and not by a management command, and no "database
is locked" under load.

The other processes are scripts of ``tests.database_scripts``, started with the
test run's environment (settings, run id, PostgreSQL server). Nothing sleeps:
the tests wait on the scripts' reports, on gates, on named pipes, on ``wait()``
and on process exit, each with a deadline.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.tasks import TaskResultStatus

from django_tasks_local import wait
from tests.database_support import ScenarioScript, durable, row
from tests.support import DEADLINE, Announcements

pytestmark = [pytest.mark.database, pytest.mark.django_db(transaction=True)]

KINDS = ["thread", "process"]

SUCCESSFUL = TaskResultStatus.SUCCESSFUL

#: Seconds a look at the row may come later than the store's interval says: a
#: query and a thread's wake-up, on a loaded machine.
LOOK_SLACK = 1.0


@pytest.fixture
def scripts(tmp_path):
    """Start scripts of ``tests.database_scripts``; any still running at the end
    of the test is killed."""
    started: list[ScenarioScript] = []

    def start(scenario: str, args: dict, name: str | None = None) -> ScenarioScript:
        script = ScenarioScript(scenario, args, tmp_path, name or scenario)
        started.append(script)
        return script

    yield start
    for script in started:
        script.kill()


def pid_of(worker_id: str) -> int:
    return int(worker_id.split(":")[1])


def recorded(path: Path) -> list[tuple[str, int, str]]:
    """``(label, pid, result id)`` of every execution ``tasks.record`` counted."""
    if not path.exists():
        return []
    return [
        (label, int(pid), result_id)
        for label, pid, result_id in (
            line.split() for line in path.read_text().splitlines()
        )
    ]


def in_a_thread(function, *args):
    """Run ``function(*args)`` in a new thread that closes its database
    connections when it ends; return the thread and where its result lands."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # noqa: BLE001 - the test looks at it
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


# -- shared results ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_process_reads_the_results_of_another(
    kind, scripts, pipe_gate, monkeypatch
):
    """A script runs tasks, then holds one RUNNING; this process reads them all
    with every API, and ``wait()`` follows the held one by looking at its row
    at the documented intervals (10 ms, doubling up to POLL_INTERVAL)."""
    gate = pipe_gate()
    script = scripts("finish_then_hold", {"kind": kind, "count": 3, "gate": gate.path})
    finished_ids = script.expect("finished")["ids"]
    poll_interval = 0.2
    with durable("thread", POLL_INTERVAL=poll_interval) as backend:
        by_backend = [backend.get_result(result_id) for result_id in finished_ids]
        by_task = [r.task.get_result(r.id) for r in by_backend]
        by_async = [async_to_sync(backend.aget_result)(r.id) for r in by_backend]

        held_id = script.expect("running")["id"]
        held = backend.get_result(held_id)
        held_async = backend.get_result(held_id)
        assert held.status == TaskResultStatus.RUNNING
        with pytest.raises(TimeoutError):
            wait(backend.get_result(held_id), timeout=0.05)

        looks: list[float] = []
        enough_looks = threading.Event()
        real_read_row = backend.runtime.store._read_row

        def read_row(result_id):
            looks.append(time.monotonic())
            if len(looks) >= 8:
                enough_looks.set()
            return real_read_row(result_id)

        waited_for = backend.get_result(held_id)
        monkeypatch.setattr(backend.runtime.store, "_read_row", read_row)
        waiter, waited = in_a_thread(wait, waited_for, DEADLINE)
        assert enough_looks.wait(DEADLINE)
        gate.open()
        waiter.join(DEADLINE)
        monkeypatch.undo()
        held.refresh()
        async_to_sync(held_async.arefresh)()

    assert script.finish() == 0, script.stderr
    assert "error" not in waited, waited
    assert waited["value"].status == SUCCESSFUL
    assert waited["value"].return_value == "released"
    assert (held.status, held.return_value) == (SUCCESSFUL, "released")
    assert (held_async.status, held_async.return_value) == (SUCCESSFUL, "released")
    # It looked at the row first after 10 ms, then at doubling intervals, never
    # more than POLL_INTERVAL apart.
    gaps = [later - earlier for earlier, later in itertools.pairwise(looks)]
    for number, gap in enumerate(gaps):
        interval = min(0.01 * 2**number, poll_interval)
        assert interval <= gap <= interval + LOOK_SLACK, (number, gaps)

    *adds, failed, context = by_backend
    assert [r.return_value for r in adds] == [0, 2, 4]
    assert failed.status == TaskResultStatus.FAILED
    assert "failed elsewhere" in failed.errors[0].traceback
    assert context.return_value["id"] == context.id
    assert context.return_value["attempt"] == 1
    for readings in zip(by_backend, by_task, by_async, strict=True):
        assert len({(r.id, r.status, r.finished_at) for r in readings}) == 1
        assert readings[0].worker_ids == readings[1].worker_ids
    ran_in = {pid_of(r.worker_ids[0]) for r in by_backend}
    assert os.getpid() not in ran_in
    if kind == "thread":
        assert ran_in == {script.pid}


# -- nothing dropped ---------------------------------------------------------------

#: Seconds the deferred task of ``leave_tasks_behind`` waits after its enqueue.
DEFER_SECONDS = 2.0


def leave_tasks_behind(scripts, pipe_gate, tmp_path, kind: str, how: str):
    """Run ``hold_and_leave``: its one worker held, it enqueues four due tasks
    and a deferred one, then closes (``how``). Return the script, once exited,
    and its report of what it enqueued."""
    gate = pipe_gate()
    script = scripts(
        "hold_and_leave",
        {
            "kind": kind,
            "options": {"MAX_WORKERS": 1},
            "gate": gate.path,
            "record": str(tmp_path / "record"),
            "count": 4,
            "defer_seconds": DEFER_SECONDS,
            "how": how,
        },
    )
    enqueued = script.expect("enqueued")
    script.expect("detached")  # the due tasks claimed there are given back
    gate.open()
    assert script.finish() == 0, script.stderr
    return script, enqueued


@pytest.mark.parametrize("how", ["close", "exit"])
@pytest.mark.parametrize("kind", KINDS)
def test_tasks_left_by_a_process_that_closed_run_once_in_the_next(
    kind, how, scripts, pipe_gate, tmp_path
):
    script, enqueued = leave_tasks_behind(scripts, pipe_gate, tmp_path, kind, how)
    left, deferred = enqueued["left"], enqueued["deferred"]
    assert row(enqueued["holding"]).status == SUCCESSFUL
    for result_id in [*left, deferred]:
        stored = row(result_id)
        assert stored.status == TaskResultStatus.READY
        assert stored.claimed_by is None and stored.claim_token is None
    assert recorded(tmp_path / "record") == []

    with durable(kind) as backend:
        backend.runtime.start()  # the next process
        results = [
            wait(backend.get_result(result_id), timeout=DEADLINE)
            for result_id in [*left, deferred]
        ]

    assert [r.status for r in results] == [SUCCESSFUL] * 5
    executions = recorded(tmp_path / "record")
    assert sorted(label for label, _, _ in executions) == [
        "deferred",
        "left-0",
        "left-1",
        "left-2",
        "left-3",
    ]
    assert {result_id for _, _, result_id in executions} == {r.id for r in results}
    ran_in = {pid for _, pid, _ in executions}
    assert script.pid not in ran_in
    if kind == "thread":
        assert ran_in == {os.getpid()}
    deferred_result = results[-1]
    assert deferred_result.started_at >= deferred_result.task.run_after


def test_signals_are_sent_where_each_fact_happened(
    scripts, pipe_gate, tmp_path, signals
):
    """task_enqueued in the process that enqueued; task_started and
    task_finished in the process that ran the task, and nowhere else."""
    script, enqueued = leave_tasks_behind(
        scripts, pipe_gate, tmp_path, "thread", "close"
    )
    holding, due = enqueued["holding"], enqueued["left"]
    with durable("thread") as backend:
        backend.runtime.start()
        for result_id in due:
            wait(backend.get_result(result_id), timeout=DEADLINE)

    there = Counter(script.signals())
    assert there == Counter(
        [
            ("enqueued", holding),
            ("started", holding),
            ("finished", holding),
            *[("enqueued", result_id) for result_id in [*due, enqueued["deferred"]]],
        ]
    )
    here = Counter((s.name, s.result_id) for s in signals.sent)
    assert here == Counter(
        [("started", result_id) for result_id in due]
        + [("finished", result_id) for result_id in due]
    )


# -- a shared queue ----------------------------------------------------------------


def test_several_pools_share_the_queue_and_run_each_task_once(
    scripts, pipe_gate, tmp_path
):
    """Three processes with the alias's pool started and a producer that
    enqueues 300 tasks: each pool takes tasks from the table while the others
    run theirs, every task is SUCCESSFUL and runs exactly once, and its signals
    come from the process that ran it."""
    count = 300
    options = {"POLL_INTERVAL": 0.2}
    announcements = Announcements(tmp_path / "announcements")
    gate = pipe_gate()
    record = tmp_path / "record"
    try:
        workers = [
            scripts("worker", {"options": options}, name=f"worker-{n}")
            for n in range(3)
        ]
        for worker in workers:
            worker.expect("ready")
        producer = scripts(
            "produce",
            {
                "options": options,
                "count": count,
                "announcements": announcements.path,
                "gate": gate.path,
                "record": str(record),
            },
        )
        ids = producer.expect("produced")["ids"]
        # Every pool has started tasks of the producer while the gate holds
        # them all: each took its share from the table.
        worker_pids = {worker.pid for worker in workers}
        started_in: set[int] = set()
        while not worker_pids <= started_in:
            started_in.update(map(int, announcements.expect(1)))
        gate.open()
        with durable("thread") as backend:
            results = [
                wait(backend.get_result(result_id), timeout=DEADLINE)
                for result_id in ids
            ]
    finally:
        announcements.close()
    processes = [producer, *workers]
    for process in processes:
        assert process.finish() == 0, process.stderr

    assert len(set(ids)) == count
    assert Counter(r.status for r in results) == {SUCCESSFUL: count}
    executions = recorded(record)
    assert len(executions) == count
    ran_in = {result_id: pid for _, pid, result_id in executions}
    assert set(ran_in) == set(ids)  # each exactly once
    assert {pid_of(r.worker_ids[0]) for r in results} == set(ran_in.values())
    for result in results:
        assert pid_of(result.worker_ids[0]) == ran_in[result.id]
    assert worker_pids <= set(ran_in.values())
    for process in processes:
        sent = Counter(process.signals())
        ran_here = {i for i, pid in ran_in.items() if pid == process.pid}
        expected = Counter(
            [("started", i) for i in ran_here] + [("finished", i) for i in ran_here]
        )
        if process is producer:
            expected.update(("enqueued", i) for i in ids)
        assert sent == expected, process.name


# -- when pools start --------------------------------------------------------------


def test_a_request_starts_the_pool_and_a_management_command_does_not(
    scripts, pipe_gate, tmp_path
):
    _, enqueued = leave_tasks_behind(scripts, pipe_gate, tmp_path, "thread", "close")
    waiting = [*enqueued["left"], enqueued["deferred"]]

    for argv in (["check"], ["migrate"]):
        command = scripts("command", {"argv": argv}, name=argv[0])
        report = command.expect("command")
        assert command.finish() == 0, command.stderr
        assert (report["pools_started"], report["threads"]) == ([], []), argv
    for result_id in waiting:  # no pool took them
        stored = row(result_id)
        assert stored.status == TaskResultStatus.READY
        assert stored.claimed_by is None

    web = scripts("request", {"ids": waiting})
    served = web.expect("served")
    waited = web.expect("waited")
    assert web.finish() == 0, web.stderr

    assert served["status"] == 200
    assert served["threads_before"] == []
    assert served["pools_started"] == ["default"]
    assert "tasks-default-claimer" in served["threads"]
    assert waited["statuses"] == dict.fromkeys(waiting, SUCCESSFUL)
    assert {pid for _, pid, _ in recorded(tmp_path / "record")} == {web.pid}


# -- SQLite under load -------------------------------------------------------------


def test_no_error_reaches_enqueues_reads_or_workers_under_load(scripts):
    """Three processes enqueue (one by one and in transactions), read and run
    tasks at once, some of which write through the ORM; then each reads and
    waits for every task of all three. On the shared SQLite file, no "database
    is locked" (nor any other error) reaches any of them."""
    loaders = [scripts("load", {"count": 100}, name=f"load-{n}") for n in range(3)]
    for loader in loaders:
        loader.expect("ready")
    for loader in loaders:
        loader.order("go")
    ids = [i for loader in loaders for i in loader.expect("enqueued")["ids"]]
    for loader in loaders:
        loader.order(json.dumps(ids))
    reports = [loader.expect("loaded", timeout=DEADLINE * 2) for loader in loaders]
    for loader in loaders:
        assert loader.finish() == 0, loader.stderr

    assert len(set(ids)) == 300
    for loader, report in zip(loaders, reports, strict=True):
        assert report["errors"] == [], loader.name
        assert report["statuses"] == {SUCCESSFUL: 300}, loader.name
        assert "database is locked" not in loader.stderr, loader.name
        assert "Traceback" not in loader.stderr, loader.name
        assert "failed" not in loader.stderr, loader.name
