"""The database-store case: results and a shared queue in a SQLite file.

Every contender stores its tasks in a fresh SQLite file in WAL mode, with the
same settings (``bench/dbsite/settings.py``), runs in subprocesses with its own
settings module (``bench/sites.py``), and is measured the same way, with a
no-op task:

- ``enqueue p50`` / ``enqueue p99`` (µs): ``enqueue()`` in autocommit, timed one
  by one, ``Size.db_tasks`` of them, nothing else running;
- ``throughput`` (tasks/s): those tasks processed by the contender's workers,
  from the first task's start to the last task's finish (the tasks' own
  ``started_at`` and ``finished_at``: a worker's start-up is left out), every
  result SUCCESSFUL;
- ``get_result p50`` (µs): every finished result read back with
  ``get_result()`` by a process that did not run it;
- ``locked errors``: SQL statements that failed with "database is locked" in
  any process of the round, caught by the contender or not;
  ``slowest statement`` (ms): the longest one, a lock wait included.

Adding a contender
------------------
A contender is one function, ``measure(size, workspace) -> figures``, that runs
one round and returns the figures above, keyed by those names
(``bench/dbsite/driver.py`` measures all but the processing, and
``Site.sql_seen()`` gives the last two)::

    def measure(size: Size, workspace: Workspace) -> dict[str, float]:
        site = workspace.site("bench.dbsite.<its>_settings")  # fresh, migrated
        figures = site.driver("enqueue", str(size.db_tasks))
        ...  # run its workers until every task is finished
        figures |= site.driver("read")
        figures |= site.sql_seen()
        return figures

with a settings module under ``bench/dbsite/`` that star-imports
``bench.dbsite.settings`` and adds its app and its ``TASKS["default"]``. It is
then one entry of ``contenders()`` below, named for its configuration (for this
package: "ThreadPoolBackend(4), STORE=database"). Every contender that is not
the peer's is compared with each of the peer's rows, round by round.

The figures must mean the same for every contender: the timed enqueues run
with no worker processing the queue (a backend whose ``enqueue()`` starts a
pool in the enqueuing process keeps it from starting there, or says in its
name that it enqueued under load), and the throughput counts every task that
``enqueue`` wrote, ``WARM`` untimed ones included, until each one has finished.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from . import peer_db
from .dbsite.driver import WARM
from .model import Row, Section, alternate
from .sites import Workspace
from .sizes import Size

#: One round of one contender (see the module docstring).
DatabaseMeasure = Callable[[Size, Workspace], dict[str, float]]

#: The figures every contender returns, in the order they print, and their units.
METRICS = {
    "enqueue p50": "µs",
    "enqueue p99": "µs",
    "get_result p50": "µs",
    "throughput": "tasks/s",
    "locked errors": "errors",
    "slowest statement": "ms",
}

TITLE = (
    "Database store, SQLite file in WAL mode, no-op tasks: enqueue() and "
    "get_result() (µs, lower is better), throughput (tasks/s, higher is better)"
)


def contenders(section: Section) -> dict[str, DatabaseMeasure]:
    """Every contender that can run here; a note for each that cannot."""
    found: dict[str, DatabaseMeasure] = {}
    if peer_db.installed():
        found.update(peer_db.CONTENDERS)
    else:
        section.notes.append(peer_db.MISSING)
    return found


def compare(section: Section, ours: list[str], peers: list[str]) -> None:
    """Ratios of each of ``ours`` to the peer's rows, round by round: throughput
    against each of them, ``enqueue()`` and ``get_result()`` against the first
    (they do not depend on the peer's workers)."""
    for name in ours:
        for peer in peers:
            section.ratio(
                f"{name} / {peer}, throughput",
                section.row(name, "throughput"),
                section.row(peer, "throughput"),
            )
        for metric in ("enqueue p50", "get_result p50"):
            section.ratio(
                f"{name} / {peers[0]}, {metric}",
                section.row(name, metric),
                section.row(peers[0], metric),
            )


def database_store(size: Size) -> Section:
    section = Section(TITLE)
    found = contenders(section)
    if not found:
        return section
    with tempfile.TemporaryDirectory(prefix="bench-database-") as root:
        workspace = Workspace(Path(root))
        results = alternate(
            size.db_rounds,
            {
                name: (lambda measure=measure: measure(size, workspace))
                for name, measure in found.items()
            },
        )
    for name, figures in results.items():
        for metric, unit in METRICS.items():
            section.rows.append(Row(name, metric, unit, figures[metric]))
    peers = [name for name in found if name in peer_db.CONTENDERS]
    ours = [name for name in found if name not in peers]
    if peers and ours:
        compare(section, ours, peers)
    section.notes.append(
        f"{size.db_rounds} rounds of {size.db_tasks:,} timed enqueues (after "
        f"{WARM} untimed ones), each on a fresh SQLite file; throughput from the "
        "first task's start to the last one's finish."
    )
    if peers:
        section.notes.append(peer_db.NOTE.format(version=peer_db.version()))
    return section
