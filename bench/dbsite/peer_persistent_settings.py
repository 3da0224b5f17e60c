"""django-tasks-db as in ``peer_settings``, with persistent database connections
(``CONN_MAX_AGE = None``): its worker then keeps one SQLite connection, and
claims in ``BEGIN EXCLUSIVE`` transactions (see ``bench/peer_db.py``)."""

from bench.dbsite.peer_settings import *  # noqa: F403

DATABASES = {"default": {**DATABASES["default"], "CONN_MAX_AGE": None}}  # noqa: F405
