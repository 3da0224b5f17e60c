"""``manage.py tasks_local``: run, look at and steer the queues of
django_tasks_local.

::

    manage.py tasks_local status [--alias A]        counts and processes; exit 1
                                                    when something is wrong
    manage.py tasks_local list [--alias A] [--status S] [--queue Q]
                               [--task PATH] [--limit N]
    manage.py tasks_local show ID                   everything a result holds
    manage.py tasks_local retry ID [--timeout S]    enqueue a FAILED task again
    manage.py tasks_local cancel ID                 end a READY task, unrun
    manage.py tasks_local worker [--alias A ...]    run queues until SIGTERM
    manage.py tasks_local prune --older-than DAYS   delete old finished rows

A command reads the database store (every process's results); memory-store
results live in the process that enqueued them, so the admin of that process
shows them, not a command.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from ... import catalog, console, operations, worker
from ...catalog import Query
from ...operations import prune
from ...waiting import wait

STATUSES = ("READY", "RUNNING", "SUCCESSFUL", "FAILED")


class Command(BaseCommand):
    help = "Run, look at and steer the task queues of django_tasks_local."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", metavar="ACTION")
        commands.required = True
        status = commands.add_parser(
            "status",
            help="Counts per alias and live processes; exit 1 when something is "
            "wrong (for cron, health checks and monitoring).",
            description="Per alias: tasks ready, running, deferred, finished and "
            "failed lately, and the processes running it. Exits 1 when a "
            "database-store alias has running tasks whose lease expired, or tasks "
            "due and waiting with no live process to run them.",
        )
        status.add_argument("--alias", action="append", dest="aliases")
        listing = commands.add_parser("list", help="The latest task results.")
        listing.add_argument("--alias")
        listing.add_argument("--status", choices=STATUSES)
        listing.add_argument("--queue")
        listing.add_argument("--task", help="A task's module path.")
        listing.add_argument("--limit", type=int, default=20)
        show = commands.add_parser("show", help="Everything one task result holds.")
        show.add_argument("result_id", metavar="ID")
        again = commands.add_parser(
            "retry",
            help="Enqueue a FAILED task again, as a new task, and wait for it.",
            description="Enqueues the task of a FAILED result again (same "
            "arguments, priority, queue and alias) and waits until the new task "
            "has finished; exits 1 unless it succeeded. As any enqueue from a "
            "command, it starts the alias's pool in this process, which then "
            "usually runs the task itself.",
        )
        again.add_argument("result_id", metavar="ID")
        again.add_argument(
            "--timeout",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Stop waiting after this long (exit 1).",
        )
        cancel = commands.add_parser(
            "cancel", help="End a READY task that no process has taken yet."
        )
        cancel.add_argument("result_id", metavar="ID")
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

    def say(self, text: str) -> None:
        self.stdout.write(text)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"handle_{action}")(**options)

    def handle_status(self, aliases: list[str] | None, **options: Any) -> None:
        now = timezone.now()
        states = catalog.alias_states(now)
        if aliases:
            unknown = set(aliases) - {state.info.alias for state in states}
            if unknown:
                raise CommandError(
                    f"Not an alias of django_tasks_local: {', '.join(sorted(unknown))}."
                )
            states = [state for state in states if state.info.alias in aliases]
        if not states:
            raise CommandError("No alias of settings.TASKS uses django_tasks_local.")
        for state in states:
            for line in console.status_lines(state, now):
                self.say(line)
        problems = sum(len(state.problems) for state in states)
        if problems:
            raise CommandError(f"{problems} problem(s): see above.", returncode=1)

    def handle_list(
        self,
        alias: str | None,
        status: str | None,
        queue: str | None,
        task: str | None,
        limit: int,
        **options: Any,
    ) -> None:
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        query = Query(alias=alias, status=status, queue=queue, task=task)
        found, total = catalog.find_results(query, limit)
        for stored in found:
            self.say(console.list_line(stored))
        self.say(f"{len(found)} of {total} result(s).")
        memory = [info.alias for info in catalog.aliases() if not info.shared]
        if memory:
            self.stderr.write(
                f"Memory-store aliases ({', '.join(memory)}) keep their results in "
                "the processes that enqueued them: not listed here."
            )

    def handle_show(self, result_id: str, **options: Any) -> None:
        for line in console.show_lines(_find(result_id)):
            self.say(line)

    def handle_retry(
        self, result_id: str, timeout: float | None, **options: Any
    ) -> None:
        _find(result_id)
        try:
            new = operations.retry(result_id)
        except operations.Refused as refused:
            raise CommandError(str(refused), returncode=1) from None
        self.say(f"Retried {result_id} as {new.id} (alias {new.backend}).")
        try:
            wait(new, timeout)
        except TimeoutError:
            raise CommandError(
                f"{new.id} is still {new.status} after {timeout} s.", returncode=1
            ) from None
        for line in console.outcome_lines(new):
            self.say(line)
        if new.status != "SUCCESSFUL":
            raise CommandError(f"{new.id} ended {new.status}.", returncode=1)

    def handle_cancel(self, result_id: str, **options: Any) -> None:
        _find(result_id)
        try:
            stored = operations.cancel(result_id)
        except operations.Refused as refused:
            raise CommandError(str(refused), returncode=1) from None
        self.say(f"Cancelled {stored.id}: {stored.status}, {stored.error_summary}")

    def handle_worker(self, aliases: list[str] | None, **options: Any) -> None:
        chosen = worker.database_aliases(aliases)
        worker.run(chosen, self.say)

    def handle_prune(
        self, older_than: float, aliases: list[str] | None, **options: Any
    ) -> None:
        if older_than < 0:
            raise CommandError("--older-than must be a number of days >= 0.")
        for alias, deleted in prune(older_than, aliases).items():
            self.say(f"{alias}: deleted {deleted} finished result(s).")


def _find(result_id: str) -> catalog.Stored:
    try:
        return catalog.find(result_id)
    except TaskResultDoesNotExist:
        shared = any(info.shared for info in catalog.aliases())
        where = "in the database" if shared else "here"
        raise CommandError(
            f"No task result {result_id} {where} (memory-store results live in "
            "the process that enqueued them).",
            returncode=1,
        ) from None
