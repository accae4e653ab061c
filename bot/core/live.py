"""A job while the ledger holds it: its record, plus what only matters while it is queued or running."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from bot.core.job import Job, JobState, Snapshot
from bot.queue.messages import WorkProgress, WorkRetry

MOVED_NOTE = "Moved to another worker (the first one stopped responding); started again."


@dataclass(eq=False)
class LiveJob:
    job: Job
    finished: asyncio.Future[JobState] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    announced: bool = False
    """Its card may be shown: until then changes are not told (the owner's private reply comes first)."""
    progress: WorkProgress | None = None
    preview: bytes | None = None
    note: str | None = None
    """Something the owner should know: a retry at a smaller size, a move to another worker."""
    restarted: bool = False
    counted_iterations: int = 0
    """Iterations of the current attempt already added to the metrics."""
    counted_seconds: float = 0.0

    def snapshot(
        self, *, position: int | None = None, eta: float | None = None, result: bytes | None = None
    ) -> Snapshot:
        # The job is copied: the live one keeps changing while the publisher renders this moment.
        return Snapshot(
            job=replace(self.job),
            position=position,
            eta=eta,
            progress=self.progress,
            preview=self.preview,
            note=self.note,
            result=result,
            restarted=self.restarted,
        )

    def progressed(self, progress: WorkProgress) -> tuple[int, float]:
        """Take a report; the iterations and seconds it adds to the metrics (a repeated report adds none)."""
        done = progress.iteration - self.counted_iterations
        seconds = progress.elapsed - self.counted_seconds
        self.progress = progress
        if progress.preview is not None:
            self.preview = progress.preview
        if done <= 0:
            return 0, 0.0
        self.counted_iterations, self.counted_seconds = progress.iteration, progress.elapsed
        return done, seconds

    def restarting(self, note: str) -> None:
        """The job runs again from zero (smaller, or on another worker): that attempt counts afresh."""
        self.note = note
        self.counted_iterations, self.counted_seconds = 0, 0.0

    def retrying(self, retry: WorkRetry) -> None:
        self.restarting(retry.message)

    def moved(self) -> None:
        self.restarting(MOVED_NOTE)
        self.progress = None
