"""Estimating how long jobs take, from how long the finished ones took (the ledger combines these into ETAs)."""

from __future__ import annotations

from bot.core.job import Job
from bot.core.params import JobParams
from bot.queue.messages import WorkProgress

#: Weight of the newest job in the running average.
SMOOTHING = 0.3


class EtaModel:
    """Seconds per unit of work, averaged over finished jobs; unknown until one finishes. A unit is an
    iteration on a megapixel. Clips are averaged apart from stills: a clip counts its first frame's iterations
    once per frame, and its later frames take far fewer (the engine's own rule), which their rate absorbs."""

    def __init__(self) -> None:
        self.seconds_per_unit: dict[bool, float] = {}
        """By kind: True for clips, False for stills."""

    @staticmethod
    def _units(iterations: int, size: int, frames: int) -> float:
        # The output's longest side is `size`; a square is the worst case, so estimates err long.
        return iterations * frames * (size * size) / 1e6

    def learn(self, *, iterations: int, size: int, elapsed: float, frames: int = 1) -> None:
        """A job took `elapsed` s: `iterations` at `size` px (a clip's: its first frame's), over `frames` frames."""
        units = self._units(iterations, size, frames)
        if units <= 0 or elapsed <= 0:
            return
        rate = elapsed / units
        previous = self.seconds_per_unit.get(frames > 1)
        self.seconds_per_unit[frames > 1] = rate if previous is None else SMOOTHING * rate + (1 - SMOOTHING) * previous

    def remaining(self, job: Job, progress: WorkProgress | None, now: float) -> float | None:
        """Seconds left for a queued or running job: the worker's own estimate, else the model's."""
        if progress is not None and progress.eta is not None:
            return progress.eta
        estimate = self.estimate(job.params)
        if estimate is None or job.started_at is None:
            return estimate
        return max(0.0, estimate - (now - job.started_at))

    def estimate(self, params: JobParams) -> float | None:
        rate = self.seconds_per_unit.get(params.clip)
        return None if rate is None else rate * self._units(params.iterations, params.size, params.frames)
