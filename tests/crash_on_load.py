"""A task module that ends any worker process that imports it (fork children
inherit it already imported, so only spawn and forkserver workers load it)."""

import multiprocessing
import os

from django.tasks import task

if multiprocessing.parent_process() is not None:
    os._exit(7)


@task
def never_runs():
    return "unreachable in a fresh worker process"
