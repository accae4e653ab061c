"""Estimating how long jobs take, from how long the finished ones took on this worker."""

from __future__ import annotations

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
