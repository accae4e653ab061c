"""Estimating how long jobs take, from how long the finished ones took on this worker."""

from __future__ import annotations

from collections.abc import Callable

from .jobs import JobParams

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

    def estimate(self, params: JobParams) -> float | None:
        if self.seconds_per_unit is None:
            return None
        return self.seconds_per_unit * self._units(params.iterations, params.size)


def queue_eta(job_id: str, running: list[str], waiting: list[str], workers: int,
              remaining: Callable[[str], float | None]) -> float | None:
    """Seconds until a waiting job is done: the running jobs and those ahead of it, shared by the workers.

    None when any of them has no estimate yet, or the job is not waiting.
    """
    if job_id not in waiting:
        return None
    total = 0.0
    for other in [*running, *waiting[: waiting.index(job_id) + 1]]:
        part = remaining(other)
        if part is None:
            return None
        total += part
    own = remaining(job_id) or 0.0
    # With several workers the work ahead is shared; the job's own run is not.
    return (total - own) / max(1, workers) + own
