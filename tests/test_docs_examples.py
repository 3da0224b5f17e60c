"""Every Python example in README.md and docs/*.md runs, so none can rot.

Each document gets a fresh directory (its sandbox), and its ```python blocks are
taken in order:

- ```` ```python file=mysite/settings.py ````: written to that path in the
  sandbox. A file named ``settings.py`` becomes the settings of the blocks that
  follow, and is checked once the files after it are written: every backend in
  ``TASKS`` is created (so its options are validated) and Django's system checks
  must pass without a warning.
- ```` ```python file=script.py run ````: written, then run as ``python script.py``
  from the sandbox: a standalone script that configures Django itself.
- ```` ```python ```` (nothing more): run as ``manage.py shell`` would run it,
  with Django set up from the document's latest settings file.

Every block runs in its own process and must exit 0; examples make their point
with ``assert``, so a behaviour that changes breaks its example.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: Runs a "shell" block: Django set up from DJANGO_SETTINGS_MODULE, then the
#: block's code, as ``manage.py shell -c`` would (the main module stays ``-c``,
#: so worker processes never import the example).
SHELL_RUNNER = """
import sys, django
django.setup()
path = sys.argv[1]
code = compile(open(path, encoding="utf-8").read(), path, "exec")
exec(code, {"__name__": "__main__"})
"""

#: Checks a settings file: each backend created, system checks clean.
SETTINGS_CHECK = """
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.tasks import task_backends
for alias in settings.TASKS:
    task_backends[alias]
call_command("check", fail_level="WARNING")
"""

FENCE = re.compile(r"^```(\S*)(.*)$")


@dataclass
class Block:
    document: Path
    line: int
    options: dict[str, str]
    code: str

    def __str__(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def python_blocks(document: Path) -> list[Block]:
    """The ```python blocks of a Markdown document, with their fence options."""
    blocks: list[Block] = []
    lines = document.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        index += 1
        if not match or not match.group(1):
            continue
        start = index
        while not lines[index].startswith("```"):
            index += 1
        body = "\n".join(lines[start:index]) + "\n"
        index += 1
        if match.group(1) != "python":
            continue
        options = {}
        for word in match.group(2).split():
            name, _, value = word.partition("=")
            options[name] = value
        unknown = set(options) - {"file", "run"}
        assert not unknown, f"{document}:{start}: unknown fence options {unknown}"
        blocks.append(Block(document, start, options, body))
    return blocks


def _run(args: list[str], sandbox: Path, settings: str | None, block: Block) -> None:
    env = {**os.environ, "PYTHONPATH": str(sandbox), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if settings:
        env["DJANGO_SETTINGS_MODULE"] = settings
    completed = subprocess.run(
        [sys.executable, *args],
        cwd=sandbox,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, (
        f"The example at {block} failed (exit {completed.returncode}):\n"
        f"{block.code}\n--- stdout ---\n{completed.stdout}"
        f"--- stderr ---\n{completed.stderr}"
    )


@pytest.mark.parametrize(
    "document",
    [doc for doc in DOCUMENTS if python_blocks(doc)],
    ids=lambda p: p.name,
)
def test_every_python_example_runs(document: Path, tmp_path: Path) -> None:
    settings: str | None = None
    # A settings file is checked once the files written after it (the URLconf,
    # the tasks it names) exist: before the next example runs, before another
    # settings file replaces it, or at the end of the document.
    unchecked: Block | None = None

    def check_settings() -> None:
        nonlocal unchecked
        if unchecked is not None:
            _run(["-c", SETTINGS_CHECK], tmp_path, settings, unchecked)
            unchecked = None

    for number, block in enumerate(python_blocks(document)):
        target = block.options.get("file")
        if target is None:
            check_settings()
            script = tmp_path / f"example_{number}_line_{block.line}.py"
            script.write_text(block.code, encoding="utf-8")
            assert settings, f"{block}: no settings file precedes this example"
            _run(["-c", SHELL_RUNNER, script.name], tmp_path, settings, block)
            continue
        if Path(target).name == "settings.py":
            check_settings()
        path = tmp_path / target
        path.parent.mkdir(parents=True, exist_ok=True)
        for package in path.relative_to(tmp_path).parents:
            init = tmp_path / package / "__init__.py"
            if package != Path(".") and not init.exists():
                init.touch()
        path.write_text(block.code, encoding="utf-8")
        if "run" in block.options:
            check_settings()
            _run([target], tmp_path, None, block)
        elif path.name == "settings.py":
            settings = ".".join(Path(target).with_suffix("").parts)
            unchecked = block
    check_settings()


def test_the_readme_and_the_usage_guide_hold_examples() -> None:
    """A parser that found no examples would let every document pass vacuously."""
    assert len(python_blocks(ROOT / "README.md")) >= 3
    assert len(python_blocks(ROOT / "docs" / "usage.md")) >= 3
