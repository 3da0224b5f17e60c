"""The demo: a short tour of django-tasks-local. Run it with ``make demo``."""
