"""Tiled optimisation: the grid and its feathering, the memory model's `auto` decision, and tiled runs
against untiled ones on tiny images (quality by the referee, seams, progress, cancel, deadline)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from bench.referee import Referee
from stylecore import Cancelled, Progress, StyleOptions, load_image
from stylecore.job import StyleJob
from stylecore.tiled import WindowObjective
from stylecore.tiling import (
    ALIGN,
    FREE_SHARE,
    Box,
    choose_tile,
    estimate_bytes,
    estimate_tiled_bytes,
    tile_grid,
)

if TYPE_CHECKING:
    from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CPU = torch.device("cpu")
# 96x64 in 3x2 tiles of about 32 px: an image three tiles wide.
TILED = StyleOptions(size=96, iterations=18, multiscale=False, seed=3, tile=32)


def test_cores_partition_the_image_on_the_alignment_grid() -> None:
    grid = tile_grid(700, 1000, 300)
    assert len(grid.tiles) == 3 * 4
    covered = np.zeros((700, 1000), dtype=int)
    for tile in grid.tiles:
        c, w, p = tile.core, tile.window, tile.padded
        covered[c.y0 : c.y1, c.x0 : c.x1] += 1
        for edge, end in ((c.y0, 700), (c.y1, 700), (c.x0, 1000), (c.x1, 1000)):
            assert edge % ALIGN == 0 or edge == end
        assert p.y0 <= w.y0 <= c.y0 < c.y1 <= w.y1 <= p.y1 and p.x0 <= w.x0 <= c.x0 < c.x1 <= w.x1 <= p.x1
        assert p.y0 % ALIGN == 0 and p.x0 % ALIGN == 0
    assert (covered == 1).all()


def test_feather_weights_cross_at_the_shared_edge_and_sum_to_one() -> None:
    grid = tile_grid(64, 256, 128)
    left, right = grid.tiles
    wl, wr = grid.feather(left)[0, 0], grid.feather(right)[0, 0]
    assert wl[:, 0].eq(1).all() and wr[:, -1].eq(1).all()  # image borders are not faded
    total = torch.zeros(64, 256)
    total[:, left.window.x0 : left.window.x1] += wl
    total[:, right.window.x0 : right.window.x1] += wr
    torch.testing.assert_close(total, torch.ones(64, 256))
    edge = left.core.x1
    assert wl[0, edge - left.window.x0 - 1] == pytest.approx(0.5, abs=0.05)


def test_auto_tiles_only_what_does_not_fit_the_budget() -> None:
    width, height = 4096, 2731
    untiled = estimate_bytes(width, height, CPU, "fp32")
    assert choose_tile(width, height, CPU, "fp32", untiled) is None
    tile = choose_tile(width, height, CPU, "fp32", 6 * 2**30)
    assert tile is not None and tile < width
    assert estimate_tiled_bytes(tile_grid(height, width, tile), CPU, "fp32") <= 6 * 2**30
    smaller = choose_tile(width, height, CPU, "fp32", 3 * 2**30)
    assert smaller is not None and smaller < tile
    assert estimate_bytes(1024, 1024, CPU, "bf16") < estimate_bytes(1024, 1024, CPU, "fp32")


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_a_4096_px_job_plans_within_a_24_gb_gpu(precision: str) -> None:
    # The budget: what `auto` plans on a 24 GB card (FREE_SHARE of it free), by the memory model.
    cuda = torch.device("cuda")
    budget = int(24 * 10**9 * FREE_SHARE)
    assert estimate_bytes(4096, 4096, cuda, precision) > budget  # untiled it would not fit
    tile = choose_tile(4096, 4096, cuda, precision, budget)
    assert tile is not None and tile >= 1024  # tiles large enough that the context costs little
    assert estimate_tiled_bytes(tile_grid(4096, 4096, tile), cuda, precision) <= budget


def test_auto_with_a_small_memory_budget_tiles_the_run(engine, content, style) -> None:
    ticks: list[Progress] = []
    small = estimate_bytes(96, 64, engine._device, engine.precision) // 2
    engine.memory_budget, saved = small, engine.memory_budget
    try:
        result = engine.stylize(
            content, [style], TILED.with_values(tile="auto", iterations=2, progress_every=1), progress=ticks.append
        )
    finally:
        engine.memory_budget = saved
    assert ticks[-1].tiles > 1
    assert result.image.size == (96, 64)


def test_a_windows_gradient_is_the_whole_images_over_its_core(engine, style) -> None:
    # 256x170 in 2x2 tiles: each core sees OVERLAP + MARGIN of context, not the whole image.
    options = StyleOptions(size=256, iterations=1, multiscale=False, seed=1).validated()
    job = StyleJob(engine.load(), CPU, None, load_image(EXAMPLES / "cat.png"), [style], options, None, None, None)
    size = (job.height, job.width)
    image = job._initial_image(size, None)
    whole = image.clone().requires_grad_(True)
    job._losses(size)(whole)[0].backward()
    grid = tile_grid(*size, 128)
    assert len(grid.tiles) == 4 and all(t.padded.area < image[0, 0].numel() for t in grid.tiles)
    objective = WindowObjective(
        model=engine.load(),
        options=options,
        grid=grid,
        content=job.optimised_content,
        style_targets=job._style_targets(size, None),
        layer_weights=job._layer_weights(),
        device=CPU,
        autocast_dtype=None,
        network_input=lambda t: t,
    )
    objective.measure(image)
    for tile in grid.tiles:
        window = objective.enter(tile, image).requires_grad_(True)
        objective(window)[0].backward()
        objective.leave()
        core, on_window = tile.core, tile.core.within(tile.window)
        expected = whole.grad[..., core.y0 : core.y1, core.x0 : core.x1]
        got = window.grad[..., on_window.y0 : on_window.y1, on_window.x0 : on_window.x1]
        assert float((got - expected).norm() / expected.norm()) < 0.03


def _untiled_and_tiled(engine, content, style) -> tuple[Image.Image, Image.Image]:
    untiled = engine.stylize(content, [style], TILED.with_values(tile="off")).image
    tiled = engine.stylize(content, [style], TILED).image
    return untiled, tiled


@pytest.fixture(scope="module")
def pair(engine, content, style) -> tuple[Image.Image, Image.Image]:
    return _untiled_and_tiled(engine, content, style)


def test_tiled_referee_errors_stay_within_5_percent_of_untiled(pair, content, style) -> None:
    untiled, tiled = pair
    referee = Referee()
    a, b = referee.score(untiled, content, style), referee.score(tiled, content, style)
    assert b.content_error <= 1.05 * a.content_error, (a, b)
    assert b.style_error <= 1.05 * a.style_error, (a, b)


def _edge_gradient_ratio(image: Image.Image, boxes: list[Box]) -> float:
    """Mean gradient magnitude across the tiles' core and window edges, over the mean elsewhere."""
    pixels = np.asarray(image, dtype=np.float64).mean(axis=2)
    dx, dy = np.abs(np.diff(pixels, axis=1)), np.abs(np.diff(pixels, axis=0))
    cols = {b.x0 for b in boxes} | {b.x1 for b in boxes}
    rows = {b.y0 for b in boxes} | {b.y1 for b in boxes}
    cols = sorted(c - 1 for c in cols if 0 < c < pixels.shape[1])
    rows = sorted(r - 1 for r in rows if 0 < r < pixels.shape[0])
    on = np.concatenate([dx[:, cols].ravel(), dy[rows, :].ravel()])
    off = np.concatenate([np.delete(dx, cols, axis=1).ravel(), np.delete(dy, rows, axis=0).ravel()])
    return on.mean() / off.mean()


