"""Task metadata, as Django's main branch defines it (its tests/tasks/
test_metadata.py is the reference), on both backends and both stores: set at
enqueue, read and changed inside the task, saved while it runs and at its end,
and read back with refresh() / get_result() in every process that can."""

from __future__ import annotations

import pickle
import threading

import pytest
from asgiref.sync import async_to_sync
from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import InvalidTask
from django.test import override_settings

from django_tasks_local import wait
from django_tasks_local.runtime import Runtime
from django_tasks_local.stores.memory import MemoryStore
from tests import tasks
from tests.database_support import Script, durable_config, on_store, row
from tests.support import DEADLINE


def run(task, *args, **kwargs):
    return wait(task.enqueue(*args, **kwargs), timeout=DEADLINE)


# -- the task's metadata option -----------------------------------------------------


def test_the_backends_support_metadata(backend):
    assert backend.supports_metadata is True


def test_using_sets_metadata_and_keeps_it():
    task = tasks.noop.using(metadata={"trace_id": 123})
    assert task.metadata == {"trace_id": 123}
    assert tasks.noop.metadata == {}
    assert task.using(priority=1).metadata == {"trace_id": 123}
    assert task.using(metadata={}).metadata == {}
    # Hashable (metadata is left out of the hash), unequal, picklable.
    assert hash(task) == hash(tasks.noop)
    assert task != tasks.noop
    assert pickle.loads(pickle.dumps(task)) == task


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ([("a", 1)], "metadata must be a dict."),
        ({1: "a"}, "metadata keys must be strings."),
        ({"a": object()}, "metadata must be JSON-serializable"),
    ],
)
def test_invalid_metadata_is_refused_with_djangos_messages(metadata, message):
    with pytest.raises(InvalidTask, match=message):
        tasks.noop.using(metadata=metadata)


# -- in the task and after it -------------------------------------------------------


def test_the_task_sees_its_metadata_and_the_result_keeps_it(combination):
    with on_store(combination):
        result = run(
            tasks.get_metadata.using(metadata={"trace_id": 123, "tags": ("a", "b")})
        )
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"trace_id": 123, "tags": ["a", "b"]}
    assert result.metadata == {"trace_id": 123, "tags": ["a", "b"]}


def test_reserved_keys_are_hidden_and_kept(combination):
    raw = {"trace_id": 123, "_internal": 1, "_lib": 2}
    with on_store(combination):
        result = run(tasks.get_metadata.using(metadata=raw))
        changed = run(
            tasks.update_metadata.using(metadata={"_reserved": "backend", "a": 1}),
            _reserved="user",
            _other="user",
            b=2,
        )
    assert result.return_value == {"trace_id": 123}
    assert result.metadata == {"trace_id": 123}
    assert result.raw_metadata == raw
    copy = result.metadata
    copy["trace_id"] = 456
    assert result.metadata == {"trace_id": 123}
    assert changed.metadata == {"a": 1, "b": 2}
    assert changed.raw_metadata == {"_reserved": "backend", "a": 1, "b": 2}


def test_metadata_changed_by_the_task_is_saved_at_its_end(combination):
    with on_store(combination):
        ok = run(tasks.update_metadata.using(metadata={"a": 1}), b=2)
        failed = run(tasks.update_metadata_and_fail, b=2)
        nested = run(
            tasks.append_to_metadata_list.using(metadata={"items": [1]}), "items", 2
        )
        asynchronous = async_to_sync(
            tasks.update_metadata_async.using(metadata={"a": 1}).aenqueue
        )(b=2)
        wait(asynchronous, timeout=DEADLINE)
    assert ok.status == TaskResultStatus.SUCCESSFUL and ok.metadata == {"a": 1, "b": 2}
    assert failed.status == TaskResultStatus.FAILED and failed.metadata == {"b": 2}
    assert nested.metadata == {"items": [1, 2]}
    assert asynchronous.metadata == {"a": 1, "b": 2}


