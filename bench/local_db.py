"""This package's contenders in the database-store case: ``ThreadPoolBackend``
with 4 workers and ``STORE = "database"``, on the same SQLite file as the peer.

One round runs three fresh sites (``bench/dbsite/local.py`` says what each step
does, and why the steps differ from the peer's):

1. ``enqueue()`` p50 and p99, one task at a time on an idle pool;
2. the throughput with the enqueues left out, as the peer's: the tasks are
   enqueued in one transaction, then the same process (4 worker threads) runs
   them all; then ``get_result()`` of each from another process (``driver
   read``, the peer's code);
3. the throughput with the enqueues included: one process enqueues in a loop
   while its own pool runs the tasks.

"database is locked" errors and the slowest statement are those of every
process of the three sites. Each contender is named for its configuration: the
first runs on SQLite exactly as the peer does (Django's defaults plus WAL
mode), the second as this package's system check recommends
(``synchronous=NORMAL``, ``IMMEDIATE`` transactions), the third as the first
with the ``django.tasks`` logger at Django's default level, INFO (the others,
the peer's included, keep it at WARNING, as every case of the benchmark does).
"""

from __future__ import annotations

import json

from .dbsite.driver import WARM
from .sites import Site, Workspace
from .sizes import Size

#: The settings modules (``bench/dbsite/``) of the contenders.
SETTINGS = "bench.dbsite.local_settings"
RECOMMENDED_SETTINGS = "bench.dbsite.local_recommended_settings"
INFO_SETTINGS = "bench.dbsite.local_info_settings"

#: What every process of a site runs for one step.
STEP = ("-m", "bench.dbsite.local")

NAME = "ThreadPoolBackend(4), STORE=database"
RECOMMENDED_NAME = f"{NAME}, synchronous=NORMAL"
INFO_NAME = f"{NAME}, task logs at INFO"

#: The rows compared with the peer's and checked against the targets: the
#: peer's rows keep task logs at WARNING, as the INFO row's does not.
COMPARED = (NAME, RECOMMENDED_NAME)

#: The figures only these contenders have, and their units: the peer's worker
#: runs apart from the enqueuing process, so it has no such figures.
EXTRA_METRICS = {
    "throughput, enqueue included": "tasks/s",
    "enqueue p50, pool busy": "µs",
}

#: The section's note on these rows.
NOTE = (
    "ThreadPoolBackend(4), STORE=database: enqueue() timed one task at a time on "
    "an idle pool (the task runs in the enqueuing process: each one finished and "
    "committed before the next enqueue); throughput with the enqueues left out "
    "(the tasks enqueued in one transaction, then run by that process's 4 "
    "threads), as the peer's; 'throughput, enqueue included': one process "
    "enqueuing in a loop while its own pool runs the tasks, from the first "
    "enqueue() to the last finish, and 'enqueue p50, pool busy' those calls. The "
    "synchronous=NORMAL row runs SQLite as this package's system check "
    "recommends (and IMMEDIATE transactions); every other row runs it at "
    "Django's default, synchronous=FULL (a disk sync per commit). Task logs at "
    "WARNING except in the 'task logs at INFO' row (Django's default)."
)


def _step(site: Site, *args: str) -> dict[str, float]:
    return json.loads(site.run(*STEP, *args))


def _seen(sites: list[Site]) -> dict[str, float]:
    """The locked errors of every process of ``sites``, and their slowest
    statement."""
    seen = [site.sql_seen() for site in sites]
    return {
        "locked errors": sum(s["locked errors"] for s in seen),
        "slowest statement": max(s["slowest statement"] for s in seen),
    }


def thread_pool(settings: str):
    """``ThreadPoolBackend(4)`` with the database store: one round."""

    def measure(size: Size, workspace: Workspace) -> dict[str, float]:
        count = str(size.db_tasks)
        idle = workspace.site(settings)
        figures = _step(idle, "enqueue", count)
        queued = workspace.site(settings)
        _step(queued, "run", str(WARM + size.db_tasks))
        figures |= queued.driver("read")
        producer = workspace.site(settings)
        figures |= _step(producer, "produce", count)
        return figures | _seen([idle, queued, producer])

    return measure


CONTENDERS = {
    NAME: thread_pool(SETTINGS),
    RECOMMENDED_NAME: thread_pool(RECOMMENDED_SETTINGS),
    INFO_NAME: thread_pool(INFO_SETTINGS),
}
