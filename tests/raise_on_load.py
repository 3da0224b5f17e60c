"""A task module whose import raises in any worker process (fork children
inherit it already imported, so only spawn and forkserver workers load it)."""

import multiprocessing

from django.tasks import task

if multiprocessing.parent_process() is not None:
    raise RuntimeError("raise_on_load refuses to be imported in a worker process")


@task
def never_runs():
    return "unreachable in a fresh worker process"
