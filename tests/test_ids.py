"""Result ids are random version-4 UUID strings."""

import os
import uuid

import pytest

from django_tasks_local.ids import new_result_id


def test_result_ids_are_distinct_version_4_uuid_strings():
    ids = [new_result_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for result_id in ids:
        parsed = uuid.UUID(result_id)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == result_id


# The child only pops ids and writes them to a pipe before os._exit(): nothing in
# it can wait on a lock another thread of the test runner held at fork time.
@pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)
def test_a_forked_child_never_repeats_its_parents_ids():
    new_result_id()  # the pool now holds ids the parent will hand out next
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.close(read)
        os.write(write, ",".join(new_result_id() for _ in range(8)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_ids = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent_ids = {new_result_id() for _ in range(8)}
    assert len(child_ids) == 8
    assert not child_ids & parent_ids
