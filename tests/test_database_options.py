"""The database store's options and system checks, on both backends: bad values
named in ``InvalidTaskBackend``, ``MAX_RESULTS=None`` only in the database
store, the checks of the app and of SQLite's WAL mode, and an enqueue before
``migrate`` that says to run it.

The checks and the missing table need settings of their own (a fresh SQLite
file, the app left out): they run in scripts that call ``settings.configure()``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from django.tasks import task_backends
from django.tasks.exceptions import InvalidTaskBackend
from django.test import override_settings

THREAD = "django_tasks_local.ThreadPoolBackend"
PROCESS = "django_tasks_local.ProcessPoolBackend"


@pytest.fixture(params=[THREAD, PROCESS], ids=["thread", "process"])
def backend_path(request) -> str:
    return request.param


def make(backend_path: str, options: dict, alias: str = "orders"):
    """Create the backend the way Django does, from TASKS."""
    with override_settings(
        TASKS={alias: {"BACKEND": backend_path, "OPTIONS": options}}
    ):
        return task_backends[alias]


def refused(backend_path: str, options: dict, alias: str = "orders") -> str:
    with pytest.raises(InvalidTaskBackend) as caught:
        make(backend_path, options, alias)
    return str(caught.value)


BAD_VALUES = {
    "STORE": ["disk", "", "Database", None, 1, ["database"]],
    "DATABASE": ["elsewhere", "", None, 0, ["default"]],
    "POLL_INTERVAL": [0, -1, "1", None, True, float("inf"), float("nan"), [1]],
    "LEASE": [0, -0.5, "60", None, False, float("inf"), float("nan")],
    "MAX_RESULTS": [0, -1, "5", 2.5, True],
}


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, values in BAD_VALUES.items() for value in values],
    ids=repr,
)
def test_a_bad_value_names_alias_option_and_value(backend_path, name, value):
    options = {"STORE": "database", name: value}
    message = refused(backend_path, options, alias="orders")
    assert "'orders'" in message
    assert repr(name) in message
    assert repr(value) in message


def test_a_database_that_is_not_configured_is_named_with_the_known_ones(
    backend_path,
):
    message = refused(backend_path, {"STORE": "database", "DATABASE": "replica"})
    assert "a key of settings.DATABASES ('default')" in message


def test_max_results_none_keeps_everything_in_the_database_store_only(backend_path):
    backend = make(backend_path, {"STORE": "database", "MAX_RESULTS": None})
    assert backend.pool_options.max_results is None

    message = refused(backend_path, {"MAX_RESULTS": None})
    assert "'MAX_RESULTS'" in message
    assert "None" in message
    assert "int >= 1" in message


def test_good_values_are_read_and_start_nothing(backend_path):
    backend = make(
        backend_path,
        {
            "STORE": "database",
            "DATABASE": "default",
            "POLL_INTERVAL": 0.25,
            "LEASE": 15,
            "MAX_RESULTS": 7,
        },
    )
    options = backend.pool_options
    assert (options.store, options.database) == ("database", "default")
    assert (options.poll_interval, options.lease) == (0.25, 15.0)
    assert options.max_results == 7
    assert not backend.runtime.active


def test_the_memory_store_is_the_default(backend_path):
    options = make(backend_path, {}).pool_options
    assert options.store == "memory"
    assert options.poll_interval == 1.0
    assert options.lease == 60.0


# -- checks and migrate, with settings of their own ----------------------------------

SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    from django.conf import settings


    def main():
        config = json.loads(sys.argv[1])
        options = {"init_command": "PRAGMA journal_mode=WAL"} if config["wal"] else {}
        settings.configure(
            INSTALLED_APPS=["django.contrib.contenttypes"]
            + (["django_tasks_local"] if config["installed"] else []),
            USE_TZ=True,
            DATABASES={
                "default": {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": config["database"],
                    "OPTIONS": options,
                }
            },
            TASKS={
                "jobs": {
                    "BACKEND": "django_tasks_local.ThreadPoolBackend",
                    "OPTIONS": {"STORE": "database"},
                },
                "cpu": {
                    "BACKEND": "django_tasks_local.ProcessPoolBackend",
                    "OPTIONS": {"STORE": "database", "MAX_WORKERS": 1},
                },
                "memory": {"BACKEND": "django_tasks_local.ThreadPoolBackend"},
            },
        )
        import django

        django.setup()
        from django.core import checks
        from django.core.management import call_command

        # Imported at start-up, as a project's models or AppConfig.ready import
        # their tasks: Django registers the checks of TASKS when django.tasks
        # is first imported.
        import script_tasks

        if config["migrate"] is not None:
            call_command("migrate", *config["migrate"], verbosity=0)
        if config["action"] == "check":
            report = [
                {"id": m.id, "level": m.level, "msg": m.msg, "hint": m.hint}
                for m in checks.run_checks()
            ]
        else:
            from django_tasks_local import wait

            report = {}
            for alias in ("jobs", "cpu"):
                try:
                    result = script_tasks.noop.using(backend=alias).enqueue()
                    report[alias] = wait(result, timeout=60).status
                except Exception as error:
                    report[alias] = f"{type(error).__qualname__}: {error}"
        print(json.dumps(report))


    if __name__ == "__main__":
        main()
    """
)