def test_unmodified_metadata_is_not_written(monkeypatch):
    """Neither while the task runs nor with its end."""
    saves, ends = [], []
    real_finish = MemoryStore.finish

    def finish(self, job, outcome, worker_id=None):
        ends.append(outcome.metadata)
        return real_finish(self, job, outcome, worker_id)

    monkeypatch.setattr(
        MemoryStore, "save_metadata", lambda self, *args: saves.append(args)
    )
    monkeypatch.setattr(MemoryStore, "finish", finish)
    result = run(tasks.get_metadata.using(metadata={"a": 1}))
    assert result.metadata == {"a": 1}
    assert saves == []
    assert ends == [None]


def test_metadata_that_is_not_json_fails_the_task_with_type_error(combination):
    with on_store(combination):
        result = run(tasks.set_invalid_metadata)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is TypeError
    assert "metadata must be JSON-serializable" in result.errors[0].traceback
    assert result.metadata == {}


def test_save_metadata_while_running(combination):
    with on_store(combination):
        saved = run(tasks.save_metadata_explicitly, "a", 1)
        saved_async = run(tasks.save_metadata_explicitly_async, "b", 2)
    assert saved.return_value == {"a": 1} and saved.metadata == {"a": 1}
    assert saved_async.return_value == {"b": 2} and saved_async.metadata == {"b": 2}


# -- progress seen elsewhere while the task runs ----------------------------------


def test_progress_is_seen_while_the_task_runs(combination, pipe_gate, monkeypatch):
    """Another thread of this process (the process pool's parent, for a task
    in a worker process) reads the saved progress while the task still runs."""
    saved = threading.Event()
    real = Runtime.saved_metadata

    def saved_metadata(self, job, raw):
        real(self, job, raw)
        saved.set()

    monkeypatch.setattr(Runtime, "saved_metadata", saved_metadata)
    gate = pipe_gate()
    with on_store(combination) as backend:
        result = tasks.report_progress.enqueue(gate.path)
        assert saved.wait(DEADLINE)
        seen = []
        reader = threading.Thread(
            target=lambda: seen.append(backend.get_result(result.id))
        )
        reader.start()
        reader.join(DEADLINE)
        gate.open()
        wait(result, timeout=DEADLINE)

    [running] = seen
    assert running.status == TaskResultStatus.RUNNING
    assert running.metadata == {"progress": 50}
    assert result.metadata == {"progress": 100}


PROGRESS = """
import sys
import django
django.setup()
from django.tasks import task_backends
from django.test.utils import override_settings
from django_tasks_local.runtime import Runtime
from tests import tasks
from tests.database_support import durable_config

real = Runtime.saved_metadata

def saved_metadata(self, job, raw):
    real(self, job, raw)
    self.store.flush(60)
    print("saved", job.id, flush=True)

Runtime.saved_metadata = saved_metadata
with override_settings(TASKS={"default": durable_config("thread")}):
    tasks.report_progress.enqueue(sys.argv[1])
    task_backends["default"].join(60)
    print("done", flush=True)
"""


@pytest.mark.database
@pytest.mark.django_db(transaction=True)
def test_progress_is_seen_from_another_process(pipe_gate):
    gate = pipe_gate()
    script = Script(PROGRESS, gate.path)
    result_id = script.expect("saved", DEADLINE).split()[1]
    with override_settings(TASKS={"default": durable_config("thread")}):
        running = task_backends["default"].get_result(result_id)
        gate.open()
        script.expect("done", DEADLINE)
        code, stderr = script.finish(DEADLINE)
        final = task_backends["default"].get_result(result_id)
        running_again = task_backends["default"].get_result(result_id)

    assert code == 0, stderr
    assert running.status == TaskResultStatus.RUNNING
    assert running.metadata == {"progress": 50}
    assert final.status == TaskResultStatus.SUCCESSFUL
    assert final.metadata == {"progress": 100}
    assert running_again.raw_metadata == {"progress": 100}
    assert row(result_id).metadata == {"progress": 100}


def test_refresh_brings_the_latest_metadata(combination):
    with on_store(combination) as backend:
        result = tasks.update_metadata.using(metadata={"a": 1}).enqueue(b=2)
        assert result.metadata == {"a": 1}
        assert backend.join(DEADLINE)
        result.refresh()
    assert result.metadata == {"a": 1, "b": 2}
