"""The benchmark runs end to end (at its tiny size: this measures nothing)."""

import os
import subprocess
import sys
from pathlib import Path

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
        "Targets (medians of this run)",
    ):
        assert heading in output, output
    assert "ratio ThreadPoolBackend(4) / raw ThreadPoolExecutor(4)" in output
    assert "Traceback" not in completed.stderr
