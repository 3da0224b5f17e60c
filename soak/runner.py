"""The soak test: N worker processes on one database, a producer enqueuing
thousands of tasks, random SIGKILLs of workers while they run, restarts; then
every task is counted.

::

    runner ── migrate ── K x `manage.py tasks_local worker` ── producer (N tasks)
       │  every ~KILL_EVERY seconds: SIGKILL a random worker, start another
       │  until every task is SUCCESSFUL or FAILED
       ▼
    counts: from the table (statuses, errors) and from each process's log of
    executions (start and end of every run of every task, with its pid)

It passes when no task is lost (every id the producer got back is final), every
failure is a ``WorkerDied`` (an attempt whose process was killed), and no task
ran twice at once (two executions of one result never overlap in time; an
execution cut short by a kill ends when its process was killed).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=4, help="worker processes")
    parser.add_argument("--workers", type=int, default=4, help="threads per process")
    parser.add_argument("--lease", type=float, default=5.0, help="LEASE, seconds")
    parser.add_argument(
        "--kill-every", type=float, default=1.0, help="mean seconds between kills"
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--timeout", type=float, default=900, help="give up after this many seconds"
    )
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "soak.settings",
        "SOAK_DIR": str(folder),
        "SOAK_DATABASE": args.database,
        "SOAK_WORKERS": str(args.workers),
        "SOAK_LEASE": str(args.lease),
    }
    os.environ.update(env)
    import django

    django.setup()
    try:
        return Soak(args, folder, env).run()
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


class Soak:
    def __init__(self, args: argparse.Namespace, folder: Path, env: dict) -> None:
        self.args = args
        self.folder = folder
        self.env = env
        self.rng = random.Random(args.seed)
        self.workers: list[subprocess.Popen] = []
        #: pid -> time.time() when it was killed.
        self.killed: dict[int, float] = {}
        self.started = 0

    def run(self) -> int:
        args = self.args
        self._django("migrate", "-v", "0").wait()
        began = time.monotonic()
        for _ in range(args.processes):
            self._start_worker()
        producer = subprocess.Popen(
            [sys.executable, "-m", "soak.produce", str(args.tasks)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file("producer"),
        )
        deadline = began + args.timeout
        while True:
            time.sleep(self.rng.expovariate(1 / args.kill_every))
            counts = self._counts()
            waiting = counts.get("READY", 0) + counts.get("RUNNING", 0)
            produced = producer.poll() is not None
            print(
                f"{time.monotonic() - began:6.1f} s  {dict(counts)}  "
                f"kills {len(self.killed)}",
                flush=True,
            )
            if produced and not waiting:
                break
            if time.monotonic() > deadline:
                print("timed out", flush=True)
                break
            self._kill_one()
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.wait(60)
        producer.wait(60)
        elapsed = time.monotonic() - began
        return self._verdict(elapsed)

    # -- processes -----------------------------------------------------------------

    def _django(self, *command: str, log: str | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "django", *command],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file(log) if log else None,
        )

    def _log_file(self, name: str):
        return open(self.folder / f"{name}.stderr", "ab")

    def _start_worker(self) -> None:
        self.started += 1
        worker = self._django("tasks_local", "worker", log=f"worker-{self.started}")
        self.workers.append(worker)

    def _kill_one(self) -> None:
        alive = [w for w in self.workers if w.poll() is None]
        if not alive:
            return
        victim = self.rng.choice(alive)
        victim.send_signal(signal.SIGKILL)
        self.killed[victim.pid] = time.time()
        victim.wait()
        self.workers.remove(victim)
        self._start_worker()

    # -- counting --------------------------------------------------------------------

    def _counts(self) -> collections.Counter:
        from django.db import connection

        from django_tasks_local.models import TaskRecord

        counts = collections.Counter(
            TaskRecord.objects.values_list("status", flat=True)
        )
        connection.close()
        return counts

    def _verdict(self, elapsed: float) -> int:
        from django_tasks_local.models import TaskRecord

        ids = (self.folder / "ids").read_text().split()
        rows = {
            row["result_id"]: row
            for row in TaskRecord.objects.values("result_id", "status", "errors")
        }
        runs = self._runs()
        lost = [
            i for i in ids if i not in rows or rows[i]["status"] in ("READY", "RUNNING")
        ]
        statuses = collections.Counter(rows[i]["status"] for i in ids if i in rows)
        bad_failures = [
            i
            for i in ids
            if i in rows
            and rows[i]["status"] == "FAILED"
            and not rows[i]["errors"][-1]["exception_class_path"].endswith("WorkerDied")
        ]
        at_once, twice, unfinished_success = [], 0, []
        for result_id in ids:
            executions = runs.get(result_id, [])
            if len(executions) > 1:
                twice += 1
            ordered = sorted(executions)
            for (_, end), (next_start, _) in itertools.pairwise(ordered):
                if next_start < end:
                    at_once.append(result_id)
                    break
            if rows.get(result_id, {}).get("status") == "SUCCESSFUL" and not any(
                end != float("inf") for _, end in executions
            ):
                unfinished_success.append(result_id)
        print()
        print(
            f"soak on {self.args.database}: {len(ids):,} tasks, "
            f"{self.args.processes} worker processes x {self.args.workers} threads, "
            f"{len(self.killed)} SIGKILLs, {elapsed:.1f} s"
        )
        rows_out = [
            ("SUCCESSFUL", statuses.get("SUCCESSFUL", 0)),
            ("FAILED with WorkerDied", statuses.get("FAILED", 0) - len(bad_failures)),
            ("FAILED otherwise", len(bad_failures)),
            ("lost (missing, READY, RUNNING)", len(lost)),
            ("ran twice at once", len(at_once)),
            ("ran again after a kill", twice),
            ("SUCCESSFUL without a whole run", len(unfinished_success)),
        ]
        for label, count in rows_out:
            print(f"  {label:<32} {count:>7,}")
        ok = not (lost or bad_failures or at_once or unfinished_success)
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1

    def _runs(self) -> dict[str, list[tuple[float, float]]]:
        """Executions per result id: (start, end); an execution cut short by a
        kill ends when its process was killed, one that never ended otherwise
        lasts for ever (and overlaps anything after it)."""
        opened: dict[tuple[str, str], float] = {}
        runs: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
        for log in self.folder.glob("runs-*.log"):
            for line in log.read_text().splitlines():
                kind, result_id, pid, moment = line.split()
                key = (result_id, pid)
                if kind == "start":
                    opened[key] = float(moment)
                else:
                    runs[result_id].append((opened.pop(key), float(moment)))
        for (result_id, pid), start in opened.items():
            end = self.killed.get(int(pid), float("inf"))
            runs[result_id].append((start, end))
        return runs
