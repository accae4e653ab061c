"""Estimating how long jobs take, from how long the finished ones took (the ledger combines these into ETAs)."""

from __future__ import annotations

from bot.core.job import Job
from bot.core.params import JobParams
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
