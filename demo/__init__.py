"""The demo: a live tour of django-tasks-local. Run it with ``make demo``."""
