"""``make demo BOARD=1`` shows the tour on the live board: the demo serves the
board, prints its URL, starts the tour once a browser has opened it, and
stops on Ctrl-C.

With ``SCREENSHOTS_DIR`` set (``make screenshots``), the board in the middle of
the tour and the detail page of a failed task are saved there as
``board.png`` and ``detail.png`` (the README shows those in docs/).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import DEADLINE

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = os.environ.get("SCREENSHOTS_DIR")


class Demo:
    """``python -m demo --board`` in a process of its own."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "demo", "--board", "--port", "0"],
            cwd=ROOT,
            env={
                **{
                    k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"
                },
                "PYTHONUNBUFFERED": "1",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def expect(self, prefix: str, timeout: float) -> str:
        """The next line of output that starts with ``prefix``."""
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([stdout], [], [], max(0.0, remaining))
            assert ready, f"no line starting {prefix!r} in {timeout}s: {self.lines}"
            line = stdout.readline()
            assert line, f"the demo ended before {prefix!r}: {self.lines}"
            self.lines.append(line.rstrip("\n"))
            if line.startswith(prefix):
                return line.rstrip("\n")

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a person would; its exit code and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            _, stderr = self.process.communicate(timeout=DEADLINE)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.communicate()
        return self.process.returncode, stderr


def screenshot(browser, name: str) -> None:
    if SCREENSHOTS:
        browser.driver.set_window_size(1400, 1000)
        browser.screenshot(Path(SCREENSHOTS) / name)


def test_the_demo_shows_its_tasks_on_the_board(browser):
    demo = Demo()
    try:
        url = demo.expect("The live board: ", DEADLINE).split(": ", 1)[1]
        browser.get(url)  # logs in as the demo's superuser, shows the board
        browser.find("#board #aliases tr[data-alias='cpu']")
        browser.mark_document()
        browser.find("#running tr[data-status='RUNNING']")
        browser.find("#latest tr[data-status='FAILED']")
        screenshot(browser, "board.png")
        demo.expect("Done in ", DEADLINE * 4)
        for alias in ("default", "cpu", "limited", "serial"):
            browser.find(f"#aliases tr[data-alias='{alias}']")
        browser.until(lambda: browser.text("#running").endswith("None."))
        assert browser.same_document()
        assert "memory store" in browser.text("#memory-note")

        browser.get(
            f"{url}admin/django_tasks_local/taskrecord/?task=demo.tasks.charge_card"
        )
        browser.click("#result_list tr[data-status='FAILED'] a")
        assert "ValueError: card declined for 42 EUR" in browser.text(
            ".tasks-traceback"
        )
        screenshot(browser, "detail.png")
    finally:
        code, stderr = demo.stop()
    assert code == 0, stderr
