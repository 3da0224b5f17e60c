"""As ``local_settings``, with the ``django.tasks`` logger at Django's default
level, INFO: Django's receivers of the task signals then build their log
records (nothing is printed with ``DEBUG = False``), as on a site that leaves
logging alone. The other contenders keep it at WARNING (``settings.py``)."""

from bench.dbsite.local_settings import *  # noqa: F403

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"django.tasks": {"level": "INFO"}},
}
