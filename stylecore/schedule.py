"""The coarse-to-fine plan: which sizes to optimise at, and how many iterations each gets.

Low-resolution iterations are cheap (cost grows with pixels) and settle the large-scale structure of
the style; the last scale adds detail. So most iterations run small, fewer at full size.
"""

from __future__ import annotations

from dataclasses import dataclass

#: No scale is smaller than this on its longest side: VGG's deepest style layers need some room.
MIN_SCALE_SIZE = 128


@dataclass(frozen=True)
class Scale:
    longest_side: int
    iterations: int


def plan_scales(size: int, iterations: int, multiscale: bool = True, above: int = 0) -> list[Scale]:
    """Sizes double up to `size`; the first scale gets twice the share of each later one.

    `above`: only scales larger than this (upscaling a result of that size); the last scale always runs.
    """
    sides = [size]
    if multiscale:
        while sides[0] // 2 >= MIN_SCALE_SIZE:
            sides.insert(0, sides[0] // 2)
    sides = [side for side in sides[:-1] if side > above] + [size]
    shares = [2.0] + [1.0] * (len(sides) - 1)
    counts = _split(iterations, shares)
    plan = [Scale(side, count) for side, count in zip(sides, counts, strict=True) if count > 0]
    return plan or [Scale(size, iterations)]


def fit_to_time(
    plan: list[Scale], seconds_left: float, seconds_per_pixel_iteration: float, pixels: list[int]
) -> list[Scale]:
    """Shrink the remaining scales' iterations, keeping their proportions, so they fit `seconds_left`.

    `pixels`: what one iteration of each scale costs, in pixels through the network (a tiled scale's
    tiles with their context). Each scale keeps at least one iteration (unless it had none left), so
    the full-size scale is always reached. The time that rounding down leaves over goes back to the
    scales that lost the most (never past their planned count): call it with the original plan each
    time, not a fitted one.
    """
    costs = [p * seconds_per_pixel_iteration for p in pixels]
    needed = sum(c * s.iterations for c, s in zip(costs, plan, strict=True))
    if needed <= seconds_left or needed <= 0:
        return plan
    factor = max(seconds_left, 0.0) / needed
    exact = [s.iterations * factor for s in plan]
    counts = [min(s.iterations, max(1, int(e))) for s, e in zip(plan, exact, strict=True)]
    spare = seconds_left - sum(c * n for c, n in zip(costs, counts, strict=True))
    while fits := [i for i in range(len(plan)) if counts[i] < plan[i].iterations and costs[i] <= spare]:
        most_short = max(fits, key=lambda i: exact[i] - counts[i])
        counts[most_short] += 1
        spare -= costs[most_short]
    return [Scale(s.longest_side, n) for s, n in zip(plan, counts, strict=True)]


def _split(total: int, shares: list[float]) -> list[int]:
    """Integer parts of `total` proportional to `shares`, summing to `total` (largest remainders)."""
    whole = sum(shares)
    exact = [total * s / whole for s in shares]
    counts = [int(e) for e in exact]
    order = sorted(range(len(shares)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts
