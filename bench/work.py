"""The functions the benchmark runs, as plain module-level functions.

Both contenders of each case run the very same function: the backends through a
``Task`` wrapping it, the raw executors by submitting it directly. Worker
processes import it by its module path, so it lives here and not in a script.
"""

from __future__ import annotations

import threading


def noop() -> None:
    """The cheapest possible task: what remains is the machinery's own cost."""
    return None


def send_welcome(user_id: int, template: str) -> None:
    """A no-op with the arguments of a typical task (``send_email(user, name)``)."""
    return None


def spin(iterations: int) -> int:
    """Pure-Python CPU work that holds the GIL for its whole duration."""
    total = 0
    for number in range(iterations):
        total += number * number % 7
    return total


#: Set by the benchmark to release every ``block()`` task (thread pools only).
gate = threading.Event()
#: Released once by each ``block()`` task as it starts, so the benchmark knows
#: every worker is busy before it measures.
entered = threading.Semaphore(0)

#: Seconds a blocked task waits for the gate at most: only reached if the
#: benchmark itself crashed, so workers do not hang forever.
GATE_DEADLINE = 600


def block() -> None:
    """Occupy a worker thread until the benchmark opens ``gate``."""
    entered.release()
    gate.wait(GATE_DEADLINE)


def at_once(exception, task_result):
    """A backoff: retry without waiting, to time the retry itself."""
    return 0


def succeeds(context) -> None:
    """Succeeds at once (takes the context, as the retried task does)."""
    return None


def fails_first_attempt(context) -> None:
    """Fails its first attempt, succeeds on the second."""
    if context.attempt == 1:
        raise ValueError("the first attempt fails")
    return None
