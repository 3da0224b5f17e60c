"""Interpreter exit and fork, each in a fresh Python process running a small
script (settings given in code with ``settings.configure``)."""

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support import DEADLINE, STARTS_AT_EXIT

ROOT = Path(__file__).resolve().parent.parent

PROLOGUE = """
import os, sys, threading, warnings
import django
from django.conf import settings

settings.configure(
    USE_TZ=True,
    TASKS={
        "default": {
            "BACKEND": "django_tasks_local.ThreadPoolBackend",
            "OPTIONS": {"MAX_WORKERS": 1},
        },
        "other": {
            "BACKEND": "django_tasks_local.ThreadPoolBackend",
            "OPTIONS": {"MAX_WORKERS": 1},
        },
    },
)
django.setup()

from datetime import timedelta
from django.tasks import default_task_backend
from django.tasks.signals import task_started
from django.utils import timezone
from django_tasks_local import wait
from tests import tasks

OUT = sys.argv[1]
"""


def run_script(tmp_path, body):
    script = tmp_path / "script.py"
    script.write_text(PROLOGUE + textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


def test_exit_finishes_running_and_due_tasks_and_drops_deferred_ones(tmp_path):
    completed = run_script(
        tmp_path,
        """
        started = threading.Event()
        task_started.connect(lambda sender, **kwargs: started.set(), weak=False)
        running = tasks.write_file_after_main_thread_ends.enqueue(OUT + "/running")
        assert started.wait(30)
        # The only worker is busy until the main thread ends: this one is READY.
        due = tasks.write_file.enqueue(OUT + "/due")
        later = timezone.now() + timedelta(hours=1)
        for n in range(3):
            tasks.write_file.using(run_after=later).enqueue(OUT + f"/deferred-{n}")
        print("main thread ends", flush=True)
        """,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "main thread ends\n"
    assert (tmp_path / "running").read_text() == "done"
    assert (tmp_path / "due").read_text() == "done"
    assert not list(tmp_path.glob("deferred-*"))
    # One warning, counting them, and nothing else on stderr.
    warnings = completed.stderr.splitlines()
    assert len(warnings) == 1, completed.stderr
    assert "dropped 3 deferred task(s) not yet due" in warnings[0]


def test_a_task_enqueued_at_exit_on_an_alias_already_closed(tmp_path):
    """A task running during the drain at exit enqueues on an alias that the
    drain has already closed, a task that outlives the one that enqueued it."""
    completed = run_script(
        tmp_path,
        """
        # Used first, so closed first at exit (the drain goes in order of use).
        wait(tasks.add.using(backend="other").enqueue(1, 2), timeout=30)
        started = threading.Event()
        task_started.connect(lambda sender, **kwargs: started.set(), weak=False)
        tasks.enqueue_after_main_thread_ends.enqueue("other", OUT + "/chained")
        assert started.wait(30)
        """,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    if STARTS_AT_EXIT:
        # Python 3.12.3+ can start threads at exit: the enqueue starts the
        # alias's pool again, and the drain closes that alias once more, so
        # the task finishes before the process ends.
        assert (tmp_path / "chained").read_text() == "done"
        assert not (tmp_path / "chained.error").exists()
    else:
        # Python 3.12.0 to 3.12.2 refuse to start a thread once the main thread
        # has ended: the pool cannot start again, and enqueue() raises.
        error = (tmp_path / "chained.error").read_text()
        assert error == "can't create new thread at interpreter shutdown"
        assert not (tmp_path / "chained").exists()


def test_exit_with_nothing_left_is_quiet(tmp_path):
    completed = run_script(
        tmp_path,
        """
        result = wait(tasks.add.enqueue(1, 2), timeout=30)
        print(result.return_value, flush=True)
        """,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "3\n"
    assert completed.stderr == ""


def test_exit_after_an_async_task_used_the_default_executor_is_quiet(tmp_path):
    completed = run_script(
        tmp_path,
        """
        result = wait(tasks.async_add_in_a_thread.enqueue(1, 2), timeout=30)
        print(result.return_value, flush=True)
        """,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "3\n"
    # The worker closes its event loop at exit, and that shuts the loop's
    # default executor down from a new thread: Python 3.12.0 to 3.12.2 refuse
    # to start it then, 3.12.3 and later do not. Quiet on every version.
    assert completed.stderr == ""


def test_forked_process_starts_fresh_and_works(tmp_path):
    completed = run_script(
        tmp_path,
        """
        from django.tasks.exceptions import TaskResultDoesNotExist

        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
        before = wait(tasks.whoami.enqueue(), timeout=30)
        parent_runtime = default_task_backend.runtime
        # A task is RUNNING in the parent when it forks.
        tasks.EVENTS["held"] = threading.Event()
        held = tasks.wait_for_event.enqueue("held", "parent done")
        pid = os.fork()
        if pid == 0:
            runtime = default_task_backend.runtime
            assert runtime is not parent_runtime
            assert runtime.store.counts() == {"active": 0, "finished": 0}
            for known in (before.id, held.id):
                try:
                    default_task_backend.get_result(known)
                except TaskResultDoesNotExist:
                    pass
                else:
                    raise AssertionError("the child sees the parent's results")
            assert not [
                t for t in threading.enumerate() if t.name.startswith("tasks-")
            ]
            mine = wait(tasks.whoami.enqueue(), timeout=30)
            assert mine.return_value["pid"] == os.getpid(), mine.return_value
            assert f":{os.getpid()}:" in mine.worker_ids[0]
            assert default_task_backend.join(30)
            print("child ok", flush=True)
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        tasks.EVENTS["held"].set()
        assert wait(held, timeout=30).return_value == "parent done"
        after = wait(tasks.whoami.enqueue(), timeout=30)
        assert after.return_value["pid"] == os.getpid() == before.return_value["pid"]
        assert default_task_backend.runtime is parent_runtime
        print("parent ok", os.waitstatus_to_exitcode(status), flush=True)
        """,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "child ok\nparent ok 0\n", completed.stderr
