"""Enqueue a few tasks on a thread pool and print each one's lifecycle."""

import django
from django.conf import settings

settings.configure(
    USE_TZ=True,
    TASKS={
        "default": {
            "BACKEND": "django_tasks_local.ThreadPoolBackend",
            "OPTIONS": {"MAX_WORKERS": 2},
        }
    },
)
django.setup()

from django.tasks import default_task_backend  # noqa: E402

from demo.tasks import fetch  # noqa: E402
from django_tasks_local import wait  # noqa: E402


def main() -> None:
    results = [fetch.enqueue(f"https://example.com/{n}", 0.2) for n in range(4)]
    for result in results:
        print(f"{result.id[:8]}  {result.status:<10} enqueued {result.enqueued_at:%X}")
    for result in results:
        wait(result, timeout=30)
        ran = (result.finished_at - result.started_at).total_seconds()
        print(
            f"{result.id[:8]}  {result.status:<10} on {result.worker_ids[0]}"
            f" ran {ran:.2f}s -> {result.return_value}"
        )
    default_task_backend.close()


if __name__ == "__main__":
    main()
