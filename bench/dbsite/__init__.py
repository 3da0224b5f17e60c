"""A small Django site for the database-store contenders of the benchmark.

It runs only in subprocesses, each started with one contender's settings module
(``DJANGO_SETTINGS_MODULE``), in a temporary folder of its own
(``BENCH_DB_FOLDER``) that holds the site's SQLite file. The benchmark's own
process never imports it, nor any contender's package: ``bench/database.py``
starts ``python -m django ...`` and ``python -m bench.dbsite.driver ...``.

- ``settings.py``: what every contender's settings share (the database, the
  logging); one settings module per contender adds its app and ``TASKS``;
- ``peer_settings.py``: django-tasks-db's ``DatabaseBackend``;
- ``tasks.py``: the no-op task, on the ``default`` backend;
- ``driver.py``: the site's side of a measurement (enqueue, read);
- ``apps.py``: counts "database is locked" errors in every process of the site.
"""