def test_no_seams_along_tile_borders(pair) -> None:
    untiled, tiled = pair
    grid = tile_grid(64, 96, 32)
    boxes = [t.core for t in grid.tiles] + [t.window for t in grid.tiles]
    assert len(grid.tiles) == 6
    # A seam is a jump across the border: steeper gradients there than elsewhere in the image, and
    # than the untiled image has along the same lines.
    assert _edge_gradient_ratio(tiled, boxes) < 1.2
    assert _edge_gradient_ratio(tiled, boxes) < 1.1 * _edge_gradient_ratio(untiled, boxes)


def test_tiled_progress_reports_every_tile_step_and_counts_whole_iterations(engine, content, style) -> None:
    ticks: list[Progress] = []
    result = engine.stylize(
        content, [style], TILED.with_values(iterations=2, progress_every=1, preview_every=1), progress=ticks.append
    )
    # 2 iterations of 6 tiles: an iteration is done once every tile has stepped.
    assert [t.iteration for t in ticks] == [0] * 5 + [1] * 6 + [2]
    assert all(t.total == 2 and t.tiles == 6 for t in ticks) and result.iterations == 2
    assert sorted({t.tile for t in ticks}) == list(range(6))
    previews = [t for t in ticks if t.preview is not None]
    assert [t.iteration for t in previews] == [1, 2]
    assert previews[-1].preview.size == (96, 64) and ticks[-1].eta == pytest.approx(0.0, abs=1e-6)


def test_tiled_run_cancels_within_one_step(engine, content, style) -> None:
    cancel = threading.Event()
    seen: list[Progress] = []

    def progress(p: Progress) -> None:
        seen.append(p)
        if len(seen) == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        engine.stylize(
            content, [style], TILED.with_values(iterations=50, progress_every=1), progress=progress, cancel=cancel
        )
    assert len(seen) == 3 and seen[-1].tile == 0  # no further tile step after the cancel


def test_tiled_run_stops_at_the_deadline_with_a_full_size_image(engine, content, style) -> None:
    # Stopped by the deadline, not by the plan.
    result = engine.stylize(content, [style], TILED.with_values(iterations=10_000, max_seconds=2.0))
    assert result.stopped == "deadline" and result.iterations < 10_000
    assert result.image.size == (96, 64)
