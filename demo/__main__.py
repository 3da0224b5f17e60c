"""``python -m demo`` (``make demo``): a live tour of django-tasks-local.

Real Django settings, given in code with ``settings.configure()``; everything
below uses the package's public API. Worker processes started with forkserver or
spawn import modules again, so all the work stays under the ``__main__`` guard.

``python -m demo --board`` (``make demo BOARD=1``) also serves the admin's live
board (``demo/web.py``): it prints the URL, starts the tour once the board is
open in a browser, and keeps serving after it until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

import django
from django.conf import settings


def configure(folder: str, board: bool = False) -> None:
    extra: dict[str, Any] = {}
    if board:
        from demo import web

        extra = web.settings(folder)
    settings.configure(
        **extra,
        USE_TZ=True,
        TASKS={
            # I/O-bound work on threads of this process.
            "default": {
                "BACKEND": "django_tasks_local.ThreadPoolBackend",
                "OPTIONS": {"MAX_WORKERS": 4},
            },
            # CPU-bound work in worker processes, one per core here.
            "cpu": {
                "BACKEND": "django_tasks_local.ProcessPoolBackend",
                "OPTIONS": {"MAX_WORKERS": 2},
            },
            # Tasks that must not run for long: a worker past TIMEOUT is ended.
            "limited": {
                "BACKEND": "django_tasks_local.ProcessPoolBackend",
                "OPTIONS": {"MAX_WORKERS": 1, "TIMEOUT": 1.5},
            },
            # A single worker, so that priority decides what runs next.
            "serial": {
                "BACKEND": "django_tasks_local.ThreadPoolBackend",
                "OPTIONS": {"MAX_WORKERS": 1},
            },
        },
        # The board shows every failure with its error; the log lines for failed
        # tasks and lost workers would only repeat it (and break the live board).
        LOGGING={
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {
                "django.tasks": {"level": "CRITICAL"},
                "django_tasks_local": {"level": "CRITICAL"},
            },
        },
    )
    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument(
        "--board",
        action="store_true",
        help="serve the live board in a browser while the tour runs",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="the board's port (default 8800)"
    )
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="django-tasks-local-demo-") as folder:
        configure(folder, board=options.board)
        from demo.tour import Tour

        # Redraw in place only on a real terminal; a pipe or a CI log gets one
        # line per change.
        live = sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
        tour = Tour(sys.stdout, live=live)
        if not options.board:
            print("(Watch the tasks in a browser: make demo BOARD=1)", flush=True)
            return tour.run()
        return with_board(tour, options.port)


def with_board(tour: Any, port: int | None) -> int:
    """The tour, with the board served before, during and after it.

    Ctrl-C (SIGINT) or SIGTERM stops it at any moment. While it waits (for the
    board to be opened, then for the end) they only wake the main thread, so
    the server stops cleanly; during the tour Ctrl-C raises
    ``KeyboardInterrupt`` as usual, even where SIGINT came ignored (a process
    started in the background by a shell).
    """
    import signal
    import threading

    from demo import web

    stop = threading.Event()

    def on_signal(number: int, frame: Any) -> None:
        stop.set()
        web.board_opened.set()  # wakes the wait for the board

    waiting = {n: on_signal for n in (signal.SIGINT, signal.SIGTERM)}
    touring = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: on_signal}
    previous = {n: signal.signal(n, handler) for n, handler in waiting.items()}
    server = web.Server(web.DEFAULT_PORT if port is None else port)
    server.start()
    try:
        print(f"The live board: {server.url}", flush=True)
        print("Open it in a browser; the tour starts when the board is open.")
        print("", flush=True)
        web.board_opened.wait()
        if stop.is_set():
            return 0
        for number, handler in touring.items():
            signal.signal(number, handler)
        code = tour.run()
        for number, handler in waiting.items():
            signal.signal(number, handler)
        print(f"The board stays up at {server.url}: Ctrl-C to stop.", flush=True)
        stop.wait()
        return code
    except KeyboardInterrupt:
        return 130
    finally:
        server.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)


if __name__ == "__main__":
    sys.exit(main())
