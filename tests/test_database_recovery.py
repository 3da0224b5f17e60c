"""A process that dies with tasks of the database store: real processes killed
with SIGKILL or frozen with SIGSTOP, then recovered by another process of the
alias, on the real test database (SQLite; PostgreSQL under make test-postgres)."""

from __future__ import annotations

import json
import os
import signal

import pytest
from django.tasks import TaskResultStatus

from django_tasks_local import WorkerDied, wait
from django_tasks_local.identity import WHERE
from tests import tasks
from tests.database_support import Script, durable, durable_config, executions, row
from tests.support import DEADLINE, wait_for_exit

pytestmark = [pytest.mark.database, pytest.mark.django_db(transaction=True)]

#: A process that runs the pool of the ``default`` alias (configured by its first
#: argument, JSON), enqueues two tasks that wait on the gate of its second and
#: three that record their runs in the file of its third; once the first two
#: are RUNNING in the table, it says so, then waits for a line on its standard
#: input, and closes the alias.
RUNNER = """
import json, logging, sys, threading
import django
django.setup()
logging.basicConfig(stream=sys.stdout, format="%(message)s")
from django.tasks import task_backends
from django.tasks.signals import task_started
from django.test.utils import override_settings
from tests import tasks

config, gate, record = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
started, both = [], threading.Event()

def on_started(sender, task_result, **kwargs):
    started.append(task_result.id)
    if len(started) == 2:
        both.set()

with override_settings(TASKS={"default": config}):
    task_started.connect(on_started, weak=False)
    held = [tasks.wait_for_gate.enqueue(gate, n) for n in range(2)]
    queued = [tasks.record.enqueue(record, f"q{n}") for n in range(3)]
    assert both.wait(60)
    assert task_backends["default"].runtime.store.flush(60)
    print("running", json.dumps([r.id for r in held + queued]), flush=True)
    sys.stdin.readline()
    task_backends["default"].close()
    print("closed", flush=True)
"""


def start_runner(config: dict, gate, record) -> tuple[Script, list[str], list[str]]:
    """The runner, once its two gated tasks are RUNNING in the table; the ids of
    those and of the three it queued behind them."""
    script = Script(RUNNER, json.dumps(config), gate.path, str(record))
    ids = json.loads(script.expect("running", DEADLINE).split(" ", 1)[1])
    for result_id in ids[:2]:
        assert row(result_id).status == TaskResultStatus.RUNNING
    return script, ids[:2], ids[2:]


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_a_killed_process_s_tasks_are_recovered_at_once_on_the_same_host(
    kind, pipe_gate, tmp_path, signals
):
    """LEASE is an hour: the dead process is recognised by its pid. Its running
    tasks fail with WorkerDied naming it; the tasks it had claimed and not
    started run here, each exactly once."""
    record = tmp_path / "record"
    gate = pipe_gate()
    config = durable_config(kind, LEASE=3600, MAX_WORKERS=2)
    script, held, queued = start_runner(config, gate, record)
    pid = script.process.pid
    script.kill()

    with durable(kind, LEASE=3600, MAX_WORKERS=2) as backend:
        backend.runtime.start()  # its first look at the queue recovers
        lost = [wait(backend.get_result(i), timeout=DEADLINE) for i in held]
        ran = [wait(backend.get_result(i), timeout=DEADLINE) for i in queued]
        assert backend.join(DEADLINE)
    # A process pool's workers outlive it until their task ends; then they see
    # the end of their pipe, and exit.
    gate.open()
    for result in lost:
        assert wait_for_exit(int(result.worker_ids[0].split(":")[1]), DEADLINE)

    for result in lost:
        assert result.status == TaskResultStatus.FAILED
        [error] = result.errors
        assert error.exception_class is WorkerDied
        assert f"was running in process {WHERE}:{pid}:" in error.traceback
        assert f"its process (pid {pid}) is gone" in error.traceback
        # Sent here, by the process that recovered it: the dead one cannot.
        assert [s.name for s in signals.of(result.id)] == ["finished"]
    assert [r.status for r in ran] == [TaskResultStatus.SUCCESSFUL] * 3
    assert sorted(executions(record)) == ["q0", "q1", "q2"]
    for result in ran:
        assert result.attempts == 1
        stored = row(result.id)
        assert stored.claimed_by is None and stored.claim_token is None


