"""``make demo`` runs the tour to the end and shows what it promises.

The demo runs as a user runs it (``python -m demo``), with stdout a pipe, so it
prints one line per status change instead of redrawing a live board.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_the_whole_tour_and_exits_0(deadline):
    completed = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        capture_output=True,
        text=True,
        timeout=deadline * 4,
    )
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    assert "\x1b[" not in out  # no terminal codes when stdout is not a terminal

    def changes(label: str) -> list[str]:
        """The statuses a task went through, in the order they were printed."""
        pattern = rf"^  \[ *[\d.]+s\] {re.escape(label)} +\S+ +(\w+)"
        return re.findall(pattern, out, flags=re.MULTILINE)

    for label in (
        "fetch /news",
        "count_primes 200,000",
        "send_reminder (in 2 s)",
        "step urgent",
        "count_primes 80,000",  # on the pool that lost a worker
        "count_primes 20,000",  # on the pool whose worker timed out
    ):
        assert changes(label) == ["READY", "RUNNING", "SUCCESSFUL"], label
    for label in ("charge_card", "crash", "hang (TIMEOUT 1.5 s)"):
        assert changes(label) == ["READY", "RUNNING", "FAILED"], label
    assert "ValueError: card declined for 42 EUR" in out
    assert re.search(r"crash +cpu +FAILED +WorkerDied: .*SIGKILL", out)
    assert re.search(r"hang \(TIMEOUT 1.5 s\) +limited +FAILED +TimeoutError", out)
    assert re.search(r"count_primes 200,000 +cpu +SUCCESSFUL 17984", out)
    assert "Ran in this order: urgent, high, normal, normal again, low" in out
    assert re.search(r"reminder was due at \+[\d.]+s and started \d+ ms after", out)

    summary = out[out.index("\nSummary\n") :]
    assert re.search(r"task +backend +status +queued +ran +result", summary)
    assert re.search(r"charge_card +default +FAILED .* ValueError", summary)
    assert re.search(r"crash +cpu +FAILED .* WorkerDied", summary)
    assert re.search(r"fetch /prices +default +SUCCESSFUL .*'fetched /prices'", summary)
