"""The ORM from a worker, against a real database (a SQLite file, or PostgreSQL
under ``make test-postgres``), with Django's connection hygiene
(close_old_connections) around each task."""

import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.tasks import TaskResultStatus
from django.tasks.signals import task_finished
from django.test import override_settings

from django_tasks_local import wait
from tests import tasks
from tests.app.models import Note
from tests.support import DEADLINE

pytestmark = [pytest.mark.database, pytest.mark.django_db(transaction=True)]

VENDORS = {
    "django.db.backends.sqlite3": "sqlite",
    "django.db.backends.postgresql": "postgresql",
}


def test_database_is_the_configured_real_one():
    assert connection.vendor == VENDORS[settings.DATABASES["default"]["ENGINE"]]
    if connection.vendor == "sqlite":
        # A file that worker processes open too, not a private in-memory one.
        assert not connection.is_in_memory_db()
        assert Path(connection.settings_dict["NAME"]).is_file()
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone() == (connection.settings_dict["NAME"],)


def test_task_writes_and_reads_through_the_orm(backend):
    results = [tasks.write_note.enqueue(f"note {n}") for n in range(4)]
    for n, result in enumerate(results):
        wait(result, timeout=DEADLINE)
        assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
        assert result.return_value["count"] == 1
        assert Note.objects.get(pk=result.return_value["id"]).text == f"note {n}"
    assert Note.objects.count() == 4


@pytest.mark.backend_options(MAX_WORKERS=1)
def test_a_tasks_connection_is_closed_when_it_ends(backend):
    # CONN_MAX_AGE is 0, so close_old_connections() closes the connection the
    # ORM task opened; the next task on the same worker starts without one.
    wrote = wait(tasks.write_note.enqueue("x"), timeout=DEADLINE)
    after = wait(tasks.database_connection_state.enqueue(), timeout=DEADLINE)
    assert wrote.status == after.status == TaskResultStatus.SUCCESSFUL
    assert after.worker_ids == wrote.worker_ids
    assert after.return_value == {"open_at_start": False}


def test_a_connection_opened_between_tasks_is_closed_before_the_next():
    # Thread pools send task_finished from the worker thread, after the task's
    # own close_old_connections(): a receiver that queries the database leaves
    # a connection open in the worker. The next task's call closes it first.
    def query_from_the_worker(sender, task_result, **kwargs):
        if threading.current_thread().name.startswith("tasks-"):
            Note.objects.exists()

    config = {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "OPTIONS": {"MAX_WORKERS": 1},
    }
    task_finished.connect(query_from_the_worker, weak=False)
    try:
        with override_settings(TASKS={"default": config}):
            first = wait(tasks.noop.enqueue(), timeout=DEADLINE)
            after = wait(tasks.database_connection_state.enqueue(), timeout=DEADLINE)
    finally:
        task_finished.disconnect(query_from_the_worker)
    assert after.worker_ids == first.worker_ids
    assert after.return_value == {"open_at_start": False}
