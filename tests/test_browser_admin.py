"""The admin pages in a real browser (headless Chromium) against a live server:
the board follows a task without a reload, a failure's traceback, retry,
cancel, and the login page for anyone who is not staff.

Tasks run on the live server's own process (this one), on the ``default``
alias: the memory store, or the database store (every page then reads the
table). Tasks wait on gates the test opens, so each status lasts until the
page has shown it; the test waits on the page, never on the clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from django_tasks_local import wait
from tests import tasks
from tests.admin_support import ADMIN, in_memory, user
from tests.database_support import durable
from tests.support import DEADLINE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


STORES = {"memory": in_memory, "database": lambda: durable("thread", MAX_WORKERS=1)}


@pytest.fixture(params=list(STORES))
def store(request):
    """The ``default`` alias on each store in turn, with one worker thread."""
    with STORES[request.param]() as backend:
        yield backend


def staff(*permissions: str) -> User:
    return user("operator", *permissions, password=PASSWORD)


def row(result_id: str, status: str, table: str = "latest") -> str:
    return f"#{table} tr[data-result-id='{result_id}'][data-status='{status}']"


def test_the_board_follows_a_task_without_a_reload(
    store, live_server, browser, event_gate
):
    staff("view")
    browser.log_in(live_server.url, "operator", PASSWORD)
    browser.get(f"{live_server.url}{ADMIN}board/")
    browser.find("#board #aliases tr[data-alias='default']")
    browser.mark_document()
    busy, watched = event_gate("busy"), event_gate("watched")

    blocker = tasks.wait_for_event.enqueue(busy.name)
    result = tasks.wait_for_event.enqueue(watched.name, "done")
    browser.find(row(result.id, "READY"))
    browser.find(row(blocker.id, "RUNNING", table="running"))
    busy.open()
    browser.find(row(result.id, "RUNNING"))
    browser.find(row(result.id, "RUNNING", table="running"))
    watched.open()
    browser.find(row(result.id, "SUCCESSFUL"))
    browser.until(
        lambda: (
            browser.text(
                "#aliases tr[data-alias='default'] [data-count='finished_minute']"
            )
            == "2"
        )
    )

    assert browser.same_document()
    assert wait(result, timeout=DEADLINE).return_value == "done"


def test_a_failed_task_shows_its_traceback_and_its_retry_finishes(
    store, live_server, browser, tmp_path
):
    staff("view", "add")
    path = tmp_path / "settings.txt"
    failed = wait(tasks.read_file.enqueue(str(path)), timeout=DEADLINE)
    browser.log_in(live_server.url, "operator", PASSWORD)
    browser.get(f"{live_server.url}{ADMIN}")
    browser.click("#tasks-filter a[href*='status=FAILED']")
    browser.click(f"tr[data-result-id='{failed.id}'] a")

    browser.wait_for_path(f"{ADMIN}{failed.id}/")
    traceback = browser.text(".tasks-traceback")
    assert "FileNotFoundError" in traceback and str(path) in traceback
    assert browser.text("#status") == "FAILED"

    path.write_text("fixed")  # what an operator does before retrying
    browser.click("#retry")
    browser.find("#retried-as a")
    assert "retried as" in browser.text(".messagelist")
    browser.click("#retried-as a")
    browser.until(lambda: browser.text("#status") == "SUCCESSFUL")
    assert browser.text("#return-value") == '"fixed"'
    assert browser.text("#args") == f'[\n  "{path}"\n]'


def test_cancel_a_ready_task(store, live_server, browser, event_gate):
    """Memory store: a task queued behind a busy worker. Database store: a
    deferred one, since this process claims due tasks as they are written (a
    claimed task is refused: see test_admin.py)."""
    staff("view", "change")
    busy = event_gate("busy")
    blocker = tasks.wait_for_event.enqueue(busy.name)
    later = None
    if store.pool_options.store == "database":
        later = timezone.now() + timedelta(hours=1)
    queued = tasks.add.using(run_after=later).enqueue(1, 2)
    browser.log_in(live_server.url, "operator", PASSWORD)
    browser.get(f"{live_server.url}{ADMIN}{queued.id}/")
    assert browser.text("#status") == "READY"

    browser.click("#cancel")
    browser.until(lambda: browser.text("#status") == "FAILED")
    assert "TaskCancelled" in browser.text(".tasks-traceback")
    assert "cancelled" in browser.text(".messagelist")
    busy.open()
    wait(blocker, timeout=DEADLINE)
    cancelled = wait(queued, timeout=DEADLINE)
    assert cancelled.errors[0].exception_class_path.endswith("TaskCancelled")
    assert cancelled.started_at is None


def test_a_user_who_is_not_staff_is_sent_to_the_login_page(live_server, browser):
    user = User.objects.create_user("visitor", password=PASSWORD)
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    browser.get(f"{live_server.url}/admin/login/")
    browser.driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": session})

    for page in ("", "board/"):
        browser.get(f"{live_server.url}{ADMIN}{page}")
        browser.wait_for_path("/admin/login/")
        assert f"next={ADMIN}{page}" in browser.url
        assert "You are authenticated as visitor" in browser.text("#content")
