"""One runtime per alias, shared by every backend instance; nothing starts until
the first enqueue."""

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist
from django.test import override_settings

from django_tasks_local import wait
from tests import tasks
from tests.conftest import BACKENDS
from tests.support import DEADLINE


def worker_threads(alias):
    return {
        t.name for t in threading.enumerate() if t.name.startswith(f"tasks-{alias}-")
    }


def test_instances_of_one_alias_in_different_threads_share_one_runtime(backend):
    with ThreadPoolExecutor(2) as others:
        elsewhere = others.submit(lambda: task_backends["default"]).result(DEADLINE)
    assert elsewhere is not backend  # Django makes one instance per thread...
    assert elsewhere.runtime is backend.runtime  # ...that share one runtime.
    result = tasks.add.enqueue(1, 2)
    # Enqueued through this thread's instance, read through the other's.
    assert wait(elsewhere.get_result(result.id), timeout=DEADLINE).return_value == 3


def test_creating_a_backend_starts_no_thread_and_no_process(backend):
    with ThreadPoolExecutor(1) as other:
        other.submit(lambda: task_backends["default"].runtime).result(DEADLINE)
    with pytest.raises(TaskResultDoesNotExist):
        backend.get_result("nothing-yet")
    assert backend.join(timeout=0) is True
    assert worker_threads("default") == set()
    assert multiprocessing.active_children() == []
    # The first enqueue is what starts the pool.
    wait(tasks.noop.enqueue(), timeout=DEADLINE)
    assert worker_threads("default") or multiprocessing.active_children()


def test_thread_pool_starts_max_workers_threads_on_first_enqueue():
    config = {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "OPTIONS": {"MAX_WORKERS": 3},
    }
    with override_settings(TASKS={"default": config}):
        assert worker_threads("default") == set()
        wait(tasks.noop.enqueue(), timeout=DEADLINE)
        assert worker_threads("default") == {
            "tasks-default-1",
            "tasks-default-2",
            "tasks-default-3",
        }


def one_worker_config(kind: str) -> dict:
    """The ``BACKENDS`` entry ``kind`` with a single worker."""
    config = BACKENDS[kind]
    return {**config, "OPTIONS": {**config.get("OPTIONS", {}), "MAX_WORKERS": 1}}


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_different_aliases_have_separate_pools_and_stores(kind, signals, pipe_gate):
    config = one_worker_config(kind)
    with override_settings(TASKS={"default": config, "mail": config}):
        default, mail = task_backends["default"], task_backends["mail"]
        assert default.runtime is not mail.runtime
        # The only worker of "default" is held; "mail" still runs a task at once.
        gate = pipe_gate()
        held = tasks.wait_for_gate.enqueue(gate.path, "held")
        signals.wait_for("started", held.id)
        on_mail = wait(tasks.whoami.using(backend="mail").enqueue(), timeout=DEADLINE)
        assert on_mail.status == TaskResultStatus.SUCCESSFUL
        assert default.get_result(held.id).status == TaskResultStatus.RUNNING
        gate.open()
        wait(held, timeout=DEADLINE)
        assert on_mail.backend == "mail"
        assert on_mail.worker_ids != held.worker_ids
        with pytest.raises(TaskResultDoesNotExist):
            default.get_result(on_mail.id)
        with pytest.raises(TaskResultDoesNotExist):
            mail.get_result(held.id)
        assert mail.get_result(on_mail.id).return_value == on_mail.return_value
