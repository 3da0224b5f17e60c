"""The processes of the database store's multi-process tests
(``tests/test_database_processes.py``), each an interpreter of its own::

    python -m tests.database_scripts SCENARIO '{"json": "arguments"}'

A script sets Django up from the test run's own settings (the test passes its
environment through: ``DJANGO_SETTINGS_MODULE``, ``DJANGO_TASKS_LOCAL_TEST_RUN``
and, on PostgreSQL, the ``PG*`` variables), so it opens the test database, and
puts the ``default`` alias on the database store. It reports on stdout, one JSON
object a line with its ``kind`` and this process's ``pid``: what it enqueued,
read and saw, and every task signal it received. It takes orders from stdin, a
line each; end of input tells a long-running script to return. Then the
interpreter exits as any process does, with the drain at exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

#: Where reports go: the real stdout, even while a management command's output
#: is sent elsewhere.
_REPORTS = sys.stdout
_reports_lock = threading.Lock()


def say(kind: str, **fields: Any) -> None:
    """Report one fact to the test, as one JSON line."""
    line = json.dumps({"kind": kind, "pid": os.getpid(), **fields})
    with _reports_lock:
        _REPORTS.write(line + "\n")
        _REPORTS.flush()


def next_order() -> str | None:
    """The test's next order (a line of stdin), or None at the end of input."""
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None


def report_signals() -> None:
    """Report every task signal this process sends, with the status it carried."""
    from django.tasks.signals import task_enqueued, task_finished, task_started

    for name, signal in (
        ("enqueued", task_enqueued),
        ("started", task_started),
        ("finished", task_finished),
    ):

        def receive(sender, task_result, name=name, **kwargs):
            say("signal", name=name, id=task_result.id, status=task_result.status)

        signal.connect(receive, weak=False)


def pool_starts() -> list[str]:
    """Record the alias of every pool this process starts from now on."""
    from django_tasks_local.runtime import Runtime

    started: list[str] = []
    real_start = Runtime._start

    def start(self):
        started.append(self.alias)
        return real_start(self)

    Runtime._start = start  # type: ignore[method-assign]
    return started


def pool_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("tasks-"))


def backend():
    from django.tasks import task_backends

    return task_backends["default"]


# -- scenarios -------------------------------------------------------------------------


def finish_then_hold(args: dict) -> None:
    """Run a few tasks to the end here, then hold one RUNNING until the test
    opens the gate ``args["gate"]``."""
    from django_tasks_local import wait
    from tests import tasks
    from tests.support import DEADLINE, SignalRecorder

    store = backend().runtime.store
    results = [tasks.add.enqueue(n, n) for n in range(args["count"])]
    results.append(tasks.fail.enqueue("failed elsewhere"))
    results.append(tasks.report_context.enqueue("in another process"))
    for result in results:
        wait(result, timeout=DEADLINE)
    assert store.flush(DEADLINE)
    say("finished", ids=[result.id for result in results])

    recorder = SignalRecorder().connect()
    held = tasks.wait_for_gate.enqueue(args["gate"], "released")
    recorder.wait_for("started", held.id)
    assert store.flush(DEADLINE)  # the row says RUNNING
    say("running", id=held.id)
    wait(held, timeout=DEADLINE)
    assert store.flush(DEADLINE)
    say("released", id=held.id, status=held.status)


def hold_and_leave(args: dict) -> None:
    """With its one worker held by a task at the gate ``args["gate"]``, enqueue
    tasks that record to ``args["record"]``: ``args["count"]`` due, one
    deferred by ``args["defer_seconds"]``. Then it closes the
    alias (``args["how"]``: "close", or "exit": the interpreter exit). Closing
    gives the due ones claimed here back to the table; the test opens the gate
    once it is told they were."""
    from datetime import UTC, datetime

    from django_tasks_local.stores.database import DatabaseStore
    from tests import tasks
    from tests.support import SignalRecorder

    real_detach = DatabaseStore.detach

    def detach(self, scheduler):
        jobs = real_detach(self, scheduler)
        say("detached")
        return jobs

    DatabaseStore.detach = detach  # type: ignore[method-assign]

    recorder = SignalRecorder().connect()
    holding = tasks.wait_for_gate.enqueue(args["gate"], "held")
    recorder.wait_for("started", holding.id)
    left = [
        tasks.record.enqueue(args["record"], f"left-{n}") for n in range(args["count"])
    ]
    run_after = datetime.fromtimestamp(time.time() + args["defer_seconds"], UTC)
    deferred = tasks.record.using(run_after=run_after).enqueue(
        args["record"], "deferred"
    )
    say(
        "enqueued",
        holding=holding.id,
        left=[result.id for result in left],
        deferred=deferred.id,
    )
    if args["how"] == "close":
        backend().close()
        say("closed")


