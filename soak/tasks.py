"""The soak test's task: it records each of its executions, start and end, in
its process's own file, then works for a few milliseconds."""

import os
import time

from django.tasks import task

from django_tasks_local import current_result_id


def _log(kind: str) -> None:
    path = os.path.join(os.environ["SOAK_DIR"], f"runs-{os.getpid()}.log")
    line = f"{kind} {current_result_id.get()} {os.getpid()} {time.time():.6f}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@task
def work(milliseconds: int) -> int:
    _log("start")
    time.sleep(milliseconds / 1000)  # the task's own work, not a wait in a test
    _log("end")
    return milliseconds
