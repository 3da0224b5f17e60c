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
then one entry of ``contenders()`` below, named for its configuration (this
package's: ``bench/local_db.py``). This package's contenders that run as the
peer does (``local_db.COMPARED``: task logs at WARNING) are compared with each
of the peer's rows, round by round, and checked against the project's targets.

The figures must mean the same for every contender: the timed enqueues run
with no worker processing the queue (a backend whose ``enqueue()`` starts a
pool in the enqueuing process times one call at a time on an idle pool, each
task finished before the next call, and says so in a note, as this package's
contenders do: ``bench/local_db.py``), and the throughput counts ``WARM +
Size.db_tasks`` tasks, all in the table before the first one starts, until
each one has finished. A contender may return more figures than the peer's
(``local_db.EXTRA_METRICS``); they print as rows of their own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from . import local_db, peer_db
from .dbsite.driver import WARM
from .model import Row, Section, Target, alternate
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
    found: dict[str, DatabaseMeasure] = dict(local_db.CONTENDERS)
    if peer_db.installed():
        found.update(peer_db.CONTENDERS)
    else:
        section.notes.append(peer_db.MISSING)
    return found


def compare(section: Section, ours: list[str], peers: list[str]) -> None:
    """Ratios of each of ``ours`` to the peer's rows, round by round: throughput
    against each of them (with our enqueues included too, where measured: the
    peer's leaves its enqueues out), ``enqueue()`` and ``get_result()`` against
    the first (they do not depend on the peer's workers)."""
    for name in ours:
        for metric in ("throughput", "throughput, enqueue included"):
            try:
                row = section.row(name, metric)
            except KeyError:
                continue
            for peer in peers:
                section.ratio(
                    f"{name} / {peer}, {metric}",
                    row,
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
        for metric, unit in (METRICS | local_db.EXTRA_METRICS).items():
            if metric in figures:
                section.rows.append(Row(name, metric, unit, figures[metric]))
    peers = [name for name in found if name in peer_db.CONTENDERS]
    ours = [name for name in found if name in local_db.COMPARED]
    if peers and ours:
        compare(section, ours, peers)
    section.targets += targets(section, ours, peers)
    section.notes.append(
        f"{size.db_rounds} rounds of {size.db_tasks:,} timed enqueues (after "
        f"{WARM} untimed ones), each on a fresh SQLite file; throughput from the "
        "first task's start to the last one's finish."
    )
    section.notes.append(local_db.NOTE)
    if peers:
        section.notes.append(peer_db.NOTE.format(version=peer_db.version()))
    return section


#: The short name of each of our contenders in the list of targets.
TARGET_TAGS = {
    local_db.NAME: "Django's defaults",
    local_db.RECOMMENDED_NAME: "synchronous=NORMAL",
}


def targets(section: Section, ours: list[str], peers: list[str]) -> list[Target]:
    """The project's goals for the database store, for each of ``ours``: no-op
    throughput (the enqueues left out, as the peer's) against a floor and
    against the fastest peer row, ``enqueue()`` p50 in autocommit, and
    ``get_result()`` p50 from another process."""
    found = []
    best_peer = max(
        peers, key=lambda peer: section.row(peer, "throughput").median, default=None
    )
    for name in ours:
        tag = TARGET_TAGS.get(name, name)
        throughput = section.row(name, "throughput").median
        enqueue = section.row(name, "enqueue p50").median
        get_result = section.row(name, "get_result p50").median
        found.append(
            Target(
                f"database throughput, SQLite WAL ({tag})",
                f"{throughput:,.0f} tasks/s",
                ">= 10,000 tasks/s (at least 2,000)",
                throughput >= 10_000,
                minimum_met=throughput >= 2_000,
            )
        )
        if best_peer is not None:
            ratio = throughput / section.row(best_peer, "throughput").median
            found.append(
                Target(
                    f"database throughput vs fastest django-tasks-db ({tag})",
                    f"{ratio:.1f}x",
                    ">= 10x",
                    ratio >= 10,
                )
            )
        found += [
            Target(
                f"database enqueue() p50, autocommit ({tag})",
                f"{enqueue:,.1f} µs",
                "<= 100 µs (at most 200)",
                enqueue <= 100,
                minimum_met=enqueue <= 200,
            ),
            Target(
                f"database get_result() p50, other process ({tag})",
                f"{get_result:,.1f} µs",
                "<= 300 µs",
                get_result <= 300,
            ),
        ]
    return found
