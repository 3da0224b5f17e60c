"""ProcessPoolBackend in a plain script, in its own interpreter: settings given
with ``settings.configure()``, the ``__main__`` guard, the drain at exit, and no
worker process outliving the script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import multiprocessing
    import sys


    def main():
        from django.conf import settings

        start_method, touched = sys.argv[1], sys.argv[2]
        settings.configure(
            INSTALLED_APPS=[],
            USE_TZ=True,
            GREETING="configured in code",
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

        greeting = wait(script_tasks.greeting.enqueue(), timeout=60)
        # Not waited for: the drain at interpreter exit must run it.
        script_tasks.touch.enqueue(touched)
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
    from pathlib import Path

    from django.conf import settings
    from django.tasks import task


    @task(backend="cpu")
    def greeting():
        return settings.GREETING


    @task(backend="cpu")
    def touch(path):
        Path(path).write_text(str(os.getpid()))
    """
)


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
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
    # The worker set Django up from a copy of the settings given in code.
    assert report["greeting"] == "configured in code"
    worker_pid = int(report["worker"].split(":")[1])
    assert worker_pid in report["children"]
    assert len(report["children"]) == 2
    # The task enqueued just before exit ran, in one of the workers.
    assert int(touched.read_text()) in report["children"]
    # No worker outlived the script, not even as a zombie.
    for pid in report["children"]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
