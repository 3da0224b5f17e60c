"""The benchmark of django-tasks-local: ``make bench`` or ``python -m bench``.

Each case measures the package's backends and the raw ``concurrent.futures``
executors doing the same work in the same run, alternating them round by round,
and prints medians with the min and max of the rounds, ratios, and the
project's performance targets. The ``database`` case measures database-backed
stores, django-tasks-db first, each in subprocesses with settings of its own
(``bench/database.py``). ``--quick`` and ``--tiny`` trade precision for time;
``--only CASE`` runs one case (for profiling).

Imports nothing at package level: worker processes import ``bench.work``.
"""