SCRIPT_TASKS = textwrap.dedent(
    """
    from django.tasks import task


    @task(backend="jobs")
    def noop():
        return None
    """
)


def run_script(tmp_path, deadline, *, installed=True, wal=True, migrate=None, action):
    """Run SCRIPT with its own settings on the SQLite file ``tmp_path/db.sqlite3``,
    after ``manage.py migrate`` with the arguments ``migrate`` (a list); return
    what it printed."""
    (tmp_path / "script.py").write_text(SCRIPT)
    (tmp_path / "script_tasks.py").write_text(SCRIPT_TASKS)
    config = {
        "installed": installed,
        "wal": wal,
        "migrate": migrate,
        "action": action,
        "database": str(tmp_path / "db.sqlite3"),
    }
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "script.py", json.dumps(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=deadline * 2,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def ours(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["id"].startswith("django_tasks_local.")]


def test_check_errors_without_the_app_naming_alias_and_fix(tmp_path, deadline):
    messages = ours(run_script(tmp_path, deadline, installed=False, action="check"))

    assert [m["id"] for m in messages] == ["django_tasks_local.E001"] * 2
    assert {m["level"] for m in messages} == {40}  # ERROR
    named = sorted(
        alias
        for m in messages
        for alias in ("jobs", "cpu", "memory")
        if f"TASKS[{alias!r}]" in m["msg"]
    )
    assert named == ["cpu", "jobs"]  # the memory store needs no app
    for message in messages:
        assert "INSTALLED_APPS" in message["msg"]
        assert "Add 'django_tasks_local' to INSTALLED_APPS" in message["hint"]
        assert "manage.py migrate" in message["hint"]


def test_check_warns_when_sqlite_is_not_in_wal_mode_and_says_how(tmp_path, deadline):
    messages = ours(run_script(tmp_path, deadline, wal=False, action="check"))

    assert [m["id"] for m in messages] == ["django_tasks_local.W002"] * 2
    assert {m["level"] for m in messages} == {30}  # WARNING
    for message in messages:
        assert "not in WAL mode" in message["msg"]
        assert "['init_command']" in message["hint"]
        assert "PRAGMA journal_mode=WAL" in message["hint"]


def test_check_is_quiet_when_the_file_is_in_wal_mode(tmp_path, deadline):
    """With the init_command, or a file already in WAL mode (the mode stays
    with the file)."""
    assert ours(run_script(tmp_path, deadline, wal=True, action="check")) == []

    with sqlite3.connect(tmp_path / "db.sqlite3") as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.close()
    assert ours(run_script(tmp_path, deadline, wal=False, action="check")) == []


def test_an_enqueue_before_migrate_says_to_run_it(tmp_path, deadline):
    """The site's database is there (another app migrated), the store's table
    is not: the app was added and ``migrate`` not run since."""
    report = run_script(tmp_path, deadline, migrate=["contenttypes"], action="enqueue")

    for alias in ("jobs", "cpu"):
        assert report[alias].startswith("ImproperlyConfigured: "), report[alias]
        assert f"alias {alias!r}" in report[alias]
        assert "django_tasks_local_taskrecord" in report[alias]
        assert "Run `manage.py migrate`" in report[alias]


def test_an_enqueue_after_migrate_runs(tmp_path, deadline):
    report = run_script(tmp_path, deadline, migrate=[], action="enqueue")
    assert report == {"jobs": "SUCCESSFUL", "cpu": "SUCCESSFUL"}


def test_a_database_that_is_neither_sqlite_nor_postgresql_is_refused(deadline):
    """Named with its vendor, when the backend is created (Django's dummy
    engine stands for MySQL or Oracle here: no driver to install)."""
    script = textwrap.dedent(
        """
        import django
        from django.conf import settings

        settings.configure(
            DATABASES={
                "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
                "other": {"ENGINE": "django.db.backends.dummy"},
            },
            TASKS={
                "orders": {
                    "BACKEND": "django_tasks_local.ThreadPoolBackend",
                    "OPTIONS": {"STORE": "database", "DATABASE": "other"},
                }
            },
        )
        django.setup()
        from django.tasks import task_backends
        from django.tasks.exceptions import InvalidTaskBackend

        try:
            task_backends["orders"]
        except InvalidTaskBackend as error:
            print(error)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=deadline,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
    )
    assert done.returncode == 0, done.stderr
    assert (
        "TASKS['orders']['OPTIONS']['DATABASE'] must be a SQLite or PostgreSQL "
        "database (it is unknown); got 'other'." in done.stdout
    ), done.stdout + done.stderr
