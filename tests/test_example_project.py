"""The example project in ``example/``: its own tests pass, and ``runserver`` runs
its tasks in the autoreloader's child process.

The example has its own settings, so it runs in subprocesses here, exactly as a
user runs it, from its own directory.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "example"


def _example_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "EXAMPLE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py picks config.settings
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_example_projects_own_tests_pass(tmp_path, deadline):
    completed = subprocess.run(
        [sys.executable, "manage.py", "test", "--verbosity", "2"],
        cwd=EXAMPLE,
        env=_example_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=deadline * 2,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "OK" in completed.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_runserver_runs_tasks_in_the_reloaders_child(tmp_path, deadline):
    """With the autoreloader, the parent only watches files; the child serves
    requests, so the pools start there, on the first enqueue: threads in the
    child, and worker processes that the child starts."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=EXAMPLE,
        env=_example_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so Ctrl-C (SIGINT) can go to the whole group
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in server.stdout], daemon=True
    )
    reader.start()
    try:
        output = []
        while not output or "Quit the server" not in output[-1]:
            output.append(lines.get(timeout=deadline))
        base = f"http://127.0.0.1:{port}"
        cookies = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(cookies)
        )
        opener.open(f"{base}/", timeout=deadline).read()
        token = next(c.value for c in cookies if c.name == "csrftoken")
        started = opener.open(
            urllib.request.Request(
                f"{base}/tasks/welcome-email/",
                data=b"address=ada%40example.com",
                headers={"X-CSRFToken": token},
            ),
            timeout=deadline,
        )
        assert started.status == 202
        described = json.load(started)

        status = json.load(
            opener.open(
                f"{base}{described['status_url']}?wait={deadline}", timeout=deadline
            )
        )

        assert status["status"] == "SUCCESSFUL", status
        child_pid = int(status["worker"].split(":")[1])
        assert child_pid != server.pid  # ran in the child, not the reloader

        # A CPU-bound task: a worker process started by the child.
        page = opener.open(
            urllib.request.Request(
                f"{base}/tasks/primes/",
                data=b"limit=1000",
                headers={"X-CSRFToken": token},
            ),
            timeout=deadline,
        )  # the 303 is followed to the status page
        status_url = page.url.rstrip("/") + f".json?wait={deadline}"
        status = json.load(opener.open(status_url, timeout=deadline))

        assert (status["status"], status["result"]) == ("SUCCESSFUL", 168), status
        worker_pid = int(status["worker"].split(":")[1])
        assert worker_pid not in (server.pid, child_pid)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(deadline)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(deadline)
            reader.join(deadline)
