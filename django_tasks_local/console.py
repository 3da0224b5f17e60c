"""What ``manage.py tasks_local`` prints: the state of each alias, lists of
results and everything one result holds, as plain text for people, cron mail
and logs."""

from __future__ import annotations

from datetime import datetime

from django.tasks.base import TaskResult

from .catalog import AliasState, Stored
from .templatetags.tasks_local import ago, as_json, duration


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(sep=" ", timespec="milliseconds")


def status_lines(state: AliasState, now: datetime) -> list[str]:
    """One alias: counts, processes and problems."""
    info = state.info
    head = f"{info.alias} ({info.backend}, {info.store} store)"
    if not info.shared:
        return [
            f"{head}: results live in the memory of the process that enqueued "
            "them; a command sees none of them (the admin of a web process shows "
            "its own)."
        ]
    lines = [
        f"{head}: {state.ready} ready, {state.running} running, "
        f"{state.deferred} deferred; finished {state.finished_minute} in the last "
        f"minute, {state.finished_hour} in the last hour (failed "
        f"{state.failed_minute} and {state.failed_hour}); "
        f"{len(state.live_workers)} live process(es)"
    ]
    for worker in state.workers:
        health = (
            "alive" if worker.alive else f"silent past its lease ({worker.lease:g} s)"
        )
        lines.append(
            f"  process {worker.process_id}: last heartbeat "
            f"{ago(worker.heartbeat_at, now)}, {health}"
        )
    lines += [f"  PROBLEM: {problem}" for problem in state.problems]
    return lines


def list_line(stored: Stored) -> str:
    """One result on one line."""
    outcome = ""
    if stored.status == "FAILED":
        outcome = stored.error_summary
    elif stored.status == "SUCCESSFUL":
        outcome = repr(stored.return_value)
    line = (
        f"{stored.id}  {stored.status:<10} {stored.alias:<10} {stored.queue_name:<10} "
        f"{stored.task_path}  enqueued {_time(stored.enqueued_at)}  "
        f"attempts {stored.attempts}"
    )
    return f"{line}  {outcome}" if outcome else line


def show_lines(stored: Stored) -> list[str]:
    """Everything a result holds."""
    waited = ran = None
    if stored.enqueued_at and stored.started_at:
        waited = (stored.started_at - stored.enqueued_at).total_seconds()
    if stored.last_attempted_at and stored.finished_at:
        ran = (stored.finished_at - stored.last_attempted_at).total_seconds()
    lines = [
        f"id:            {stored.id}",
        f"task:          {stored.task_path}",
        f"alias:         {stored.alias} ({stored.store} store)",
        f"queue:         {stored.queue_name}",
        f"priority:      {stored.priority}",
        f"status:        {stored.status}",
        f"run after:     {_time(stored.run_after)}",
        f"enqueued at:   {_time(stored.enqueued_at)}",
        f"started at:    {_time(stored.started_at)}"
        + (f" (waited {duration(waited)})" if waited is not None else ""),
        f"last attempt:  {_time(stored.last_attempted_at)}",
        f"finished at:   {_time(stored.finished_at)}"
        + (f" (ran {duration(ran)})" if ran is not None else ""),
        f"attempts:      {stored.attempts}",
        f"worker ids:    {', '.join(stored.worker_ids) or '-'}",
    ]
    if stored.claimed_by:
        lines.append(
            f"claimed by:    {stored.claimed_by} (lease until "
            f"{_time(stored.lease_expires_at)})"
        )
    if stored.retried_as:
        lines.append(f"retried as:    {', '.join(stored.retried_as)}")
    lines += [
        "args:",
        _indent(as_json(stored.args)),
        "kwargs:",
        _indent(as_json(stored.kwargs)),
    ]
    if stored.status == "SUCCESSFUL":
        lines += ["return value:", _indent(as_json(stored.return_value))]
    lines += ["metadata:", _indent(as_json(stored.metadata))]
    for number, error in enumerate(stored.errors, 1):
        lines += [
            f"error {number}: {error.exception_class_path}",
            _indent(error.traceback.rstrip()),
        ]
    return lines


def outcome_lines(result: TaskResult) -> list[str]:
    """How a finished task ended: its return value, or its last error."""
    lines = [f"{result.id}: {result.status}"]
    if result.status == "SUCCESSFUL":
        lines += ["return value:", _indent(as_json(result.return_value))]
    elif result.errors:
        error = result.errors[-1]
        lines.append(f"error: {error.exception_class_path}")
        lines.append(_indent(error.traceback.rstrip()))
    return lines


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
