"""When the claimer looks at the queue: a real ``Claimer`` feeding a real
``Scheduler``, wired as the database store wires them, with a list standing in
for the table (the claimer's timing of its looks is under test; the claim
statement itself is tested on the real database in ``test_database_store.py``)."""

from __future__ import annotations

import threading
import time

import pytest

from django_tasks_local.scheduler import Scheduler
from django_tasks_local.stores import claimer as claimer_module
from django_tasks_local.stores.claimer import Claimer
from tests.support import DEADLINE


class Table:
    """Tasks waiting "in the database", each look the claimer takes, and what
    it handed to the scheduler."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.waiting: list[str] = []
        self.looks: list[tuple[float, int]] = []
        self.pushed: list[str] = []
        self.pushes = threading.Semaphore(0)

    def claim(self, room: int) -> tuple[list[str], None]:
        taken, self.waiting = self.waiting[:room], self.waiting[room:]
        self.looks.append((time.monotonic(), len(taken)))
        return taken, None

    def push(self, job: str) -> None:
        self.scheduler.push(job)
        self.pushed.append(job)
        self.pushes.release()

    def pushed_soon(self) -> bool:
        return self.pushes.acquire(timeout=DEADLINE)


def start_claimer(table: Table, max_workers: int) -> Claimer:
    """A claimer feeding ``table.scheduler``, looking every hour unless woken,
    and woken by the scheduler when it runs low, as the store wires it."""
    claimer = Claimer(
        "test",
        table.claim,
        table.push,
        table.scheduler,
        max_workers=max_workers,
        poll_interval=3600,
        database="default",
        tend=lambda: None,
        tend_interval=3600,
        on_exit=lambda: None,
    )
    table.scheduler.refill_below = max_workers
    table.scheduler.refill = claimer.refill
    claimer.start()
    return claimer


@pytest.fixture
def table():
    return Table(Scheduler())


@pytest.fixture
def running(table):
    """Start a claimer of ``max_workers`` on ``table``; stopped at the end."""
    started: list[Claimer] = []

    def start(max_workers: int = 1) -> Claimer:
        started.append(start_claimer(table, max_workers))
        return started[-1]

    yield start
    for claimer in started:
        claimer.stop()


def take_all(scheduler: Scheduler, count: int) -> list[str]:
    """Take ``count`` jobs one after the other, as one worker runs them."""
    taken = []
    for _ in range(count):
        taken.append(scheduler.take(timeout=DEADLINE))
        scheduler.done()
    return taken


def test_a_refill_after_a_look_that_emptied_the_queue_waits_out_the_pause(
    table, running, monkeypatch
):
    """A worker taking the last job right after a look that found the queue
    empty makes the claimer look again once the pause is over: not at once (a
    write transaction per task), not at the next poll (an hour here)."""
    pause = 0.5
    monkeypatch.setattr(claimer_module, "REFILL_PAUSE_SECONDS", pause)
    claimer = running()
    table.waiting.append("first")
    claimer.wake()
    assert table.pushed_soon()  # fewer than it had room for: the queue is empty
    table.waiting.append("left by another process")
    assert take_all(table.scheduler, 1) == ["first"]  # runs low: a refill
    for _ in range(100):
        claimer.refill()  # more takes: still one look
    assert table.pushed_soon()

    assert table.pushed == ["first", "left by another process"]
    *_, (emptied, _), (refilled, found) = table.looks
    assert found == 1
    assert refilled - emptied >= pause


def test_a_wake_up_during_the_pause_looks_at_once(table, running, monkeypatch):
    """A task committed here (or falling due) is not held back by the pause."""
    monkeypatch.setattr(claimer_module, "REFILL_PAUSE_SECONDS", 3600)
    claimer = running()
    table.waiting.append("first")
    claimer.wake()
    assert table.pushed_soon()
    assert take_all(table.scheduler, 1) == ["first"]  # paused for an hour
    table.waiting.append("committed here")
    claimer.wake()
    assert table.pushed_soon()
    assert table.pushed == ["first", "committed here"]


def test_while_the_queue_is_deep_every_refill_looks_at_once(
    table, running, monkeypatch
):
    """The pause follows only a look that found fewer tasks than it had room
    for: a look that filled its room leaves the next refill free to look."""
    monkeypatch.setattr(claimer_module, "REFILL_PAUSE_SECONDS", 3600)
    claimer = running(max_workers=2)
    table.waiting.extend(f"task-{n}" for n in range(claimer.target + 3))
    claimer.wake()
    for _ in range(claimer.target):
        assert table.pushed_soon()
    assert take_all(table.scheduler, claimer.target)  # each take may refill
    for _ in range(3):
        assert table.pushed_soon()
    assert table.pushed == [f"task-{n}" for n in range(claimer.target + 3)]


def test_one_busy_worker_claims_before_it_runs_dry(table, running, monkeypatch):
    """One worker: the take of the last job queued here leaves room for four,
    the worker's share ahead; a batch fits in it, or the worker would run dry
    until the next poll."""
    monkeypatch.setattr(claimer_module, "REFILL_PAUSE_SECONDS", 3600)
    claimer = running(max_workers=1)
    table.waiting.extend(f"task-{n}" for n in range(claimer.target + 4))
    claimer.wake()
    for _ in range(claimer.target):
        assert table.pushed_soon()
    assert len(take_all(table.scheduler, claimer.target - 1)) == claimer.target - 1
    # The last take runs the scheduler dry, its job in flight: room for 4.
    assert table.scheduler.take(timeout=DEADLINE)
    for _ in range(4):
        assert table.pushed_soon()
    table.scheduler.done()
    assert table.looks[-1][1] == 4
    assert table.pushed == [f"task-{n}" for n in range(claimer.target + 4)]


def test_jobs_taken_ahead_and_finished_make_room_for_a_claim(
    table, running, monkeypatch
):
    """A pool that takes jobs ahead of its workers (the process pool's batches)
    empties the scheduler at its takes, with no room to claim then; the room
    opens as those jobs finish, and the claimer looks then."""
    monkeypatch.setattr(claimer_module, "REFILL_PAUSE_SECONDS", 3600)
    claimer = running(max_workers=2)
    table.waiting.extend(f"task-{n}" for n in range(claimer.target + claimer.batch))
    claimer.wake()
    for _ in range(claimer.target):
        assert table.pushed_soon()
    # The refills these takes ask for find no room (every job is in flight):
    # spent on nothing, as they would be, whenever the claimer got to look.
    table.scheduler.refill = lambda: None
    taken = [table.scheduler.take_nowait() for _ in range(claimer.target)]
    assert None not in taken and table.scheduler.load() == claimer.target
    table.scheduler.refill = claimer.refill
    table.scheduler.done(claimer.target)  # one supervisor cycle's report
    for _ in range(claimer.batch):
        assert table.pushed_soon()
    assert len(table.pushed) == claimer.target + claimer.batch
