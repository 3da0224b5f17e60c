"""The live board of the demo (``make demo BOARD=1``): the package's admin
board, served from the demo's own process while the tour runs.

::

    python -m demo --board
        settings: the admin and its apps, a SQLite file in the demo's
                  temporary folder (migrated at start), this URLconf
        a WSGI server on 127.0.0.1 (a thread of this process), which prints
        its URL; opening it logs the browser in as a demo superuser and
        shows the board
        the tour starts once the board is open, and the board stays up after
        it until Ctrl-C

The demo's aliases use the memory store, so the board shows this process's
tasks, which are all the tour's. The server listens on the loopback address
only, and the automatic login exists in the demo alone.
"""

from __future__ import annotations

import errno
import socketserver
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

#: Where the board is served, unless that port is taken (then any free one).
DEFAULT_PORT = 8800


def settings(folder: str) -> dict[str, Any]:
    """What ``settings.configure()`` adds for the board."""
    return {
        "INSTALLED_APPS": [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "django_tasks_local",
        ],
        "DATABASES": {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": f"{folder}/demo.sqlite3",
            }
        },
        "ROOT_URLCONF": "demo.urls",
        "SECRET_KEY": "the-demo-only",
        "DEBUG": True,
        "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
        "STATIC_URL": "/static/",
        "MIDDLEWARE": [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
    }


#: Set when a browser first asks for the board's live part: the board is open.
board_opened = threading.Event()


class Quiet(WSGIRequestHandler):
    """No log line per request: the terminal belongs to the tour. An idle
    connection (a browser opens some ahead of need) is closed after
    ``timeout`` seconds."""

    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    """A thread per request, as ``runserver``: one connection a browser keeps
    open without a request must not hold up the others (or the shutdown)."""

    daemon_threads = True


class Server:
    """The board's WSGI server, on a thread of this process."""

    def __init__(self, port: int) -> None:
        from django.contrib.staticfiles.handlers import StaticFilesHandler
        from django.core.management import call_command
        from django.core.wsgi import get_wsgi_application

        call_command("migrate", verbosity=0)
        application = StaticFilesHandler(get_wsgi_application())

        def app(environ: dict, start_response: Any) -> Any:
            if environ.get("PATH_INFO", "").endswith("/board/live/"):
                board_opened.set()
            return application(environ, start_response)

        try:
            self.httpd: WSGIServer = make_server(
                "127.0.0.1", port, app, ThreadingServer, Quiet
            )
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            self.httpd = make_server("127.0.0.1", 0, app, ThreadingServer, Quiet)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="demo-board", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
