"""``manage.py tasks_local``: run and look after the queues of django_tasks_local.

::

    manage.py tasks_local worker [--alias A ...]     run queues until SIGTERM
    manage.py tasks_local prune --older-than DAYS    delete old finished rows
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import worker
from ...operations import prune


class Command(BaseCommand):
    help = "Run and look after the task queues of django_tasks_local."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", metavar="ACTION")
        commands.required = True
        run = commands.add_parser(
            "worker",
            help="Run the queues of database-store aliases until SIGTERM or SIGINT.",
            description="A process that only runs the queues of the given aliases "
            "(default: every alias with STORE='database'). SIGTERM or Ctrl-C: "
            "running tasks finish, queued ones stay in the database.",
        )
        run.add_argument(
            "--alias", action="append", dest="aliases", help="An alias to run."
        )
        pruning = commands.add_parser(
            "prune", help="Delete finished results older than some days."
        )
        pruning.add_argument(
            "--older-than",
            type=float,
            required=True,
            metavar="DAYS",
            help="Delete results that finished more than DAYS days ago.",
        )
        pruning.add_argument(
            "--alias", action="append", dest="aliases", help="Only this alias."
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "worker":
            aliases = worker.database_aliases(options["aliases"])
            worker.run(aliases, lambda text: self.stdout.write(text))
        elif action == "prune":
            days = options["older_than"]
            if days < 0:
                raise CommandError("--older-than must be a number of days >= 0.")
            for alias, deleted in prune(days, options["aliases"]).items():
                self.stdout.write(f"{alias}: deleted {deleted} finished result(s).")
