"""Task functions the tests enqueue. Module-level, as Django requires."""

from __future__ import annotations

import asyncio

from django.tasks import task

from django_tasks_local import current_result_id


@task
def add(a, b):
    return a + b


@task(takes_context=True)
def report_context(context, label):
    return {
        "id": context.task_result.id,
        "attempt": context.attempt,
        "status": context.task_result.status,
        "current_result_id": current_result_id.get(),
        "label": label,
    }


@task
async def async_add(a, b):
    await asyncio.sleep(0)
    return {"sum": a + b, "current_result_id": current_result_id.get()}
