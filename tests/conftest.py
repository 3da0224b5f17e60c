"""Shared fixtures: every test ends with no stray worker thread or child process.

Each test's runtimes are closed and forgotten afterwards (``runtime.reset()``), so
pools never leak from one test into the next, and a test that leaves a worker
thread or a child process behind fails.
"""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from django.tasks import task_backends
from django.test import override_settings

from django_tasks_local import runtime
from tests.database_support import STORE_COMBINATIONS
from tests.process_support import START_METHODS
from tests.support import DEADLINE, EventGate, PipeGate, SignalRecorder


def _our_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("tasks-")}


@pytest.fixture(autouse=True)
def no_leaks():
    """Close every runtime after the test, then check nothing was left running."""
    before = _our_threads()
    yield
    runtime.reset()
    leaked_threads = [t for t in _our_threads() - before if t.is_alive()]
    leaked_children = multiprocessing.active_children()
    for child in leaked_children:
        child.kill()
        child.join(DEADLINE)
    assert not leaked_threads, f"worker threads left running: {leaked_threads}"
    assert not leaked_children, f"child processes left running: {leaked_children}"


@pytest.fixture
def deadline() -> float:
    return DEADLINE


@pytest.fixture(params=STORE_COMBINATIONS)
def combination(request) -> str:
    """Each backend on each store in turn: "thread-memory", "process-database"..."""
    return request.param


@pytest.fixture(params=START_METHODS)
def start_method(request) -> str:
    """Each way a process pool can start its workers, in turn."""
    return request.param


#: The backends the contract tests run against, by id; a contract test that takes
#: the ``backend`` fixture runs once per entry.
BACKENDS: dict[str, dict] = {
    "thread": {"BACKEND": "django_tasks_local.ThreadPoolBackend"},
    # forkserver, the default: the start methods differ only in how a worker
    # starts, which tests/test_process_pool.py covers under all three.
    "process": {
        "BACKEND": "django_tasks_local.ProcessPoolBackend",
        "OPTIONS": {"START_METHOD": "forkserver"},
    },
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "backend_options(**options): OPTIONS the backend fixture adds for this test",
    )
    config.addinivalue_line(
        "markers",
        "database: uses the database; `make test-postgres` runs these on PostgreSQL",
    )
    config.addinivalue_line(
        "markers",
        "browser: drives headless Chromium; only `make test-browser` runs these",
    )


@pytest.fixture(params=list(BACKENDS))
def backend(request):
    """The ``default`` alias configured with each backend in turn (2 workers).

    Tasks in ``tests/tasks.py`` use the ``default`` alias, so they run on it. A
    test marked ``@pytest.mark.backend_options(MAX_WORKERS=1, ...)`` gets those
    options on top.
    """
    marker = request.node.get_closest_marker("backend_options")
    config = {
        **BACKENDS[request.param],
        "QUEUES": ["default", "other"],
        "OPTIONS": {
            **BACKENDS[request.param].get("OPTIONS", {}),
            "MAX_WORKERS": 2,
            **(marker.kwargs if marker else {}),
        },
    }
    with override_settings(TASKS={"default": config}):
        yield task_backends["default"]


@pytest.fixture
def signals():
    """Every task signal sent during the test, recorded (see ``SignalRecorder``)."""
    recorder = SignalRecorder().connect()
    yield recorder
    recorder.disconnect()


@pytest.fixture
def pipe_gate(tmp_path):
    """Make ``PipeGate``s (for tasks in either pool); all are opened at teardown,
    so no gated task is left blocking the pool."""
    made: list[PipeGate] = []

    def make(name: str = "gate") -> PipeGate:
        gate = PipeGate(tmp_path / f"{name}-{len(made)}")
        made.append(gate)
        return gate

    yield make
    for gate in made:
        gate.close()


@pytest.fixture
def event_gate(request):
    """Make ``EventGate``s (thread pools only); all are opened at teardown."""
    made: list[EventGate] = []

    def make(name: str = "gate") -> EventGate:
        gate = EventGate(f"{request.node.nodeid}:{name}:{len(made)}")
        made.append(gate)
        return gate

    yield make
    for gate in made:
        gate.close()


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium with a fresh profile; ended after the test."""
    from tests.browser_support import Browser

    chromium = Browser(tmp_path / "chromium-profile")
    yield chromium
    chromium.quit()
    driver = chromium.driver.service.process
    assert driver is None or driver.poll() is not None, "chromedriver left running"
