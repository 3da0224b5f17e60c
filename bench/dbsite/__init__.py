"""A small Django site for the database-store contenders of the benchmark.

It runs only in subprocesses, each started with one contender's settings module
(``DJANGO_SETTINGS_MODULE``), in a temporary folder of its own
(``BENCH_DB_FOLDER``) that holds the site's SQLite file. The benchmark's own
process never imports it, nor any contender's package: ``bench/database.py``
starts ``python -m django ...``, ``python -m bench.dbsite.driver ...`` and
``python -m bench.dbsite.local ...``.

- ``settings.py``: what every contender's settings share (the database, the
  logging); one settings module per contender adds its app and ``TASKS``;
- ``peer_settings.py``: django-tasks-db's ``DatabaseBackend``;
- ``local_settings.py``, ``local_recommended_settings.py``: this package's
  ``ThreadPoolBackend`` with the database store, on SQLite as the peer has it
  and as this package's system check recommends; ``local_info_settings.py``:
  as the first, with task logs at INFO;
- ``tasks.py``: the no-op task, on the ``default`` backend;
- ``driver.py``: the site's side of a measurement (enqueue, read);
- ``local.py``: the steps of this package's rounds, whose ``enqueue()`` runs
  the task in the enqueuing process;
- ``apps.py``: counts "database is locked" errors in every process of the site.
"""
