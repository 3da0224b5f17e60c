"""ProcessPoolBackend in a plain script, in its own interpreter: settings given
with ``settings.configure()``, the ``__main__`` guard, the drain at exit, and no
worker process outliving the script."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.support import STARTS_AT_EXIT, wait_for_exit

SCRIPT = textwrap.dedent(
    """
    import atexit
    import json
    import multiprocessing
    import os
    import sys
    import threading


    def main():
        from django.conf import settings

        start_method, touched = sys.argv[1], sys.argv[2]
        settings.configure(
            INSTALLED_APPS=[],
            USE_TZ=True,
            GREETING="configured in code",
            # Cannot be pickled: not copied to spawn and forkserver workers.
            GUARD_LOCK=threading.Lock(),
            TASKS={
                "cpu": {
                    "BACKEND": "django_tasks_local.ProcessPoolBackend",
                    "OPTIONS": {"MAX_WORKERS": 2, "START_METHOD": start_method},
                }
            },
        )
        import django

        django.setup()
        import script_tasks
        from datetime import timedelta
        from django.tasks.signals import task_started
        from django.utils import timezone
        from django_tasks_local import wait

        greeting = wait(script_tasks.greeting.enqueue(), timeout=60)
        # RUNNING when main() returns: it waits on a named pipe that only an
        # exit handler writes to (registered after ours, so it runs before the
        # drain). This process holds the pipe open until it ends.
        gate = touched + ".gate"
        os.mkfifo(gate)
        gate_fd = os.open(gate, os.O_RDWR | os.O_NONBLOCK)
        started = threading.Event()
        task_started.connect(lambda sender, **kwargs: started.set(), weak=False)
        script_tasks.touch_when.enqueue(gate, touched + ".running")
        assert started.wait(60)
        atexit.register(os.write, gate_fd, b"\\0")
        # Not waited for: the drain at interpreter exit must run it.
        script_tasks.touch.enqueue(touched)
        # Not due before exit: dropped, with one warning that counts them.
        later = timezone.now() + timedelta(hours=1)
        for n in range(2):
            script_tasks.touch.using(run_after=later).enqueue(f"{touched}-{n}")
        print(json.dumps({
            "greeting": greeting.return_value,
            "worker": greeting.worker_ids[0],
            "children": [p.pid for p in multiprocessing.active_children()],
        }))


    if __name__ == "__main__":
        main()
    """
)

SCRIPT_TASKS = textwrap.dedent(
    """
    import os
    import select
    from pathlib import Path

    from django.conf import settings
    from django.tasks import task


    @task(backend="cpu")
    def greeting():
        return [settings.GREETING, hasattr(settings, "GUARD_LOCK")]


    @task(backend="cpu")
    def touch(path):
        Path(path).write_text(str(os.getpid()))


    @task(backend="cpu")
    def crash(code):
        os._exit(code)


    @task(backend="cpu")
    def wait_for_another_to_exit(pids):
        # Until one of the processes ``pids``, other than this one, has exited.
        fds = []
        try:
            for pid in pids:
                if pid != os.getpid():
                    try:
                        fds.append(os.pidfd_open(pid))
                    except ProcessLookupError:
                        return  # exited already
            if not select.select(fds, [], [], 60)[0]:
                raise TimeoutError(f"none of {pids} exited")
        finally:
            for fd in fds:
                os.close(fd)


    @task(backend="cpu")
    def touch_when(gate, path):
        # Until the script writes to the named pipe ``gate``.
        fd = os.open(gate, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not select.select([fd], [], [], 60)[0]:
                raise TimeoutError(f"nothing was written to {gate}")
        finally:
            os.close(fd)
        Path(path).write_text(str(os.getpid()))
    """
)

#: Sets up like SCRIPT, with one worker; then what ``sys.argv[2]`` says.
SCENARIO_SCRIPT = textwrap.dedent(
    """
    import atexit
    import json
    import multiprocessing
    import os
    import signal
    import sys
    import warnings


    def enqueue_at_exit(script_tasks, path, first, touches):
        # Runs at interpreter exit, before the drain (registered after it):
        # one task for each idle worker, then tasks that wait for a worker.
        for enqueue, args in first:
            getattr(script_tasks, enqueue).enqueue(*args)
        for n in range(touches):
            script_tasks.touch.enqueue(f"{path}-{n}")


    def main():
        from django.conf import settings

        start_method, scenario, path = sys.argv[1:4]
        settings.configure(
            INSTALLED_APPS=[],
            TASKS={
                "cpu": {
                    "BACKEND": "django_tasks_local.ProcessPoolBackend",
                    "OPTIONS": {"MAX_WORKERS": 2, "START_METHOD": start_method},
                }
            },
        )
        import django

        django.setup()
        import script_tasks
        from django_tasks_local import wait

        warm = wait(script_tasks.touch.enqueue(path + ".warm"), timeout=60)
        children = [p.pid for p in multiprocessing.active_children()]
        print(json.dumps(children), flush=True)
        if scenario == "forked":
            # As under gunicorn --preload: a process forked after the pool ran.
            warnings.simplefilter("ignore", DeprecationWarning)  # fork, threads
            pid = os.fork()
            if pid == 0:
                from django.tasks import task_backends
                from django.tasks.exceptions import TaskResultDoesNotExist

                try:
                    task_backends["cpu"].get_result(warm.id)
                except TaskResultDoesNotExist:
                    pass  # an empty store of its own
                else:
                    raise AssertionError("the forked process sees its parent's result")
                mine = wait(script_tasks.touch.enqueue(path + ".child"), timeout=60)
                assert mine.status == "SUCCESSFUL", mine.errors
                assert int(mine.worker_ids[0].split(":")[1]) not in children
                sys.exit(0)
            assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
            after = wait(script_tasks.touch.enqueue(path + ".parent"), timeout=60)
            assert int(after.worker_ids[0].split(":")[1]) in children
        elif scenario == "killed":
            os.kill(os.getpid(), signal.SIGKILL)
        elif scenario == "dies-at-exit":
            # Both workers die during the drain at exit; a third task needs a
            # worker started then.
            first = [("crash", [3]), ("crash", [4])]
            atexit.register(enqueue_at_exit, script_tasks, path, first, 1)
        elif scenario == "one-dies-at-exit":
            # One worker dies during the drain at exit, while the other waits
            # for that: the tasks queued behind are still waiting then.
            first = [("crash", [3]), ("wait_for_another_to_exit", [children])]
            atexit.register(enqueue_at_exit, script_tasks, path, first, 8)


    if __name__ == "__main__":
        main()
    """
)


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_configured_script_runs_tasks_and_drains_at_exit(
    start_method, tmp_path, deadline
):
    (tmp_path / "script.py").write_text(SCRIPT)
    (tmp_path / "script_tasks.py").write_text(SCRIPT_TASKS)
    touched = tmp_path / "touched"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "script.py", start_method, str(touched)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=deadline * 2,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # The worker set Django up from a copy of the settings given in code, all
    # but the one that cannot be pickled, which one warning named.
    greeting, has_lock = report["greeting"]
    assert greeting == "configured in code"
    skipped = (
        "Settings GUARD_LOCK cannot be pickled and are not copied to worker "
        f"processes (start method {start_method!r})"
    )
    if start_method == "fork":
        assert has_lock  # inherited with the rest of the process
        assert skipped not in done.stderr
    else:
        assert not has_lock
        assert done.stderr.count(skipped) == 1
    worker_pid = int(report["worker"].split(":")[1])
    assert worker_pid in report["children"]
    assert len(report["children"]) == 2
    # The task running at exit and the one enqueued just before both finished,
    # in the workers.
    assert int((tmp_path / "touched.running").read_text()) in report["children"]
    assert int(touched.read_text()) in report["children"]
    # The deferred ones did not, and one warning said so.
    assert not list(tmp_path.glob("touched-*"))
    assert done.stderr.count("dropped 2 deferred task(s) not yet due") == 1
    # No worker outlived the script, not even as a zombie.
    for pid in report["children"]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def run_scenario(tmp_path, start_method, scenario, deadline):
    """Run SCENARIO_SCRIPT; return its exit code, stderr and worker pids.

    Output goes to files, not pipes: a worker that outlived the script would
    hold a pipe open and hide the very failure the test looks for."""
    (tmp_path / "scenario.py").write_text(SCENARIO_SCRIPT)
    (tmp_path / "script_tasks.py").write_text(SCRIPT_TASKS)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    # multiprocessing's own temporary folder (the forkserver's socket) is removed
    # by the script at exit; a killed script leaves it here, not in /tmp.
    (tmp_path / "tmp").mkdir()
    env["TMPDIR"] = str(tmp_path / "tmp")
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        returncode = subprocess.run(
            [
                sys.executable,
                "scenario.py",
                start_method,
                scenario,
                str(tmp_path / "f"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=stdout,
            stderr=stderr,
            timeout=deadline * 2,
        ).returncode
    return returncode, err.read_text(), json.loads(out.read_text().splitlines()[0])


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_a_process_forked_after_use_gets_its_own_workers(
    start_method, tmp_path, deadline
):
    returncode, stderr, children = run_scenario(
        tmp_path, start_method, "forked", deadline
    )
    assert returncode == 0, stderr
    assert stderr == ""
    assert (tmp_path / "f.child").exists()
    assert (tmp_path / "f.parent").exists()
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_workers_exit_when_the_parent_is_killed(start_method, tmp_path, deadline):
    returncode, _, children = run_scenario(tmp_path, start_method, "killed", deadline)
    assert returncode == -signal.SIGKILL
    assert len(children) == 2
    survivors = [pid for pid in children if not wait_for_exit(pid, deadline)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)  # leave nothing behind, then fail
    assert not survivors, f"workers outlived their killed parent: {survivors}"


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_workers_dying_during_the_exit_drain_do_not_hang_it(
    start_method, tmp_path, deadline
):
    returncode, stderr, children = run_scenario(
        tmp_path, start_method, "dies-at-exit", deadline
    )
    assert returncode == 0, stderr
    assert "exited with code 3" in stderr or "exited with code 4" in stderr
    if start_method == "fork" and not STARTS_AT_EXIT:
        # Python 3.12.0 to 3.12.2 refuse os.fork() at exit: no worker can
        # replace the two that died, so the task left fails instead of hanging.
        assert (
            "no worker process could be started "
            "(can't fork at interpreter shutdown); failed 1 task(s)"
        ) in stderr
        assert not (tmp_path / "f-0").exists()
    else:
        # spawn and forkserver do not fork this process, and 3.12.3+ allow
        # os.fork() until the exit handlers have run: a new worker runs it.
        assert "could be started" not in stderr
        assert (tmp_path / "f-0").exists()
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_the_workers_left_finish_the_exit_drain(tmp_path, deadline):
    """One of two ``fork`` workers dies during the drain at exit, with tasks
    still queued."""
    returncode, stderr, children = run_scenario(
        tmp_path, "fork", "one-dies-at-exit", deadline
    )
    assert returncode == 0, stderr
    assert "exited with code 3" in stderr
    pids = {int((tmp_path / f"f-{n}").read_text()) for n in range(8)}
    if STARTS_AT_EXIT:
        # Python 3.12.3+ fork at exit: a new worker replaces the dead one.
        assert "cannot start worker processes" not in stderr
    else:
        # Python 3.12.0 to 3.12.2 refuse os.fork() at exit, and will until the
        # process ends: the pool says so once, stops trying, and the worker
        # left runs every task.
        assert stderr.count("cannot start worker processes at interpreter exit") == 1
        assert "can't fork at interpreter shutdown" in stderr
        assert "Could not start a worker process" not in stderr
        assert len(pids) == 1
        assert pids <= set(children)
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


BROKEN_SETTINGS = textwrap.dedent(
    """
    import multiprocessing
    import os
    import threading

    if multiprocessing.parent_process() is not None:
        if os.environ.get("WORKERS_HANG"):
            threading.Event().wait()  # as a fork child deadlocked on a lock
        raise RuntimeError("these settings refuse to load in a worker process")

    INSTALLED_APPS = []
    TASKS = {
        "cpu": {
            "BACKEND": "django_tasks_local.ProcessPoolBackend",
            "OPTIONS": {"MAX_WORKERS": 2, "START_METHOD": "forkserver"},
        }
    }
    """
)

BROKEN_SETTINGS_SCRIPT = textwrap.dedent(
    """
    import os
    import sys


    def main():
        os.environ["DJANGO_SETTINGS_MODULE"] = "broken_settings"
        import django

        django.setup()
        import script_tasks
        from django_tasks_local import wait
        from django_tasks_local.pools.process import supervisor

        supervisor.STARTUP_TIMEOUT_SECONDS = 1.0  # these workers never get ready
        for _ in range(2):
            result = wait(script_tasks.touch.enqueue(sys.argv[1]), timeout=60)
            print(result.status, result.errors[0].traceback.strip().splitlines()[-1])


    if __name__ == "__main__":
        main()
    """
)


@pytest.mark.parametrize(
    ("hang", "how_they_died"),
    [(False, "exited with code 1"), (True, "died with signal SIGKILL (-9)")],
    ids=["crash", "hang"],
)
def test_workers_that_cannot_start_fail_tasks_instead_of_looping(
    hang, how_they_died, tmp_path, deadline
):
    """Settings that fail (or hang) in every worker: each task fails after two
    workers died trying, the pool does not fork in a loop, the script ends."""
    (tmp_path / "broken_settings.py").write_text(BROKEN_SETTINGS)
    (tmp_path / "script_tasks.py").write_text(SCRIPT_TASKS)
    (tmp_path / "script.py").write_text(BROKEN_SETTINGS_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    if hang:
        env["WORKERS_HANG"] = "1"
    done = subprocess.run(
        [sys.executable, "script.py", str(tmp_path / "f")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=deadline * 2,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line.startswith("FAILED django_tasks_local.exceptions.WorkerDied: ")
        assert "2 worker processes died before running it" in line
        assert how_they_died in line
    if hang:
        assert "was not ready within 1 seconds; killing it" in done.stderr
    else:
        assert "these settings refuse to load in a worker process" in done.stderr
    assert "before it was ready" in done.stderr
    assert not (tmp_path / "f").exists()
