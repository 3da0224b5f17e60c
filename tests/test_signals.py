"""task_enqueued, task_started and task_finished: once each, right status, right
sender, in the enqueuing process; and Django's own log lines follow from them."""

import logging
import os
import threading

import pytest
from django.tasks import TaskResultStatus
from django.tasks.signals import task_finished, task_started

from django_tasks_local import wait
from tests import tasks
from tests.support import DEADLINE


def test_task_enqueued_is_sent_once_before_enqueue_returns(backend, signals):
    result = tasks.add.enqueue(1, 2)
    enqueued = signals.of(result.id, "enqueued")
    assert len(enqueued) == 1
    sent = enqueued[0]
    assert sent.sender is type(backend)
    assert sent.thread == threading.current_thread().name
    assert sent.result.status == TaskResultStatus.READY
    assert sent.result.enqueued_at == result.enqueued_at
    wait(result, timeout=DEADLINE)


@pytest.mark.parametrize(
    ("task", "args", "final"),
    [
        (tasks.add, (1, 2), TaskResultStatus.SUCCESSFUL),
        (tasks.fail, ("no",), TaskResultStatus.FAILED),
        (tasks.async_whoami, (), TaskResultStatus.SUCCESSFUL),
        (tasks.async_fail, ("no",), TaskResultStatus.FAILED),
    ],
    ids=["sync-ok", "sync-failed", "async-ok", "async-failed"],
)
def test_started_and_finished_are_sent_once_each(backend, signals, task, args, final):
    result = task.enqueue(*args)
    wait(result, timeout=DEADLINE)
    assert [s.name for s in signals.of(result.id)] == [
        "enqueued",
        "started",
        "finished",
    ]
    started = signals.of(result.id, "started")[0]
    finished = signals.of(result.id, "finished")[0]
    assert started.sender is type(backend)
    assert finished.sender is type(backend)
    assert started.result.status == TaskResultStatus.RUNNING
    assert started.result.started_at == result.started_at
    assert started.result.worker_ids == result.worker_ids
    assert finished.result.status == final == result.status
    assert finished.result.finished_at == result.finished_at


def test_signals_are_received_in_the_enqueuing_process(backend):
    pids = []

    def record(sender, task_result, **kwargs):
        pids.append(os.getpid())

    task_started.connect(record, weak=False)
    task_finished.connect(record, weak=False)
    try:
        wait(tasks.whoami.enqueue(), timeout=DEADLINE)
    finally:
        task_started.disconnect(record)
        task_finished.disconnect(record)
    assert pids == [os.getpid(), os.getpid()]


def test_failing_receivers_are_logged_and_the_task_still_completes(backend, caplog):
    def broken(sender, task_result, **kwargs):
        raise RuntimeError("receiver bug")

    task_started.connect(broken, weak=False)
    task_finished.connect(broken, weak=False)
    try:
        with caplog.at_level(logging.ERROR, logger="django_tasks_local"):
            result = wait(tasks.add.enqueue(2, 2), timeout=DEADLINE)
    finally:
        task_started.disconnect(broken)
        task_finished.disconnect(broken)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 4
    ours = [r for r in caplog.records if r.name == "django_tasks_local"]
    assert len(ours) == 2
    assert "of task_started" in ours[0].getMessage()
    assert "of task_finished" in ours[1].getMessage()
    assert all(result.id in r.getMessage() for r in ours)
    assert all("receiver bug" in str(r.exc_info[1]) for r in ours)


def test_django_logs_each_step(backend, caplog):
    with caplog.at_level(logging.DEBUG, logger="django.tasks"):
        result = wait(tasks.noop.enqueue(), timeout=DEADLINE)
    lines = [r.getMessage() for r in caplog.records if r.name == "django.tasks"]
    assert len(lines) == 3
    assert "enqueued" in lines[0] and result.id in lines[0]
    assert "state=RUNNING" in lines[1] and result.id in lines[1]
    assert "state=SUCCESSFUL" in lines[2] and result.id in lines[2]
    assert not any("NoneType" in line for line in lines)


def test_django_logs_a_failure_at_error_level(backend, caplog):
    with caplog.at_level(logging.DEBUG, logger="django.tasks"):
        result = wait(tasks.fail.enqueue("it broke"), timeout=DEADLINE)
    records = [r for r in caplog.records if r.name == "django.tasks"]
    assert len(records) == 3
    assert "state=FAILED" in records[2].getMessage()
    assert result.id in records[2].getMessage()
    assert records[2].levelno == logging.ERROR
    # As under ImmediateBackend, the log line carries the task's traceback.
    logged = logging.Formatter().format(records[2])
    assert logged.endswith("ValueError: it broke")
    assert "in fail\n    raise ValueError(message)" in logged
