"""The benchmark runs end to end (at its tiny size: this measures nothing)."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

from bench import database, local_db, peer_db
from bench.model import Row, Section, Target
from django_tasks_local.checks import WAL_INIT_COMMAND

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runs_every_case_at_tiny_size():
    # The benchmark configures its own settings in code; it must not pick up the
    # test suite's settings module.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    for heading in (
        "No-op throughput, 4 thread workers",
        "No-op throughput, 2 process workers",
        "enqueue() with all 4 workers busy",
        "Cost per task with N queued",
        "Memory per stored finished result",
        "8 CPU-bound tasks",
        "Work per task that Django's contract fixes",
        "Database store, SQLite file in WAL mode",
        "Targets (medians of this run)",
    ):
        assert heading in output, output
    assert "ratio ThreadPoolBackend(4) / raw ThreadPoolExecutor(4)" in output
    for peer in peer_db.CONTENDERS:
        assert f"{peer}  throughput" in output, output
    for ours in local_db.CONTENDERS:
        for metric in (*database.METRICS, *local_db.EXTRA_METRICS):
            assert f"{ours}  {metric}" in output, output
    for ours in local_db.COMPARED:
        assert f"ratio {ours} / {next(iter(peer_db.CONTENDERS))}" in output
    assert "database throughput, SQLite WAL (Django's defaults)" in output
    assert "database enqueue() p50, autocommit (synchronous=NORMAL)" in output
    assert "Traceback" not in completed.stderr


def test_the_peer_runs_in_its_own_processes_only():
    # Its app, models and monkeypatches must reach neither the package, nor the
    # tests, nor the benchmark's own process.
    assert "django_tasks_db" not in sys.modules


def test_database_contenders_are_compared_with_each_peer_round_by_round():
    section = Section("database")
    peers = ["peer, 1 worker", "peer, 2 workers"]
    for name, throughput in [("ours", [300, 600]), (peers[0], [100, 200])]:
        for metric in ("throughput", "enqueue p50", "get_result p50"):
            section.rows.append(Row(name, metric, "", throughput))
    section.rows += [
        Row(peers[1], "throughput", "", [150, 100]),
        Row(peers[1], "enqueue p50", "", [1, 1]),
        Row(peers[1], "get_result p50", "", [1, 1]),
    ]
    section.rows.append(Row("ours", "throughput, enqueue included", "", [150, 200]))
    database.compare(section, ["ours"], peers)
    assert [(ratio.label, ratio.values) for ratio in section.ratios] == [
        ("ours / peer, 1 worker, throughput", [3.0, 3.0]),
        ("ours / peer, 2 workers, throughput", [2.0, 6.0]),
        ("ours / peer, 1 worker, throughput, enqueue included", [1.5, 1.0]),
        ("ours / peer, 2 workers, throughput, enqueue included", [1.0, 2.0]),
        ("ours / peer, 1 worker, enqueue p50", [3.0, 3.0]),
        ("ours / peer, 1 worker, get_result p50", [3.0, 3.0]),
    ]


def test_database_targets_name_a_goal_and_a_minimum():
    section = Section("database")
    figures = {"throughput": 3_000, "enqueue p50": 150, "get_result p50": 350}
    for metric, value in figures.items():
        section.rows.append(Row(local_db.NAME, metric, "", [value]))
    for peer, throughput in [("slow peer", 100), ("fast peer", 200)]:
        section.rows.append(Row(peer, "throughput", "", [throughput]))

    targets = database.targets(section, [local_db.NAME], ["slow peer", "fast peer"])

    assert [(t.measured, t.verdict) for t in targets] == [
        ("3,000 tasks/s", "minimum met"),
        ("15.0x", "met"),  # against the fastest peer row
        ("150.0 µs", "minimum met"),
        ("350.0 µs", "MISSED"),
    ]
    assert Target("t", "1", "g", met=False, minimum_met=False).verdict == "MISSED"


def test_the_recommended_row_runs_sqlite_as_the_system_check_says(
    monkeypatch, tmp_path
):
    # Settings modules import no app: the command is written out there.
    monkeypatch.setenv("BENCH_DB_FOLDER", str(tmp_path))
    settings = importlib.import_module(local_db.RECOMMENDED_SETTINGS)
    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["init_command"] == WAL_INIT_COMMAND
