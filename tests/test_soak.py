"""A short soak: worker processes killed with SIGKILL while they run tasks,
replaced, and every task counted (``make soak`` runs the long one)."""

import re
import subprocess
import sys

import pytest
from django.db import connection

from tests.database_support import ROOT

pytestmark = [pytest.mark.database, pytest.mark.timeout(300)]


@pytest.mark.django_db(transaction=True)
def test_no_task_is_lost_or_run_twice_at_once_when_workers_are_killed():
    database = "postgres" if connection.vendor == "postgresql" else "sqlite"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "soak",
            "--tasks",
            "400",
            "--processes",
            "2",
            "--kill-every",
            "0.3",
            "--database",
            database,
            "--timeout",
            "240",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    counts = dict(re.findall(r"^  (\S.*?)\s+([\d,]+)$", done.stdout, re.MULTILINE))
    assert counts["lost (missing, READY, RUNNING)"] == "0", done.stdout
    assert counts["ran twice at once"] == "0", done.stdout
    assert counts["FAILED otherwise"] == "0", done.stdout
    assert int(re.search(r"(\d+) SIGKILLs", done.stdout)[1]) > 0, done.stdout
