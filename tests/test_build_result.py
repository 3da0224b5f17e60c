"""build_result() writes every field, as Django's own constructor would."""

from datetime import UTC, datetime

from django.tasks import TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.test import override_settings

from django_tasks_local import metadata
from django_tasks_local.results import build_result
from tests import tasks


def test_build_result_equals_the_result_djangos_constructor_makes():
    error = TaskError(exception_class_path="builtins.ValueError", traceback="tb")
    built = build_result(
        task=tasks.add,
        result_id="an-id",
        status=TaskResultStatus.FAILED,
        enqueued_at=1.0,
        started_at=2.0,
        finished_at=3.0,
        args=[1, 2],
        kwargs={"a": 1},
        backend="default",
        errors=[error],
        worker_ids=["host:1:tasks-default-1"],
        return_value=None,
    )
    # The class with metadata (Django's own on a Django that has it).
    expected = metadata.TaskResult(
        task=tasks.add,
        id="an-id",
        status=TaskResultStatus.FAILED,
        enqueued_at=datetime.fromtimestamp(1.0, UTC),
        started_at=datetime.fromtimestamp(2.0, UTC),
        last_attempted_at=datetime.fromtimestamp(2.0, UTC),
        finished_at=datetime.fromtimestamp(3.0, UTC),
        args=[1, 2],
        kwargs={"a": 1},
        backend="default",
        errors=[error],
        worker_ids=["host:1:tasks-default-1"],
    )
    assert built == expected
    assert type(built) is metadata.TaskResult
    assert isinstance(built, TaskResult)
    assert built.raw_metadata == {}


def _built(enqueued_at: float):
    return build_result(
        task=tasks.add,
        result_id="an-id",
        status=TaskResultStatus.READY,
        enqueued_at=enqueued_at,
        started_at=None,
        finished_at=None,
        args=[],
        kwargs={},
        backend="default",
        errors=[],
        worker_ids=[],
    )


def test_timestamps_follow_use_tz_as_it_changes():
    assert _built(1.0).enqueued_at == datetime.fromtimestamp(1.0, UTC)
    with override_settings(USE_TZ=False):
        assert _built(1.0).enqueued_at == datetime.fromtimestamp(1.0)
        assert _built(1.0).enqueued_at.tzinfo is None
    assert _built(1.0).enqueued_at.tzinfo is UTC
