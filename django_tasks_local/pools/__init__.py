"""Pools: the strategies that run jobs, behind one small interface.

A pool is made with the alias's scheduler and a ``Reporter``, pulls a ``Job`` from the
scheduler only when one of its workers is free, and tells the reporter when each
job really started and how it ended. Everything above (store, signals, Django) is
shared by every pool, so a new one (say, an executor of a cluster engine) needs
only these methods.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..execution import Outcome
from ..jobs import Job
from ..options import PoolOptions
from ..scheduler import Scheduler


class Reporter(Protocol):
    """Where a pool reports. Called from the pool's threads, never under a lock."""

    def started(self, job: Job, started_at: float, worker_id: str) -> None:
        """A worker began ``job`` at ``started_at`` (epoch seconds)."""

    def saved_metadata(self, job: Job, raw: dict[str, Any]) -> None:
        """``job``, running, saved its metadata (reserved keys included)."""

    def finished(self, job: Job, outcome: Outcome, worker_id: str | None) -> None:
        """``job`` ended as ``outcome`` on ``worker_id`` (None: no worker ran it,
        e.g. it could not be sent to one)."""


class Pool(Protocol):
    def __init__(
        self, name: str, options: PoolOptions, scheduler: Scheduler, reporter: Reporter
    ) -> None: ...

    def start(self) -> None:
        """Start the workers. Called once, on the alias's first enqueue."""

    def stop(self, timeout: float | None = None) -> None:
        """Stop the workers once the scheduler is stopped; return when they have."""
