"""Helpers of the database-store tests: an alias on the database store, what its
table holds, the executions tasks recorded, and scripts run as processes of
their own on the same database."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.tasks import task_backends
from django.test import override_settings

from django_tasks_local import runtime
from django_tasks_local.models import TaskRecord
from tests.support import DEADLINE

BACKENDS = {
    "thread": {"BACKEND": "django_tasks_local.ThreadPoolBackend"},
    "process": {
        "BACKEND": "django_tasks_local.ProcessPoolBackend",
        "OPTIONS": {"START_METHOD": "forkserver"},
    },
}


def durable_config(kind: str = "thread", **options) -> dict:
    """A ``TASKS`` entry on the database store (2 workers unless told)."""
    base = BACKENDS[kind]
    return {
        **base,
        "QUEUES": ["default", "other"],
        "OPTIONS": {
            **base.get("OPTIONS", {}),
            "STORE": "database",
            "MAX_WORKERS": 2,
            **options,
        },
    }


@contextlib.contextmanager
def durable(kind: str = "thread", **options):
    """The ``default`` alias on the database store; closed at the end, before the
    test's database is emptied."""
    with override_settings(TASKS={"default": durable_config(kind, **options)}):
        try:
            yield task_backends["default"]
        finally:
            runtime.reset()


#: Each backend on each store, for tests of what both stores promise; the
#: database ones are marked to run on PostgreSQL too.
_ON_DATABASE = [pytest.mark.database, pytest.mark.django_db(transaction=True)]
STORE_COMBINATIONS = [
    "thread-memory",
    "process-memory",
    pytest.param("thread-database", marks=_ON_DATABASE),
    pytest.param("process-database", marks=_ON_DATABASE),
]


@contextlib.contextmanager
def on_store(combination: str, **options):
    """The ``default`` alias as ``combination`` says ("process-database"...)."""
    kind, store = combination.split("-")
    if store == "database":
        with durable(kind, **options) as backend:
            yield backend
        return
    config = durable_config(kind, **options)
    del config["OPTIONS"]["STORE"]
    with override_settings(TASKS={"default": config, "cpu": config}):
        yield task_backends["default"]


def row(result_id: str) -> TaskRecord:
    return TaskRecord.objects.get(result_id=result_id)


def executions(path: Path) -> list[str]:
    """The labels recorded by ``tasks.record`` at ``path``, in order."""
    if not path.exists():
        return []
    return [line.split()[0] for line in path.read_text().splitlines()]


class Script:
    """A Python process running ``code`` with the test run's settings (the same
    database), whose output the test reads line by line, with deadlines."""

    def __init__(self, code: str, *args: str, env: dict | None = None) -> None:
        import os
        import subprocess
        import sys
        import textwrap

        self.process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._unexpected: list[str] = []

    def expect(self, prefix: str, timeout: float) -> str:
        """The first line of output not yet expected that starts with ``prefix``,
        whenever it came; ``AssertionError`` if none comes in time. Every line
        read is kept in ``lines``."""
        import select
        import time

        for index, line in enumerate(self._unexpected):
            if line.startswith(prefix):
                return self._unexpected.pop(index)
        deadline = time.monotonic() + timeout
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([stdout], [], [], max(0.0, remaining))
            if not ready:
                raise AssertionError(
                    f"no line starting {prefix!r} in {timeout}s; got {self.lines}"
                )
            line = stdout.readline()
            if not line:
                raise AssertionError(
                    f"the script ended before {prefix!r}: {self.lines}\n"
                    f"{self.finish(timeout)[1]}"
                )
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith(prefix):
                return line
            self._unexpected.append(line)

    def send(self, line: str) -> None:
        """A line to the script's standard input."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()

    def finish(self, timeout: float) -> tuple[int, str]:
        """Close its input, wait for it to end; its exit code and stderr (the
        rest of its output goes to ``lines``)."""
        stdout, stderr = self.process.communicate(timeout=timeout)
        self.lines += stdout.splitlines()
        return self.process.returncode, stderr

    def kill(self) -> None:
        """SIGKILL it and reap it. Its output pipes are closed here without
        reading them to the end: a worker process it leaves behind may hold them
        open until its task ends."""
        import contextlib

        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


ROOT = Path(__file__).resolve().parent.parent


class ScenarioScript:
    """One process running a scenario of ``tests.database_scripts``.

    A thread reads its reports (stdout, a JSON object a line) as they come;
    ``expect()`` blocks until one of a kind arrives. ``order()`` writes a line to
    its stdin; ``finish()`` ends its input and waits for it to exit. Its stderr
    goes to a file. The environment is the test run's, so it opens the same
    test database with the same settings.
    """

    def __init__(self, scenario: str, args: dict, folder: Path, name: str) -> None:
        self.name = name
        self.stderr_path = folder / f"{name}.stderr"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
        )
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.database_scripts",
                    scenario,
                    json.dumps(args),
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.pid = self.process.pid
        #: Every report read so far, in order.
        self.reports: list[dict] = []
        self._expected: set[int] = set()
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ended = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _take(self, timeout: float) -> bool:
        """Read one more line within ``timeout``; False at the end of output."""
        line = self._lines.get(timeout=timeout)
        if line is None:
            self._ended = True
            return False
        self.reports.append(json.loads(line))
        return True

    def expect(self, kind: str, timeout: float = DEADLINE) -> dict:
        """Block until the script reports ``kind`` (one not returned before)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for index in range(seen, len(self.reports)):
                if index not in self._expected and self.reports[index]["kind"] == kind:
                    self._expected.add(index)
                    return self.reports[index]
            seen = len(self.reports)
            remaining = deadline - time.monotonic()
            try:
                if self._ended or remaining <= 0 or not self._take(remaining):
                    raise queue.Empty
            except queue.Empty:
                raise AssertionError(
                    f"{self.name} reported no {kind!r} (exit code "
                    f"{self.process.poll()}); stderr:\n{self.stderr}"
                ) from None

    def of(self, kind: str) -> list[dict]:
        """Every report of ``kind`` read so far."""
        return [report for report in self.reports if report["kind"] == kind]

    def signals(self) -> list[tuple[str, str]]:
        """``(signal name, result id)`` of every task signal this process sent."""
        return [(report["name"], report["id"]) for report in self.of("signal")]

    def order(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self, timeout: float = DEADLINE) -> int:
        """End the script's input, wait for it to exit and read all it said;
        return its exit code."""
        assert self.process.stdin is not None
        if not self.process.stdin.closed:
            self.process.stdin.close()
        returncode = self.process.wait(timeout)
        self._reader.join(timeout)
        while not self._ended and self._take(timeout):
            pass
        if self.process.stdout is not None:
            self.process.stdout.close()
        return returncode

    def kill(self) -> None:
        """Leave nothing behind (a test that failed half-way)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(DEADLINE)
        if self.process.stdin is not None:
            self.process.stdin.close()
        self._reader.join(DEADLINE)
        if not self._reader.is_alive() and self.process.stdout is not None:
            self.process.stdout.close()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()
