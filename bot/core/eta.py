"""Estimating how long jobs take, from how long the finished ones took on this worker."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.job import Job, JobState
from bot.core.live import LiveJob
from bot.core.params import JobParams
from bot.queue.interface import JobQueue
from bot.queue.messages import WorkProgress

#: Weight of the newest job in the running average.
SMOOTHING = 0.3


class EtaModel:
    """Seconds per iteration per megapixel, averaged over finished jobs. Unknown until one finishes."""

    def __init__(self) -> None:
        self.seconds_per_unit: float | None = None

    @staticmethod
    def _units(iterations: int, size: int) -> float:
        # The output's longest side is `size`; a square is the worst case, so estimates err long.
        return iterations * (size * size) / 1e6

    def learn(self, *, iterations: int, size: int, elapsed: float) -> None:
        units = self._units(iterations, size)
        if units <= 0 or elapsed <= 0:
            return
        rate = elapsed / units
        previous = self.seconds_per_unit
        self.seconds_per_unit = rate if previous is None else SMOOTHING * rate + (1 - SMOOTHING) * previous

    def remaining(self, job: Job, progress: WorkProgress | None, now: float) -> float | None:
        """Seconds left for a queued or running job: the worker's own estimate, else the model's."""
        if progress is not None and progress.eta is not None:
            return progress.eta
        estimate = self.estimate(job.params)
        if estimate is None or job.started_at is None:
            return estimate
        return max(0.0, estimate - (now - job.started_at))

    def estimate(self, params: JobParams) -> float | None:
        if self.seconds_per_unit is None:
            return None
        return self.seconds_per_unit * self._units(params.iterations, params.size)


def job_eta(job_id: str, live: Mapping[str, LiveJob], queue: JobQueue, durations: EtaModel, now: float) -> float | None:
    """Seconds until a job is done: its own remaining time, plus, while it waits, the running jobs' and
    those ahead of it, shared by the workers. None while any of them has no estimate yet."""

    def remaining(other: str) -> float | None:
        held = live.get(other)
        return durations.remaining(held.job, held.progress, now) if held else None

    held = live.get(job_id)
    if held is None or held.job.state is JobState.RUNNING:
        return remaining(job_id)
    waiting = queue.waiting()
    if job_id not in waiting:
        return None
    total = 0.0
    for other in [*queue.running(), *waiting[: waiting.index(job_id) + 1]]:
        part = remaining(other)
        if part is None:
            return None
        total += part
    own = remaining(job_id) or 0.0
    # With several workers the work ahead is shared; the job's own run is not.
    return (total - own) / max(1, queue.workers_online()) + own
