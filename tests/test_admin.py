"""The admin's task-result pages and the board, through Django's test client,
on the memory store (this process's results): what each page shows, the
actions, and who may see and do what. The database store: test_admin_database.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus
from django.test import Client
from django.utils import timezone

from django_tasks_local import TaskCancelled, wait
from tests import tasks
from tests.admin_support import ADMIN, in_memory, user
from tests.support import DEADLINE

pytestmark = pytest.mark.django_db

ACTIONS = ("retry", "cancel", "delete")


@pytest.fixture
def backend():
    with in_memory() as backend:
        yield backend


def client_of(*permissions: str, staff: bool = True) -> Client:
    client = Client()
    client.force_login(user("operator", *permissions, staff=staff))
    return client


@pytest.fixture
def operator() -> Client:
    """Staff with every permission of the model."""
    return client_of("view", "add", "change", "delete")


def page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response
    return response.content.decode()


# -- the list --------------------------------------------------------------------------


def test_the_list_shows_this_process_results_and_says_so(backend, operator):
    done = wait(tasks.add.enqueue(2, 3), timeout=DEADLINE)
    failed = wait(tasks.fail.enqueue("it broke"), timeout=DEADLINE)

    html = page(operator, ADMIN)
    assert f'data-result-id="{done.id}" data-status="SUCCESSFUL"' in html
    assert f'data-result-id="{failed.id}" data-status="FAILED"' in html
    assert "ValueError: it broke" in html
    assert "the results of this process only" in html
    assert "2 results" in html


def test_the_list_filters_by_status_alias_queue_and_task(backend, operator):
    done = wait(tasks.add.enqueue(2, 3), timeout=DEADLINE)
    failed = wait(tasks.fail.enqueue("it broke"), timeout=DEADLINE)
    other = wait(tasks.add.using(queue_name="other").enqueue(1, 1), timeout=DEADLINE)

    def ids(query: str) -> set[str]:
        html = page(operator, ADMIN + query)
        return {r.id for r in (done, failed, other) if f'"{r.id}"' in html}

    assert ids("?status=FAILED") == {failed.id}
    assert ids("?status=SUCCESSFUL") == {done.id, other.id}
    assert ids("?queue=other") == {other.id}
    assert ids(f"?task={tasks.fail.module_path}") == {failed.id}
    assert ids("?alias=default") == {done.id, failed.id, other.id}
    assert ids("?alias=nowhere") == set()
    assert ids("?status=SUCCESSFUL&queue=default") == {done.id}
    html = page(operator, ADMIN + "?status=FAILED")
    assert 'href="?status=FAILED&amp;queue=other"' in html  # filters combine


def test_the_list_searches_by_id_or_its_start(backend, operator):
    first, second = (wait(tasks.add.enqueue(n, n), timeout=DEADLINE) for n in (1, 2))

    html = page(operator, f"{ADMIN}?q={first.id}")
    assert f'"{first.id}"' in html and f'"{second.id}"' not in html
    html = page(operator, f"{ADMIN}?q={second.id[:8]}")
    assert f'"{second.id}"' in html and f'"{first.id}"' not in html


def test_the_list_pages_newest_first(backend, operator, monkeypatch):
    from django_tasks_local.admin import results

    monkeypatch.setattr(results, "PAGE_SIZE", 2)
    made = [wait(tasks.add.enqueue(n, n), timeout=DEADLINE) for n in range(3)]

    first = page(operator, ADMIN)
    assert first.index(made[2].id) < first.index(made[1].id)
    assert made[0].id not in first and "page 1 of 2" in first
    second = page(operator, ADMIN + "?p=2")
    assert made[0].id in second and made[2].id not in second


# -- one result ------------------------------------------------------------------------


def test_the_detail_page_shows_everything_a_result_holds(backend, operator):
    failed = wait(
        tasks.fail.using(priority=7, queue_name="other").enqueue("it broke"),
        timeout=DEADLINE,
    )
    done = wait(tasks.add.enqueue(2, 3), timeout=DEADLINE)

    html = page(operator, f"{ADMIN}{failed.id}/")
    assert tasks.fail.module_path in html
    assert "it broke" in html and "Traceback (most recent call last)" in html
    assert "builtins.ValueError" in html
    assert failed.worker_ids[0] in html
    assert "default (memory store)" in html
    assert ">other<" in html and ">7<" in html  # queue, priority
    for moment in (failed.enqueued_at, failed.started_at, failed.finished_at):
        assert timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S.%f") in html
    assert (
        '<pre class="tasks-json" id="args">[\n  &quot;it broke&quot;\n]</pre>' in html
    )
    assert 'id="metadata">{}</pre>' in html
    assert 'id="retry"' in html and 'id="delete"' in html and 'id="cancel"' not in html

    html = page(operator, f"{ADMIN}{done.id}/")
    assert '<pre class="tasks-json" id="return-value">5</pre>' in html
    assert "data-live-final" in html  # finished: the page stops refreshing


def test_the_detail_page_of_an_unfinished_task_refreshes_itself(
    backend, operator, event_gate
):
    gate = event_gate()
    running = tasks.wait_for_event.enqueue(gate.name, "ok")
    queued = tasks.add.enqueue(1, 1)

    html = page(operator, f"{ADMIN}{queued.id}/")
    assert f'data-live-url="{ADMIN}{queued.id}/?live=1"' in html
    assert "data-live-final" not in html
    assert 'id="cancel"' in html
    part = page(operator, f"{ADMIN}{queued.id}/?live=1")
    assert "<html" not in part and 'id="status">READY<' in part
    gate.open()
    wait(running, timeout=DEADLINE)


def test_an_unknown_result_is_404(backend, operator):
    page(operator, f"{ADMIN}no-such-id/", status=404)


# -- actions ---------------------------------------------------------------------------


def test_retry_enqueues_the_same_task_again_and_links_it(backend, operator, signals):
    failed = wait(
        tasks.fail.using(priority=3, queue_name="other").enqueue("again"),
        timeout=DEADLINE,
    )

    response = operator.post(f"{ADMIN}{failed.id}/retry/", follow=True)
    new_id = next(r for r in signals.names("enqueued") if r != failed.id)
    new = wait(backend.get_result(new_id), timeout=DEADLINE)
    assert new.task.module_path == tasks.fail.module_path
    assert (new.args, new.kwargs) == (["again"], {})
    assert (new.task.priority, new.task.queue_name, new.backend) == (
        3,
        "other",
        "default",
    )
    html = response.content.decode()
    assert response.redirect_chain == [(f"{ADMIN}{failed.id}/", 302)]
    assert f'Task {failed.id} retried as <a href="{ADMIN}{new_id}/">' in html
    assert f'<a href="{ADMIN}{new_id}/"><code>{new_id}</code></a>' in html  # linked


def test_only_a_failed_task_is_retried(backend, operator):
    done = wait(tasks.add.enqueue(2, 3), timeout=DEADLINE)

    response = operator.post(f"{ADMIN}{done.id}/retry/", follow=True)
    assert "only a FAILED task can be retried" in response.content.decode()


def test_cancel_ends_a_ready_task_failed_before_it_runs(
    backend, operator, event_gate, signals, tmp_path
):
    gate = event_gate()
    tasks.wait_for_event.enqueue(gate.name)  # keeps the one worker busy
    path = tmp_path / "ran"
    queued = tasks.write_file.enqueue(str(path))
    later = tasks.write_file.using(
        run_after=timezone.now() + timedelta(hours=1)
    ).enqueue(str(path))

    for result in (queued, later):
        response = operator.post(f"{ADMIN}{result.id}/cancel/", follow=True)
        assert f"Task {result.id} cancelled." in response.content.decode()
        cancelled = wait(result, timeout=DEADLINE)
        assert cancelled.status == TaskResultStatus.FAILED
        [error] = cancelled.errors
        assert error.exception_class is TaskCancelled
        assert "was cancelled before it ran" in error.traceback
        assert cancelled.started_at is None and cancelled.worker_ids == []
        assert [s.name for s in signals.of(result.id)] == ["enqueued", "finished"]
    gate.open()
    assert backend.join(DEADLINE)
    assert not path.exists()


def test_a_running_or_finished_task_is_not_cancelled(
    backend, operator, event_gate, signals
):
    gate = event_gate()
    running = tasks.wait_for_event.enqueue(gate.name)
    signals.wait_for("started", running.id)

    response = operator.post(f"{ADMIN}{running.id}/cancel/", follow=True)
    assert "a running task cannot be cancelled" in response.content.decode()
    gate.open()
    finished = wait(running, timeout=DEADLINE)
    response = operator.post(f"{ADMIN}{finished.id}/cancel/", follow=True)
    assert "has finished (SUCCESSFUL)" in response.content.decode()


def test_delete_removes_a_finished_result_only(backend, operator, event_gate):
    done = wait(tasks.add.enqueue(2, 3), timeout=DEADLINE)
    gate = event_gate()
    running = tasks.wait_for_event.enqueue(gate.name)

    response = operator.post(f"{ADMIN}{done.id}/delete/", follow=True)
    assert response.redirect_chain == [(ADMIN, 302)]
    assert f"Deleted task result {done.id}." in response.content.decode()
    page(operator, f"{ADMIN}{done.id}/", status=404)
    response = operator.post(f"{ADMIN}{running.id}/delete/", follow=True)
    assert "has not finished: not deleted" in response.content.decode()
    gate.open()
    wait(running, timeout=DEADLINE)


def test_actions_on_a_selection_from_the_list(backend, operator, event_gate):
    failed = [wait(tasks.fail.enqueue(f"f{n}"), timeout=DEADLINE) for n in range(2)]
    gate = event_gate()
    blocker = tasks.wait_for_event.enqueue(gate.name)
    queued = tasks.add.enqueue(1, 1)

    response = operator.post(
        ADMIN, {"action": "retry", "_selected": [f.id for f in failed]}, follow=True
    )
    assert response.content.decode().count("retried as") == 2
    response = operator.post(
        ADMIN, {"action": "cancel", "_selected": [queued.id]}, follow=True
    )
    assert f"Task {queued.id} cancelled." in response.content.decode()
    response = operator.post(
        ADMIN,
        {"action": "delete", "_selected": [failed[0].id, blocker.id]},
        follow=True,
    )
    html = response.content.decode()
    assert "Deleted 1 task result(s)." in html
    assert f"since not finished (or gone): {blocker.id}" in html
    gate.open()
    assert backend.join(DEADLINE)


# -- who may do what -------------------------------------------------------------------


def test_anyone_but_staff_is_sent_to_the_login_page(backend):
    result = wait(tasks.add.enqueue(1, 1), timeout=DEADLINE)
    for client in (Client(), client_of("view", staff=False)):
        for url in (
            ADMIN,
            f"{ADMIN}{result.id}/",
            f"{ADMIN}board/",
            f"{ADMIN}board/live/",
        ):
            response = client.get(url)
            assert response.status_code == 302
            assert response.url.startswith(f"/admin/login/?next={url}")
        response = client.post(f"{ADMIN}{result.id}/delete/")
        assert response.status_code == 302 and "/admin/login/" in response.url
    assert backend.get_result(result.id)


def test_staff_need_the_models_view_permission(backend):
    result = wait(tasks.fail.enqueue("x"), timeout=DEADLINE)
    client = client_of()
    for url in (ADMIN, f"{ADMIN}{result.id}/", f"{ADMIN}board/", f"{ADMIN}board/live/"):
        assert client.get(url).status_code == 403
    assert "Task results" not in page(client, "/admin/")
    viewer = Client()
    viewer.force_login(user("viewer", "view"))
    assert "Task results" in page(viewer, "/admin/")


@pytest.mark.parametrize(
    ("action", "needs"), [("retry", "add"), ("cancel", "change"), ("delete", "delete")]
)
def test_each_action_needs_its_permission(backend, action, needs):
    if action == "cancel":
        later = timezone.now() + timedelta(hours=1)
        target = tasks.add.using(run_after=later).enqueue(1, 1)
    else:
        target = wait(tasks.fail.enqueue("x"), timeout=DEADLINE)
    others = [p for p in ("add", "change", "delete") if p != needs]
    without = Client()
    without.force_login(user("without", "view", *others))

    assert without.post(f"{ADMIN}{target.id}/{action}/").status_code == 403
    response = without.post(ADMIN, {"action": action, "_selected": [target.id]})
    assert response.status_code == 403
    assert f'id="{action}"' not in page(without, f"{ADMIN}{target.id}/")
    assert backend.get_result(target.id).status == target.status

    allowed = Client()
    allowed.force_login(user("allowed", "view", needs))
    assert f'id="{action}"' in page(allowed, f"{ADMIN}{target.id}/")
    assert allowed.post(f"{ADMIN}{target.id}/{action}/").status_code == 302
    if action == "delete":
        page(allowed, f"{ADMIN}{target.id}/", status=404)
    else:
        assert backend.get_result(target.id).status == TaskResultStatus.FAILED


def test_actions_are_posts_with_csrf(backend):
    failed = wait(tasks.fail.enqueue("x"), timeout=DEADLINE)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user("operator", "view", "add", "change", "delete"))

    for action in ACTIONS:
        assert client.get(f"{ADMIN}{failed.id}/{action}/").status_code == 405
        assert client.post(f"{ADMIN}{failed.id}/{action}/").status_code == 403
    assert (
        client.post(ADMIN, {"action": "delete", "_selected": [failed.id]}).status_code
        == 403
    )
    assert backend.get_result(failed.id).status == TaskResultStatus.FAILED

    html = page(client, f"{ADMIN}{failed.id}/")
    token = html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        f"{ADMIN}{failed.id}/delete/", {"csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


# -- the board -------------------------------------------------------------------------


def test_the_board_counts_this_process_tasks(backend, operator, event_gate, signals):
    gate = event_gate()
    running = tasks.wait_for_event.enqueue(gate.name)
    queued = tasks.add.enqueue(1, 1)
    later = timezone.now() + timedelta(hours=1)
    deferred = tasks.add.using(run_after=later).enqueue(1, 1)
    signals.wait_for("started", running.id)

    html = page(operator, f"{ADMIN}board/")
    assert 'data-live-url="/admin/django_tasks_local/taskrecord/board/live/"' in html
    assert "the results of this process only" in html
    part = page(operator, f"{ADMIN}board/live/")
    assert "<html" not in part
    assert '<td data-count="ready">1</td>' in part
    assert '<td data-count="running">1</td>' in part
    assert '<td data-count="deferred">1</td>' in part
    assert "pool started, 1 worker" in part
    for result, status in (
        (running, "RUNNING"),
        (queued, "READY"),
        (deferred, "READY"),
    ):
        assert f'data-result-id="{result.id}" data-status="{status}"' in part
    gate.open()
    wait(queued, timeout=DEADLINE)
    failed = wait(tasks.fail.enqueue("x"), timeout=DEADLINE)
    part = page(operator, f"{ADMIN}board/live/")
    assert '<td data-count="finished_minute">3</td>' in part
    assert '<td data-count="finished_hour">3</td>' in part
    assert 'data-count="failed_minute" class="tasks-bad">1</td>' in part
    assert f'data-result-id="{failed.id}" data-status="FAILED"' in part


def test_the_board_starts_no_pool(backend, operator):
    for url in (f"{ADMIN}board/", f"{ADMIN}board/live/", ADMIN):
        page(operator, url)
    assert not backend.runtime.active
    assert "pool not started" in page(operator, f"{ADMIN}board/live/")
