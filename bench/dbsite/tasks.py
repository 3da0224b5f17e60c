"""The no-op task of the database-store contenders, on the ``default`` backend
of whichever settings module the process runs with.

A database worker imports a task by its path (``bench.dbsite.tasks.noop``), so
it must be a ``Task`` at module level, not a plain function.
"""

from django.tasks import task


@task
def noop() -> None:
    return None