def worker(args: dict) -> None:
    """Start the alias's pool, as a web process does, and serve until the end of
    input."""
    backend().runtime.start()
    say("ready")
    while next_order() is not None:
        pass


def produce(args: dict) -> None:
    """Enqueue ``args["count"]`` tasks that announce themselves and wait for the
    gate: half one by one (in autocommit), half in transactions of ten."""
    from django.db import transaction

    from tests import tasks

    def enqueue(n: int) -> str:
        return tasks.announce_then_record.enqueue(
            args["announcements"], args["gate"], args["record"], f"task-{n}"
        ).id

    half = args["count"] // 2
    ids = [enqueue(n) for n in range(half)]
    for first in range(half, args["count"], 10):
        with transaction.atomic():
            ids += [enqueue(n) for n in range(first, min(first + 10, args["count"]))]
    say("produced", ids=ids)


def command(args: dict) -> None:
    """Run a management command as ``manage.py`` does; report the pools it
    started. Its own output goes to stderr, out of the reports' way."""
    from django.core.management import execute_from_command_line

    started = pool_starts()
    with contextlib.redirect_stdout(sys.stderr):
        execute_from_command_line(["manage.py", *args["argv"]])
    say("command", pools_started=started, threads=pool_threads())


def request(args: dict) -> None:
    """Serve one request through Django's test client, as a web process serves
    its first; report the pools that started, then wait for ``args["ids"]``."""
    from django.test import Client, override_settings

    from django_tasks_local import wait
    from tests.support import DEADLINE

    started = pool_starts()
    threads_before = pool_threads()
    with override_settings(ROOT_URLCONF="tests.urls"):
        response = Client().get("/ping/")
    say(
        "served",
        status=response.status_code,
        threads_before=threads_before,
        pools_started=started,
        threads=pool_threads(),
    )
    results = [
        wait(backend().get_result(result_id), timeout=DEADLINE)
        for result_id in args["ids"]
    ]
    say("waited", statuses={r.id: r.status for r in results})


def load(args: dict) -> None:
    """Enqueue, read and run at once with other processes: enqueue
    ``args["count"]`` tasks (one by one and in transactions; some write through
    the ORM from the worker), reading results as it goes; then read and wait
    for every id the test sends (its own and the other processes'). Every error
    an enqueue or a read raised is reported."""
    from django.db import transaction

    from django_tasks_local import wait
    from tests import tasks
    from tests.support import DEADLINE

    alias = backend()
    alias.runtime.start()
    say("ready")
    assert next_order() == "go"
    errors: list[str] = []

    def attempt(what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - every error is the finding
            errors.append(f"{what}: {type(error).__name__}: {error}")
            return None

    def enqueue(n: int):
        if n % 4 == 0:
            return tasks.write_note.enqueue(f"{os.getpid()}-{n}")
        return tasks.add.enqueue(n, os.getpid())

    def enqueue_five_in_a_transaction(first: int) -> list:
        with transaction.atomic():
            return [enqueue(n) for n in range(first, first + 5)]

    mine: list = []
    for first in range(0, args["count"], 10):
        for n in range(first, first + 5):
            result = attempt("enqueue", lambda n=n: enqueue(n))
            mine += [result] if result is not None else []
        batch = attempt(
            "enqueue in a transaction",
            lambda first=first: enqueue_five_in_a_transaction(first + 5),
        )
        mine += batch or []
        middle = mine[len(mine) // 2]
        attempt("get_result", lambda middle=middle: alias.get_result(middle.id))
        attempt("refresh", mine[-1].refresh)
    say("enqueued", ids=[result.id for result in mine])

    everyone = json.loads(next_order() or "[]")
    statuses: Counter[str] = Counter()
    for result_id in everyone:
        result = attempt("get_result", lambda i=result_id: alias.get_result(i))
        finished = result and attempt("wait", lambda r=result: wait(r, DEADLINE))
        statuses[finished.status if finished else "unfinished"] += 1
    say("loaded", statuses=statuses, errors=errors)


SCENARIOS: dict[str, Callable[[dict], None]] = {
    "finish_then_hold": finish_then_hold,
    "hold_and_leave": hold_and_leave,
    "worker": worker,
    "produce": produce,
    "command": command,
    "request": request,
    "load": load,
}


def main() -> None:
    scenario, args = sys.argv[1], json.loads(sys.argv[2])
    import django

    django.setup()
    from django.test import override_settings

    from tests.database_support import durable_config

    config = durable_config(args.get("kind", "thread"), **args.get("options", {}))
    # Left on: the interpreter exit closes the alias as configured here.
    override_settings(TASKS={"default": config}).enable()
    report_signals()
    SCENARIOS[scenario](args)


if __name__ == "__main__":
    main()
