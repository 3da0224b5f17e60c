"""The scheduler alone, with an injected clock: order, deferral, draining."""

import threading
import time

import pytest

from django_tasks_local.scheduler import Scheduler
from tests.support import DEADLINE

#: A timeout for takes and waits that are meant to run out.
SHORT = 0.02


class Clock:
    """Wall-clock seconds the test moves by hand. ``read_elsewhere`` is set once
    a thread other than the test's has read it."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.read_elsewhere = threading.Event()
        self._test_thread = threading.current_thread()

    def __call__(self) -> float:
        if threading.current_thread() is not self._test_thread:
            self.read_elsewhere.set()
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def scheduler(clock):
    return Scheduler(clock=clock)


def drain_ready(scheduler):
    taken = []
    while (item := scheduler.take_nowait()) is not None:
        taken.append(item)
    return taken


def taker(scheduler, timeout=DEADLINE):
    """Run ``take()`` in a thread; return (thread, box with the item)."""
    box = []
    thread = threading.Thread(target=lambda: box.append(scheduler.take(timeout)))
    thread.start()
    return thread, box


def test_higher_priority_first(scheduler):
    for name, priority in [("low", -3), ("mid", 0), ("top", 10), ("high", 5)]:
        scheduler.push(name, priority)
    assert drain_ready(scheduler) == ["top", "high", "mid", "low"]


def test_equal_priority_in_push_order(scheduler):
    for n in range(50):
        scheduler.push(n, 7)
    assert drain_ready(scheduler) == list(range(50))


def test_priority_then_push_order(scheduler):
    pushes = [("a", 1), ("b", 2), ("c", 1), ("d", 2), ("e", 0), ("f", 1)]
    for name, priority in pushes:
        scheduler.push(name, priority)
    assert drain_ready(scheduler) == ["b", "d", "a", "c", "f", "e"]


def test_deferred_job_waits_for_its_time(scheduler, clock):
    scheduler.push("later", 0, due=clock.now + 10)
    assert scheduler.take_nowait() is None
    assert scheduler.seconds_to_next_due() == 10
    clock.now += 9.999
    assert scheduler.take_nowait() is None
    clock.now += 0.001
    assert scheduler.take_nowait() == "later"
    assert scheduler.seconds_to_next_due() is None


def test_due_in_the_past_is_ready_at_once(scheduler, clock):
    scheduler.push("overdue", 0, due=clock.now - 5)
    scheduler.push("now", 0, due=clock.now)
    assert drain_ready(scheduler) == ["overdue", "now"]


def test_deferred_jobs_that_fall_due_together_run_by_priority_then_order(
    scheduler, clock
):
    scheduler.push("d-low", 0, due=clock.now + 5)
    scheduler.push("d-high", 9, due=clock.now + 5)
    scheduler.push("d-low-2", 0, due=clock.now + 1)
    scheduler.push("ready", 0)
    clock.now += 5
    # "ready" was pushed after "d-low" and "d-low-2": enqueue order, not due order.
    assert drain_ready(scheduler) == ["d-high", "d-low", "d-low-2", "ready"]


def test_blocked_take_gets_a_pushed_job(scheduler):
    thread, box = taker(scheduler)
    scheduler.push("job")
    thread.join(DEADLINE)
    assert box == ["job"]


def test_blocked_take_wakes_when_a_deferred_job_falls_due(scheduler, clock):
    scheduler.push("deferred", 0, due=clock.now + 3600)
    thread, box = taker(scheduler)
    # The taker reads the clock under the scheduler's lock, and lets go of the
    # lock only inside its condition's wait: holding the lock now, the test
    # knows the taker is blocked, with nothing taken.
    assert clock.read_elsewhere.wait(DEADLINE)
    with scheduler._lock:
        assert box == []
    clock.now += 3600
    scheduler.wake()
    thread.join(DEADLINE)
    assert box == ["deferred"]


def test_take_times_out_with_none(scheduler, clock):
    scheduler.push("far", 0, due=clock.now + 3600)
    assert scheduler.take(timeout=SHORT) is None


def test_real_timer_starts_a_deferred_job_without_a_push():
    # The real clock: the taker's own timer fires; nothing else wakes it.
    scheduler = Scheduler()
    scheduler.push("soon", 0, due=time.time() + 0.05)
    thread, box = taker(scheduler)
    thread.join(DEADLINE)
    assert box == ["soon"]


def test_idle_accounting(scheduler):
    assert scheduler.wait_idle(timeout=0) is True
    scheduler.push("a")
    assert scheduler.wait_idle(timeout=SHORT) is False
    assert scheduler.take_nowait() == "a"
    assert scheduler.wait_idle(timeout=SHORT) is False
    scheduler.done()
    assert scheduler.wait_idle(timeout=0) is True


def test_idle_ignores_deferred_jobs_until_due(scheduler, clock):
    scheduler.push("later", 0, due=clock.now + 60)
    assert scheduler.wait_idle(timeout=0) is True
    clock.now += 60
    assert scheduler.wait_idle(timeout=SHORT) is False


def test_wait_idle_wakes_on_done(scheduler):
    scheduler.push("a")
    scheduler.take_nowait()
    box = []
    waiter = threading.Thread(target=lambda: box.append(scheduler.wait_idle()))
    waiter.start()
    scheduler.done()
    waiter.join(DEADLINE)
    assert box == [True]


def test_drain_returns_not_yet_due_jobs_in_due_order(scheduler, clock):
    scheduler.push("due", 0, due=clock.now)
    scheduler.push("second", 0, due=clock.now + 20)
    scheduler.push("first", 0, due=clock.now + 10)
    assert scheduler.drain() == ["first", "second"]
    assert scheduler.seconds_to_next_due() is None
    # While draining, a new deferred job is refused; a due one is accepted.
    assert scheduler.push("late", 0, due=clock.now + 1) is False
    assert scheduler.push("also-due", 0) is True
    assert drain_ready(scheduler) == ["due", "also-due"]


def test_stop_when_idle_waits_for_jobs_in_flight(scheduler):
    scheduler.push("a")
    scheduler.take_nowait()
    assert scheduler.stop_when_idle(timeout=SHORT) is False
    assert scheduler.stopped is False
    scheduler.done()
    assert scheduler.stop_when_idle(timeout=DEADLINE) is True
    assert scheduler.stopped is True
    assert scheduler.push("b") is False
    assert scheduler.take_nowait() is None


def test_stop_releases_blocked_takers(scheduler):
    takers = [taker(scheduler) for _ in range(3)]
    assert scheduler.stop_when_idle(timeout=DEADLINE) is True
    for thread, box in takers:
        thread.join(DEADLINE)
        assert box == [None]


def test_abandon_stops_at_once_and_returns_every_job_not_taken(scheduler, clock):
    scheduler.push("later", 9, due=clock.now + 20)
    scheduler.push("sooner", 0, due=clock.now + 10)
    for name, priority in [("taken1", 0), ("taken2", 0), ("low", 0), ("high", 5)]:
        scheduler.push(name, priority)
    assert scheduler.take_nowait() == "high"
    assert scheduler.take_nowait() == "taken1"
    assert scheduler.abandon() == ["taken2", "low", "sooner", "later"]
    assert scheduler.stopped is True
    assert scheduler.push("next") is False
    assert scheduler.take_nowait() is None
    assert scheduler.seconds_to_next_due() is None
    # The two jobs taken before are still in flight until they are done.
    assert scheduler.wait_idle(timeout=0) is False
    scheduler.done(2)
    assert scheduler.wait_idle(timeout=0) is True


def test_requeue_goes_back_in_front_of_its_priority(scheduler):
    scheduler.push("a", 1)
    scheduler.push("b", 1)
    taken = scheduler.take_nowait()
    assert taken == "a"
    scheduler.requeue(taken, 1)
    scheduler.push("c", 1)
    scheduler.push("top", 5)
    assert drain_ready(scheduler) == ["top", "a", "b", "c"]
    assert scheduler.wait_idle(timeout=SHORT) is False  # four still in flight
    scheduler.done(4)
    assert scheduler.wait_idle(timeout=0) is True


def test_waker_is_called_after_each_push(scheduler, clock):
    calls = []
    scheduler.waker = lambda: calls.append(len(calls))
    scheduler.push("a")
    scheduler.push("b", 0, due=clock.now + 5)
    assert calls == [0, 1]


def test_remove_takes_a_queued_job_out_and_keeps_the_order(scheduler, clock):
    for item, priority in (("a", 0), ("b", 5), ("c", 0), ("d", 5)):
        scheduler.push(item, priority)
    scheduler.push("later", 9, due=clock.now + 60)

    assert scheduler.remove(lambda item: item == "d") == "d"
    assert scheduler.remove(lambda item: item == "later") == "later"
    assert scheduler.remove(lambda item: item == "nowhere") is None
    clock.now += 120
    assert drain_ready(scheduler) == ["b", "a", "c"]


def test_remove_finds_no_job_once_taken_and_wakes_join(scheduler):
    scheduler.push("running")
    assert scheduler.take_nowait() == "running"
    assert scheduler.remove(lambda item: item == "running") is None
    scheduler.done()
    scheduler.push("queued")
    idle = []
    waiter = threading.Thread(target=lambda: idle.append(scheduler.wait_idle(DEADLINE)))
    waiter.start()
    assert scheduler.remove(lambda item: item == "queued") == "queued"
    waiter.join(DEADLINE)
    assert idle == [True]
