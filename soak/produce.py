"""The soak test's producer: enqueues N tasks in transactions of a hundred, and
writes each committed id to ``ids`` (only those exist for sure)."""

import os
import random
import sys

import django

django.setup()

from django.db import transaction  # noqa: E402

from soak.tasks import work  # noqa: E402


def main() -> None:
    count = int(sys.argv[1])
    rng = random.Random(count)
    path = os.path.join(os.environ["SOAK_DIR"], "ids")
    with open(path, "w") as ids:
        for start in range(0, count, 100):
            with transaction.atomic():
                batch = [
                    work.enqueue(rng.randint(0, 20))
                    for _ in range(min(100, count - start))
                ]
            ids.write("".join(f"{result.id}\n" for result in batch))
            ids.flush()
    print("produced", count, flush=True)


if __name__ == "__main__":
    main()
