"""Django sites in temporary folders, run as subprocesses: the machinery of the
database-store case (``bench/database.py``).

Each contender of that case runs with its own settings module under
``bench/dbsite/`` and its own SQLite file, in processes of its own: the
benchmark's process never imports a contender's package, so one contender's
app, models and monkeypatches cannot touch another's, nor the package under
test.

A ``Workspace`` lives for one run of the case. ``Workspace.site(settings)``
gives a fresh ``Site`` for one round: a new folder holding a copy of a SQLite
file migrated once per settings module (migrating for every round would cost
about a second each time).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: Seconds any one subprocess of a round may take: reached only if something is
#: broken (a worker that never exits), and then the round fails.
DEADLINE = 600

#: The folder that holds ``bench``: the subprocesses import it from there.
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Site:
    """One contender's site: its settings module and its folder."""

    settings: str
    folder: Path
    #: Subprocesses started so far: each one's output files are numbered.
    _runs: int = 0

    @property
    def database(self) -> Path:
        return self.folder / "db.sqlite3"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DJANGO_SETTINGS_MODULE"] = self.settings
        env["BENCH_DB_FOLDER"] = str(self.folder)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        return env

    def run(self, *args: str) -> str:
        """Run ``python ARGS`` in the site to its end; its stdout."""
        return self.run_all([args])[0]

    def run_all(self, commands: Sequence[Sequence[str]]) -> list[str]:
        """Start every ``python ARGS`` at once, wait for all; their stdouts.

        Their output goes to files in the folder (a pipe that nobody reads
        would stall a chatty process). Any that fails, writes to stderr or
        outlives ``DEADLINE`` fails the round, with what it printed.
        """
        started = []
        try:
            for args in commands:
                self._runs += 1
                stdout = self.folder / f"run-{self._runs}.out"
                stderr = self.folder / f"run-{self._runs}.err"
                with stdout.open("w") as out, stderr.open("w") as err:
                    process = subprocess.Popen(
                        [sys.executable, *args],
                        cwd=self.folder,
                        env=self.env(),
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=err,
                    )
                started.append((args, process, stdout, stderr))
            outputs = []
            for args, process, stdout, stderr in started:
                command = "python " + " ".join(args)
                try:
                    process.wait(timeout=DEADLINE)
                except subprocess.TimeoutExpired:
                    raise RuntimeError(
                        f"{command} still ran after {DEADLINE} s"
                    ) from None
                errors = stderr.read_text()
                if process.returncode != 0 or errors:
                    raise RuntimeError(
                        f"{command} exited with {process.returncode}:\n{errors}"
                        f"{stdout.read_text()}"
                    )
                outputs.append(stdout.read_text())
            return outputs
        finally:
            for _, process, _, _ in started:
                if process.poll() is None:
                    process.kill()
                    process.wait()

    def manage(self, *args: str) -> str:
        """A management command, as ``manage.py ARGS`` would run it."""
        return self.run("-m", "django", *args)

    def driver(self, *args: str) -> dict[str, float]:
        """One step of ``bench.dbsite.driver``: the figures it printed."""
        return json.loads(self.run("-m", "bench.dbsite.driver", *args))

    def sql_seen(self) -> dict[str, float]:
        """What the site's processes saw, added up (``bench/dbsite/apps.py``):
        "database is locked" errors and the slowest statement, in ms."""
        locked, slowest = 0, 0.0
        for path in self.folder.glob("sql-*.json"):
            seen = json.loads(path.read_text())
            locked += seen["locked"]
            slowest = max(slowest, seen["slowest"])
        return {"locked errors": locked, "slowest statement": slowest * 1000}


class Workspace:
    """The folders of one run of the database-store case, under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._templates: dict[str, Path] = {}
        self._folders = 0

    def _folder(self, kind: str) -> Path:
        self._folders += 1
        folder = self.root / f"{self._folders:03d}-{kind}"
        folder.mkdir()
        return folder

    def site(self, settings: str) -> Site:
        """A fresh site for one round: an empty, migrated SQLite file."""
        template = self._templates.get(settings)
        if template is None:
            migrated = Site(settings, self._folder("template"))
            migrated.manage("migrate", "--verbosity", "0")
            template = self._templates[settings] = migrated.database
        site = Site(settings, self._folder("round"))
        # Every connection has closed: the WAL was checkpointed into the file,
        # and is copied too should any of it remain.
        for suffix in ("", "-wal"):
            source = template.with_name(template.name + suffix)
            if source.exists():
                shutil.copyfile(source, site.database.with_name(source.name))
        return site
