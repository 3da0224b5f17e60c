"""The example project in ``example/``: its own tests pass, ``runserver`` runs
its tasks in the autoreloader's child process, and under gunicorn with four
worker processes every worker answers for every task.

The example has its own settings, so it runs in subprocesses here, exactly as a
user runs it, from its own directory, on a database of its own in the test's
temporary folder.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.support import wait_for_exit

EXAMPLE = Path(__file__).resolve().parent.parent / "example"


def _example_env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "EXAMPLE_DATABASE": str(tmp_path / "db.sqlite3"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py picks config.settings
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _migrate(env: dict[str, str], deadline: float) -> None:
    """Create the database store's table, as a user does before serving."""
    completed = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=deadline * 2,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


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
    env = _example_env(tmp_path)
    _migrate(env, deadline)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=EXAMPLE,
        env=env,
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


#: What gunicorn logs for each request: the worker's pid, the status, the path.
ACCESS_LOG_FORMAT = "served %(p)s %(s)s %(r)s"
SERVED = re.compile(r"^served <(\d+)> (\d+) GET (\S+) ")
BOOTED = re.compile(r"Booting worker with pid: (\d+)")

#: Requests enqueued through the API view, and the most requests one status URL
#: may take to have been answered by every worker process.
TASKS_ENQUEUED = 20
MAX_ASKS_PER_TASK = 200


class LogLines:
    """The merged output of a server, read by a thread into a queue."""

    def __init__(self, process: subprocess.Popen) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(
            target=lambda: [self._lines.put(line) for line in process.stdout],
            daemon=True,
        )
        self._reader.start()

    def until(self, pattern: re.Pattern, deadline: float) -> re.Match:
        """Read lines until one matches ``pattern``; return the match."""
        end = time.monotonic() + deadline
        while True:
            line = self._lines.get(timeout=max(0.0, end - time.monotonic()))
            self.seen.append(line)
            match = pattern.search(line)
            if match:
                return match

    def join(self, timeout: float) -> None:
        self._reader.join(timeout)


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from ``/proc`` (Linux)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # it exited meanwhile
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def test_every_gunicorn_worker_answers_for_every_task(tmp_path, deadline):
    """``gunicorn -w 4``: twenty tasks enqueued through the API view, each on
    whichever worker took the request; every status URL is then asked until
    each of the four workers has answered it. None answers 404: results live
    in the database, not in the process that enqueued the task."""
    env = _example_env(tmp_path)
    _migrate(env, deadline)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "-",
            "--access-logformat",
            ACCESS_LOG_FORMAT,
            "config.wsgi",
        ],
        cwd=EXAMPLE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = LogLines(server)
    try:
        log.until(re.compile(rf"Listening at: http://127\.0\.0\.1:{port}"), deadline)
        workers = {int(log.until(BOOTED, deadline)[1]) for _ in range(4)}
        base = f"http://127.0.0.1:{port}"
        cookies = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(cookies)
        )
        opener.open(f"{base}/", timeout=deadline).read()
        token = next(c.value for c in cookies if c.name == "csrftoken")
        status_urls = []
        for n in range(TASKS_ENQUEUED):
            answer = opener.open(
                urllib.request.Request(
                    f"{base}/tasks/welcome-email/",
                    data=f"address=user{n}%40example.com".encode(),
                    headers={"X-CSRFToken": token},
                ),
                timeout=deadline,
            )
            assert answer.status == 202
            status_urls.append(json.load(answer)["status_url"])

        asked = 0
        answered_by: dict[str, set[int]] = {url: set() for url in status_urls}
        for url in status_urls:
            for ask in range(MAX_ASKS_PER_TASK):
                if answered_by[url] == workers:
                    break
                asked += 1
                # The first ask waits for the task to finish (a long poll).
                wait = 10 if ask == 0 else 0
                answer = opener.open(
                    f"{base}{url}?ask={asked}&wait={wait}", timeout=deadline
                )
                status = json.load(answer)
                served = log.until(re.compile(rf"^served .*[?&]ask={asked}&"), deadline)
                pid, code = map(int, SERVED.match(served.string).groups()[:2])
                assert (answer.status, code) == (200, 200)
                assert (status["status"], status["result"]) == ("SUCCESSFUL", 1)
                answered_by[url].add(pid)
    finally:
        below = _descendants(server.pid)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(deadline * 2)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(deadline)
            still_running = [pid for pid in below if not wait_for_exit(pid, deadline)]
            for pid in still_running:
                os.kill(pid, signal.SIGKILL)  # leave nothing behind, then fail
            log.join(deadline)
            server.stdout.close()

    assert all(pids == workers for pids in answered_by.values()), answered_by
    # The master, each of its workers, and the processes of their cpu pools
    # (started with each worker's first request) ended with SIGTERM.
    output = "".join(log.seen)
    assert server.returncode == 0, output
    assert workers <= below
    assert still_running == []
    assert "Traceback" not in output
    assert "database is locked" not in output
    print(f"{asked} status requests, answered by workers {sorted(workers)}")
