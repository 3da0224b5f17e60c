"""The database store's values in: the text it writes must be exactly what the ORM
writes for the same value, so that rows read back (and compared) as the ORM
would have written them."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from django_tasks_local.stores.sql import Dialect

pytestmark = pytest.mark.database

#: Whole seconds, and fractions that round half to even or carry into the next
#: second when made microseconds.
SECONDS = (0, 86_399, 1_700_000_000, 1_700_000_001, 4_102_444_799)
FRACTIONS = (0.0, 1e-7, 0.5e-6, 1.5e-6, 2.5e-6, 0.123456, 0.4999995, 0.9999994)
EDGES = [s + f for s in SECONDS for f in FRACTIONS] + [
    math.nextafter(float(s), direction)
    for s in SECONDS[1:]
    for direction in (0.0, math.inf)
]


def orm_text(timestamp: float) -> object:
    """What Django writes for this moment in a ``DateTimeField``."""
    tz = UTC if settings.USE_TZ else None
    return connection.ops.adapt_datetimefield_value(
        datetime.fromtimestamp(timestamp, tz)
    )


@pytest.mark.parametrize("use_tz", [True, False])
def test_times_are_written_as_the_orm_writes_them(use_tz):
    now = time.time()
    samples = [*EDGES, -1.5, -0.0000005, now, now + 0.5, now + 1]
    # Several per second: the second's text is reused within it.
    samples += [now + step / 7 for step in range(20)]
    with override_settings(USE_TZ=use_tz):
        dialect = Dialect(connection)
        for timestamp in samples:
            assert dialect.time(timestamp) == orm_text(timestamp), timestamp
        assert dialect.time(None) is None


@pytest.mark.parametrize(
    "value",
    [[], {}, None, [1, "a"], {"a": [1, 2]}, 0, "", False, "x", 1.5, [[]], {"k": None}],
)
def test_json_is_compact_json(value):
    assert Dialect.json(value) == json.dumps(value, separators=(",", ":"))
