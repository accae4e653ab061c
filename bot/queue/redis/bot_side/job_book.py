"""The bot side's book of jobs past its waiting line: those a worker holds, those finished, those dropped,
and tallies of what happened to them.

The dispatcher adds to it, the event reader moves jobs along it, and `put` and `cancel` consult it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.queue.messages import WorkItem


@dataclass
class Following:
    """A job a worker holds (dispatched or running), as far as this bot has heard."""

    item: WorkItem | None
    started: bool = False
    attempt: int = 0
    worker: str | None = None


@dataclass
class Counters:
    """What this queue saw, for tests and the benchmark (the ledger keeps the real metrics)."""

    dispatched: int = 0
    events: int = 0
    duplicates_dropped: int = 0
    stale_dropped: int = 0
    dispatched_at: dict[str, float] = field(default_factory=dict)


@dataclass
class JobBook:
    following: dict[str, Following] = field(default_factory=dict)
    """Jobs in the stream or on a worker, in dispatch order."""
    finished: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    """Cancelled while waiting: the ledger finished them itself, so their events are not passed on."""
    counters: Counters = field(default_factory=Counters)

    def unstarted(self) -> list[str]:
        """Dispatched jobs no worker has started yet: to the ledger they are still waiting."""
        return [job_id for job_id, job in self.following.items() if not job.started]

    def running(self) -> list[str]:
        return [job_id for job_id, job in self.following.items() if job.started]
