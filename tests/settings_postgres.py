"""The test settings on PostgreSQL, at the server the PG* environment variables
name: ``scripts/postgres start DIR`` prints them, ``make test-postgres`` sets them.

As in ``tests.settings``, the test database is NAME itself: worker processes
started with spawn or forkserver import these settings afresh, without the test
runner's changes, and must still open the test database. NAME is ``test_``, then
PGDATABASE, then the run id, so parallel runs on one server do not share a
database. The role (PGUSER) must be allowed to create databases: the test runner
creates that one, and drops it at the end.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from tests.settings import *  # noqa: F403
from tests.settings import _RUN_ID

if "PGDATABASE" not in os.environ:
    raise ImproperlyConfigured(
        "tests.settings_postgres needs PGHOST, PGPORT, PGUSER and PGDATABASE: "
        "run `make test-postgres`, or eval the output of `scripts/postgres start DIR`"
    )
_TEST_NAME = f"test_{os.environ['PGDATABASE']}_{_RUN_ID}"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("PGHOST", ""),
        "PORT": os.environ.get("PGPORT", ""),
        "USER": os.environ.get("PGUSER", ""),
        "PASSWORD": os.environ.get("PGPASSWORD", ""),
        "NAME": _TEST_NAME,
        "TEST": {"NAME": _TEST_NAME},
    }
}
