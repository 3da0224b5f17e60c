"""Headless Chromium for the browser tests, and the waits they use.

Debian's ``chromium`` and ``chromium-driver`` (``make test-browser`` installs
them), driven by Selenium through that chromedriver: nothing is downloaded at
run time. Chromium runs with a fresh profile in the test's temporary folder and
with its background networking off (this machine's network is closed; its
connections would stall otherwise). ``Browser.quit()`` ends the browser and
its driver; every wait is an explicit wait on the page, bounded by
``DEADLINE``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.support import DEADLINE

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",  # as root, and in containers
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1400,1000",  # the screenshots in docs/
)
#: Seconds between two looks of an explicit wait.
POLL = 0.05


class Browser:
    """One headless Chromium, for one test."""

    def __init__(self, profile: Path) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        self.driver = webdriver.Chrome(
            options=options, service=Service(executable_path=CHROMEDRIVER)
        )
        self.driver.set_page_load_timeout(DEADLINE)

    def quit(self) -> None:
        self.driver.quit()

    def get(self, url: str) -> None:
        self.driver.get(url)

    @property
    def url(self) -> str:
        return self.driver.current_url

    def until(self, condition: Callable[[], Any], message: str = "") -> Any:
        """Wait until ``condition()`` is truthy and return it; elements replaced
        meanwhile (the live parts of a page are) are looked up again."""
        return WebDriverWait(
            self.driver,
            DEADLINE,
            poll_frequency=POLL,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        ).until(lambda driver: condition(), message)

    def find(self, css: str) -> WebElement:
        """The element at ``css``, once there is one."""
        return self.until(
            lambda: self.driver.find_element(By.CSS_SELECTOR, css), f"no {css}"
        )

    def text(self, css: str) -> str:
        return self.find(css).text

    def click(self, css: str) -> None:
        """Click the element at ``css``, looking it up again if it was replaced
        while it was being clicked."""

        def clicked() -> bool:
            self.driver.find_element(By.CSS_SELECTOR, css).click()
            return True

        self.until(clicked, f"could not click {css}")

    def wait_for_path(self, path: str) -> None:
        self.until(lambda: path in self.driver.current_url, f"never at {path}")

    def screenshot(self, path: Path) -> None:
        self.driver.save_screenshot(str(path))

    def log_in(self, base_url: str, username: str, password: str) -> None:
        """Through the admin's login form, as a person would."""
        self.get(f"{base_url}/admin/login/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.click("input[type=submit]")
        self.find("#user-tools")

    def mark_document(self) -> None:
        """Mark the page now shown; ``same_document()`` tells whether it is still
        the page shown (a reload or navigation would forget the mark)."""
        self.driver.execute_script("window.tasksLocalTestMark = true;")

    def same_document(self) -> bool:
        return bool(self.driver.execute_script("return window.tasksLocalTestMark"))
