"""Result ids are random version-4 UUID strings."""

import uuid

from django_tasks_local.ids import new_result_id


def test_result_ids_are_distinct_version_4_uuid_strings():
    ids = [new_result_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for result_id in ids:
        parsed = uuid.UUID(result_id)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == result_id