def test_a_frozen_process_loses_its_claim_and_cannot_write_after(pipe_gate, tmp_path):
    """SIGSTOP past its LEASE: another process recovers its running tasks. Woken
    with SIGCONT, it finishes them, but its writes name a stale claim token:
    the rows keep the recovered state, and it says so in its log."""
    record = tmp_path / "record"
    gate = pipe_gate()
    config = durable_config("thread", LEASE=1, POLL_INTERVAL=0.2, MAX_WORKERS=2)
    script, held, queued = start_runner(config, gate, record)
    os.kill(script.process.pid, signal.SIGSTOP)
    # The queued tasks it had claimed (and holds in its memory) when it froze.
    held_queued = sum(row(i).claimed_by is not None for i in queued)
    try:
        with durable("thread", LEASE=1, POLL_INTERVAL=0.2) as backend:
            backend.runtime.start()
            lost = [wait(backend.get_result(i), timeout=DEADLINE) for i in held]
            ran = [wait(backend.get_result(i), timeout=DEADLINE) for i in queued]
            os.kill(script.process.pid, signal.SIGCONT)
            # Awake, it first learns that it was silent past its lease, and
            # drops the queued tasks that were recovered meanwhile.
            lapse = script.expect("Alias 'default': this process was silent", DEADLINE)
            gate.open()
            script.send("exit")
            script.expect("closed", DEADLINE)
            code, stderr = script.finish(DEADLINE)
            for result_id in held:
                stored = row(result_id)
                assert stored.status == TaskResultStatus.FAILED
                assert stored.claimed_by is None
    finally:
        if script.process.poll() is None:
            os.kill(script.process.pid, signal.SIGCONT)
            script.kill()

    assert code == 0, stderr
    for result in lost:
        assert result.status == TaskResultStatus.FAILED
        assert "renewed no lease for 1 seconds (LEASE)" in result.errors[0].traceback
    assert [r.status for r in ran] == [TaskResultStatus.SUCCESSFUL] * 3
    assert sorted(executions(record)) == ["q0", "q1", "q2"]
    assert f"{held_queued} queued task(s) it had claimed were recovered" in lapse
    refused = [line for line in script.lines if "no longer holds its claim" in line]
    assert len(refused) == 2, script.lines


def test_a_task_enqueued_here_is_not_taken_by_recovery(tmp_path):
    """This process's own claims are never recovered by itself."""
    record = tmp_path / "record"
    with durable("thread", LEASE=3600) as backend:
        results = [tasks.record.enqueue(str(record), f"r{n}") for n in range(5)]
        for result in results:
            wait(result, timeout=DEADLINE)
        assert backend.join(DEADLINE)
    assert [r.status for r in results] == [TaskResultStatus.SUCCESSFUL] * 5
    assert sorted(executions(record)) == [f"r{n}" for n in range(5)]


#: A process that runs one gated task, then closes its alias while the task
#: still runs, saying each time its heartbeat renews its leases.
CLOSING = """
import sys, threading
import django
django.setup()
from django.tasks import task_backends
from django.tasks.signals import task_started
from django.test.utils import override_settings
from django_tasks_local.stores import leases
from tests import tasks
from tests.database_support import durable_config

real_beat = leases.Leases.beat_if_due

def beat_if_due(self):
    before = self._last_beat
    real_beat(self)
    if self._last_beat != before:
        print("beat", flush=True)

leases.Leases.beat_if_due = beat_if_due
started = threading.Event()
task_started.connect(lambda **kwargs: started.set(), weak=False)
config = durable_config("thread", LEASE=1, POLL_INTERVAL=0.1)
with override_settings(TASKS={"default": config}):
    result = tasks.wait_for_gate.enqueue(sys.argv[1], "finished")
    assert started.wait(60) and task_backends["default"].runtime.store.flush(60)
    print("running", result.id, flush=True)
    task_backends["default"].close()  # returns once the task has finished
    print("closed", flush=True)
"""


def test_a_closing_process_keeps_the_leases_of_its_running_tasks(pipe_gate):
    """close() (and SIGTERM of a worker, and the drain at exit) waits for the
    running tasks: their leases are renewed meanwhile, so another process, live
    and recovering every 0.1 s, never takes them for lost."""
    gate = pipe_gate()
    script = Script(CLOSING, gate.path)
    result_id = script.expect("running", DEADLINE).split()[1]
    with durable("thread", LEASE=1, POLL_INTERVAL=0.1) as backend:
        backend.runtime.start()  # a live process of the alias, recovering
        for _ in range(4):  # renewed past several leases while it closes
            script.expect("beat", DEADLINE)
        gate.open()
        script.expect("closed", DEADLINE)
        code, stderr = script.finish(DEADLINE)
        result = wait(backend.get_result(result_id), timeout=DEADLINE)

    assert code == 0, stderr
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert result.return_value == "finished"
    assert result.attempts == 1
