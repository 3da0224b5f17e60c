"""This package's side of a round of the database-store case:
``python -m bench.dbsite.local STEP [COUNT]``, each step printing its figures as
JSON. Run with ``local_settings`` (or a variant) in the site's folder.

The peer's worker is a separate process, so its ``enqueue()`` can be timed with
nothing running. Here an ``enqueue()`` starts the alias's pool in the enqueuing
process, and in autocommit, with a worker free, the task is claimed as it is
written and runs there at once. So each figure is taken where it means what
the peer's does:

- ``enqueue COUNT``: ``WARM`` untimed, then ``COUNT`` timed ``enqueue()`` calls in
  autocommit, one at a time on an idle pool: after each, ``join()`` (untimed)
  waits until the task has finished and its end is committed, so every timed
  call meets idle workers, an idle writer and an idle database;
- ``run COUNT``: ``COUNT`` tasks enqueued in one transaction, so that all are
  in the table before the first one starts, then run by this process's pool;
  ``driver read`` then gives the throughput (from the tasks' own timestamps,
  as for the peer) and ``get_result()`` from another process;
- ``produce COUNT``: the throughput with the enqueues included, as a site's
  producer pays them: ``COUNT`` ``enqueue()`` calls back to back in autocommit,
  while this process's pool runs them, from the first call to the last task's
  finish; and those calls' p50, made while the pool is busy.

Every step checks that each of its tasks ended SUCCESSFUL after one attempt.
"""

from __future__ import annotations

import gc
import json
import sys
import time

import django

from bench.dbsite.driver import WARM, _ids_file, _micros


def _all_successful(ids: list[str]) -> float:
    """Check every task of ``ids`` finished after one attempt; the last finish
    (epoch seconds)."""
    from django.db.models import Count, Max

    from django_tasks_local.models import TaskRecord

    rows = TaskRecord.objects.filter(result_id__in=ids)
    done = rows.filter(status="SUCCESSFUL", attempts=1).aggregate(
        count=Count("seq"), last=Max("finished_at")
    )
    if done["count"] != len(ids):
        statuses = dict(rows.values_list("status").annotate(Count("seq")))
        raise SystemExit(f"not every task is SUCCESSFUL: {statuses}")
    return done["last"].timestamp()


def enqueue(count: int) -> dict[str, float]:
    from django.tasks import default_task_backend

    from bench.dbsite.tasks import noop

    join = default_task_backend.join
    ids = []
    for _ in range(WARM):
        ids.append(noop.enqueue().id)
        join()
    calls = []
    clock = time.perf_counter_ns
    gc.collect()
    for _ in range(count):
        start = clock()
        result = noop.enqueue()
        calls.append(clock() - start)
        ids.append(result.id)
        join()
    _all_successful(ids)
    return {"enqueue p50": _micros(calls, 0.5), "enqueue p99": _micros(calls, 0.99)}


def run(count: int) -> dict[str, float]:
    """Enqueue ``count`` tasks in one transaction, then run them all here.

    The claimer is woken when the transaction commits, and no row is claimed as
    it is written inside a transaction, so every task is in the table before
    the first one starts: the throughput, from the first start, leaves the
    enqueues out, as the peer's does. Their ids go to ``ids.txt``.
    """
    from django.db import transaction
    from django.tasks import default_task_backend

    from bench.dbsite.tasks import noop

    with transaction.atomic():
        ids = [noop.enqueue().id for _ in range(count)]
    default_task_backend.join()
    _ids_file().write_text("\n".join(ids))
    return {}


def produce(count: int) -> dict[str, float]:
    from django.tasks import default_task_backend

    from bench.dbsite.tasks import noop

    for _ in range(WARM):
        noop.enqueue()
    default_task_backend.join()
    ids, calls = [], []
    clock = time.perf_counter_ns
    gc.collect()
    began = time.time()
    for _ in range(count):
        start = clock()
        result = noop.enqueue()
        calls.append(clock() - start)
        ids.append(result.id)
    default_task_backend.join()
    last = _all_successful(ids)
    return {
        "throughput, enqueue included": count / (last - began),
        "enqueue p50, pool busy": _micros(calls, 0.5),
    }


def _check_kept(count: int) -> None:
    """Every task of a step must stay in the table until it is checked and
    read: past ``MAX_RESULTS`` finished rows, the oldest are deleted."""
    from django.tasks import default_task_backend

    kept = default_task_backend.pool_options.max_results
    if kept is not None and WARM + count > kept:
        raise SystemExit(f"{WARM + count} tasks in one step, MAX_RESULTS is {kept}")


def main(argv: list[str]) -> None:
    django.setup()
    step, *rest = argv
    _check_kept(int(rest[0]))
    if step == "enqueue":
        figures = enqueue(int(rest[0]))
    elif step == "run":
        figures = run(int(rest[0]))
    elif step == "produce":
        figures = produce(int(rest[0]))
    else:
        raise SystemExit(f"unknown step {step!r}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1:])
