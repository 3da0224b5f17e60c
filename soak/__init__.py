"""The soak test of the database store: worker processes killed with SIGKILL
while they run tasks, replaced, and every task counted at the end.

``make soak`` (SQLite) and ``make soak-postgres``; ``python -m soak --help``."""
