"""The site's side of one round: ``python -m bench.dbsite.driver enqueue COUNT``
and ``python -m bench.dbsite.driver read``, each printing its figures as JSON.

Run with a contender's settings module, in the site's folder (see
``bench/dbsite/__init__.py``). It knows only Django's API, so every contender
is measured by the same code:

- ``enqueue``: ``WARM`` enqueues untimed (the connection opens, caches fill),
  then ``COUNT`` timed one by one, in autocommit as a view outside
  ``atomic()`` does; every id goes to ``ids.txt``.
- ``read``: ``get_result()`` of every id in ``ids.txt``, timed one by one, from
  this process (not the one that ran the tasks): it reads the row. Every result
  must be SUCCESSFUL after exactly one attempt (one worker id). The tasks' own
  timestamps give the throughput: all tasks over the time from the first start
  to the last finish.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections import Counter
from pathlib import Path

import django

from bench.stats import percentile

#: Enqueues before the timed ones: the first opens the connection.
WARM = 10


def _ids_file() -> Path:
    from django.conf import settings

    return Path(settings.FOLDER) / "ids.txt"


def _micros(nanoseconds: list[int], fraction: float) -> float:
    return percentile(nanoseconds, fraction) / 1000


def enqueue(count: int) -> dict[str, float]:
    from bench.dbsite.tasks import noop

    ids = [noop.enqueue().id for _ in range(WARM)]
    calls = []
    clock = time.perf_counter_ns
    gc.collect()
    for _ in range(count):
        start = clock()
        result = noop.enqueue()
        calls.append(clock() - start)
        ids.append(result.id)
    _ids_file().write_text("\n".join(ids))
    return {"enqueue p50": _micros(calls, 0.5), "enqueue p99": _micros(calls, 0.99)}


def read() -> dict[str, float]:
    from django.tasks import TaskResultStatus, default_task_backend

    ids = _ids_file().read_text().split()
    get_result = default_task_backend.get_result
    get_result(ids[-1])  # opens the connection
    results, calls = [], []
    clock = time.perf_counter_ns
    gc.collect()
    for result_id in ids:
        start = clock()
        result = get_result(result_id)
        calls.append(clock() - start)
        results.append(result)
    statuses = Counter(result.status for result in results)
    if statuses[TaskResultStatus.SUCCESSFUL] != len(ids):
        raise SystemExit(f"not every task is SUCCESSFUL: {dict(statuses)}")
    attempts = Counter(len(result.worker_ids) for result in results)
    if attempts[1] != len(ids):
        raise SystemExit(f"tasks by number of attempts: {dict(attempts)}")
    first = min(result.started_at for result in results)
    last = max(result.finished_at for result in results)
    return {
        "throughput": len(ids) / (last - first).total_seconds(),
        "get_result p50": _micros(calls, 0.5),
        "get_result p99": _micros(calls, 0.99),
    }


def main(argv: list[str]) -> None:
    django.setup()
    command, *rest = argv
    if command == "enqueue":
        figures = enqueue(int(rest[0]))
    elif command == "read":
        figures = read()
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1:])
