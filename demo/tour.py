"""The acts of the demo, each a set of tasks followed live on a board, then a
summary of every task. Uses the public API only: ``enqueue()``, ``using()``,
``get_result()`` / ``refresh()``, Django's signals, ``wait()`` and ``close()``."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import TextIO

from django.conf import settings
from django.tasks import task_backends
from django.tasks.signals import task_started
from django.utils import timezone

from django_tasks_local import wait

from . import tasks
from .board import BOLD, DEADLINE, RESET, Board, Feed, Row, outcome


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class Tour:
    def __init__(self, out: TextIO, live: bool) -> None:
        self.out = out
        self.live = live
        self.began = time.time()
        self.feed = Feed()
        self.board = Board(out, live, self.feed, self.began)
        self.everything: list[Row] = []

    def say(self, text: str = "", bold: bool = False) -> None:
        if bold and self.live:
            text = f"{BOLD}{text}{RESET}"
        print(text, file=self.out, flush=True)

    def run(self) -> int:
        self.say("django-tasks-local: background tasks for Django, no broker", True)
        self.say("Pools in this process, per alias of settings.TASKS:")
        for alias, config in settings.TASKS.items():
            backend = config["BACKEND"].rsplit(".", 1)[-1]
            options = ", ".join(f"{k}={v}" for k, v in config["OPTIONS"].items())
            self.say(f"  {alias:<8} {backend:<20} {options}")
        try:
            self.side_by_side()
            self.priorities()
            self.faults()
            self.summary()
        finally:
            for alias in settings.TASKS:
                task_backends[alias].close()
            self.feed.close()
        return 0

    def heading(self, number: int, title: str, explanation: str) -> None:
        self.say()
        self.say(f"{number}. {title}", True)
        self.say(f"   {explanation}")

    def wait_until_running(self, result) -> None:
        """Block until a worker has begun ``result`` (told by ``task_started``)."""
        started = threading.Event()

        def on_started(sender, task_result, **kwargs) -> None:
            if task_result.id == result.id:
                started.set()

        task_started.connect(on_started, weak=False)
        try:
            result.refresh()
            if result.status == "READY" and not started.wait(DEADLINE):
                raise TimeoutError(f"{result.task.name} never started")
        finally:
            task_started.disconnect(on_started)

    # -- the acts ------------------------------------------------------------------

    def side_by_side(self) -> None:
        self.heading(
            1,
            "I/O on threads and CPU on processes, side by side",
            "enqueue() returns at once; then each task goes READY -> RUNNING ->\n"
            "   SUCCESSFUL or FAILED, with progress reported from inside the task.",
        )
        rows = [
            Row(f"fetch {path}", tasks.fetch.enqueue(path, seconds))
            for path, seconds in (
                ("/news", 1.2),
                ("/weather", 0.8),
                ("/prices", 1.6),
                ("/sports", 1.0),
                ("/podcast", 1.4),
            )
        ]
        rows += [
            Row(f"count_primes {limit:,}", tasks.count_primes.enqueue(limit))
            for limit in (150_000, 200_000, 100_000)
        ]
        due = timezone.now() + timedelta(seconds=2)
        rows.append(
            Row(
                "send_reminder (in 2 s)",
                tasks.send_reminder.using(run_after=due).enqueue("ada"),
            )
        )
        rows.append(Row("charge_card", tasks.charge_card.enqueue(42)))
        self.board.follow(rows)
        self.everything += rows
        reminder = next(r.result for r in rows if r.label.startswith("send_reminder"))
        late = (reminder.started_at - due).total_seconds()
        self.say(
            f"   The reminder was due at +{due.timestamp() - self.began:.2f}s "
            f"and started {late * 1000:.0f} ms after that."
        )

    def priorities(self) -> None:
        self.heading(
            2,
            "Priority decides the order",
            "One worker ('serial'), kept busy while five tasks queue up behind it:\n"
            "   the highest priority runs first, equal priorities in enqueue order.",
        )
        busy = tasks.step.enqueue("busy", 0.5)
        self.wait_until_running(busy)
        rows = [Row("step busy", busy)]
        for label, priority in (
            ("low", -10),
            ("normal", 0),
            ("urgent", 50),
            ("high", 10),
            ("normal again", 0),
        ):
            task = tasks.step.using(priority=priority)
            rows.append(Row(f"step {label}", task.enqueue(label, 0.15)))
        self.board.follow(rows)
        self.everything += rows
        order = sorted(rows[1:], key=lambda row: row.result.started_at)
        self.say(
            "   Ran in this order: " + ", ".join(r.result.return_value for r in order)
        )

    def faults(self) -> None:
        self.heading(
            3,
            "Crashes and timeouts are contained",
            "A worker process is killed (SIGKILL), another hangs past TIMEOUT:\n"
            "   each fails only its own task; the pools replace the workers and\n"
            "   serve the rest.",
        )
        rows = [
            Row("count_primes 120,000", tasks.count_primes.enqueue(120_000)),
            Row("crash", tasks.crash.enqueue()),
            Row("count_primes 80,000", tasks.count_primes.enqueue(80_000)),
            Row("hang (TIMEOUT 1.5 s)", tasks.hang.enqueue()),
            Row(
                "count_primes 20,000",
                tasks.count_primes.using(backend="limited").enqueue(20_000),
            ),
        ]
        self.board.follow(rows)
        self.everything += rows

    def summary(self) -> None:
        self.say()
        self.say("Summary", True)
        header = (
            f"  {'task':<22} {'backend':<7} {'status':<10} "
            f"{'queued':>7} {'ran':>7}  result"
        )
        self.say(header)
        self.say("  " + "-" * min(len(header) + 20, self.board.width - 3))
        for row in self.everything:
            result = row.result
            wait(result, timeout=0)  # finished already: refreshed in place
            queued = ran = "-"
            if result.started_at is not None:
                queued = (
                    f"{(result.started_at - result.enqueued_at).total_seconds():.2f}s"
                )
                ran = f"{(result.finished_at - result.started_at).total_seconds():.2f}s"
            self.say(
                f"  {row.label:<22} {result.backend:<7} {result.status:<10} "
                f"{queued:>7} {ran:>7}  "
                f"{shorten(outcome(result), self.board.width - 64)}"
            )
        self.say()
        self.say(f"Done in {time.time() - self.began:.1f} s. Read README.md next.")
