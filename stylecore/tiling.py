"""Tiles for images larger than the device holds: the grid, the feather weights, the memory model and
the `auto` decision.

A scale that does not fit is optimised one window at a time. Each window is a core of the grid grown
by OVERLAP into its neighbours, and the network sees it with MARGIN more pixels of context around it,
so the features inside a window are the ones the whole image would give. Tile edges sit on multiples
of ALIGN, so every VGG layer's grid lines up with the whole image's.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .options import MIN_TILE

#: VGG-19 pools four times before relu5_1: edges on multiples of 16 keep all five grids aligned.
ALIGN = 16
#: Context around a window. A core sees OVERLAP + MARGIN = 64 px of it, which keeps the gradient over
#: a core within 2% of the whole image's (64 px of margin: 0.6%, for 14% more pixels through the
#: network at 1024 px in 2x2 tiles; 16 px: 5%).
MARGIN = 32
#: How far a window reaches into each neighbour (at most a quarter of the tile); its feather ramp
#: spans twice this.
OVERLAP = 32
#: Of the memory reported free, the share a job may plan to use (the rest: other processes, fragmentation).
FREE_SHARE = 0.8

#: Memory model: bytes per pixel of an optimised image (the untiled run, or one tile's padded window):
#: the image, its gradient, L-BFGS's 20 history pairs (480 B) and the VGG activations autograd keeps
#: up to relu5_1. Measured as the growth of peak memory over a few iterations, fitted over sizes
#: (bench/highres.py prints it again): CPU fp32 3.1 KB/px (peak RSS, 256-1024 px); H100 bf16
#: 2.0 KB/px (8.4 GiB at 2048²). CPU bf16 and CUDA fp32 are scaled from those by the activations' width.
BYTES_PER_PIXEL = {
    ("cpu", "fp32"): 3200,
    ("cpu", "bf16"): 2400,
    ("cuda", "fp32"): 3300,
    ("cuda", "bf16"): 2100,
    ("mps", "fp32"): 3300,
}
#: Per pixel of the whole image when tiled: the image, its content and the window's backup, in float32
#: (64 B), and the content targets kept between visits (tiled.KEEP_CONTENT_BYTES_PER_PIXEL per pixel
#: through the network, about 1.2 per image pixel).
BYTES_PER_IMAGE_PIXEL = 104
#: The network's weights and the style targets, which do not grow with the image.
FIXED_BYTES = 400 * 2**20


@dataclass(frozen=True)
class Box:
    """Rows y0:y1 and columns x0:x1 of an image."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def area(self) -> int:
        return self.height * self.width

    def grown(self, by: int, height: int, width: int) -> Box:
        return Box(max(0, self.y0 - by), min(height, self.y1 + by), max(0, self.x0 - by), min(width, self.x1 + by))

    def within(self, outer: Box) -> Box:
        """This box in the coordinates of `outer`, which contains it."""
        return Box(self.y0 - outer.y0, self.y1 - outer.y0, self.x0 - outer.x0, self.x1 - outer.x0)

    def on_grid(self, stride: int) -> Box:
        """The feature positions of a layer with this stride (ceil: VGG pools with ceil_mode)."""
        return Box(self.y0 // stride, -(-self.y1 // stride), self.x0 // stride, -(-self.x1 // stride))


@dataclass(frozen=True)
class Tile:
    core: Box
    """The grid cell: cores partition the image."""
    window: Box
    """The core grown by OVERLAP: the pixels this tile optimises."""
    padded: Box
    """The window grown by MARGIN: what the network sees."""


@dataclass(frozen=True)
class TileGrid:
    height: int
    width: int
    tiles: tuple[Tile, ...]
    overlap: int

    @property
    def pixels_per_pass(self) -> int:
        """Pixels the network sees when every tile takes one step: the cost of one tiled iteration."""
        return sum(t.padded.area for t in self.tiles)

    def feather(self, tile: Tile) -> torch.Tensor:
        """(1, 1, h, w) weights over `tile.window`: 1 inside, a linear ramp across each shared edge.

        Where two windows overlap, the ramps cross at the cores' common edge, each at 0.5.
        """
        w = tile.window
        rows = _ramp(w.height, 2 * self.overlap, tile.core.y0 > 0, tile.core.y1 < self.height)
        cols = _ramp(w.width, 2 * self.overlap, tile.core.x0 > 0, tile.core.x1 < self.width)
        return (rows[:, None] * cols[None, :])[None, None]


def tile_grid(height: int, width: int, tile: int) -> TileGrid:
    """Cores of at most about `tile` pixels a side (edges on multiples of ALIGN), with their windows."""
    ys, xs = _cuts(height, tile), _cuts(width, tile)
    overlap = min(OVERLAP, tile // 4)
    tiles = []
    for y0, y1 in itertools.pairwise(ys):
        for x0, x1 in itertools.pairwise(xs):
            core = Box(y0, y1, x0, x1)
            window = core.grown(overlap, height, width)
            padded = window.grown(MARGIN, height, width)
            # Its top-left corner on the grid too, so the network's pooling lines up with the whole image's.
            padded = Box(padded.y0 // ALIGN * ALIGN, padded.y1, padded.x0 // ALIGN * ALIGN, padded.x1)
            tiles.append(Tile(core, window, padded))
    return TileGrid(height, width, tuple(tiles), overlap)


def estimate_bytes(width: int, height: int, device: torch.device, precision: str) -> int:
    """Peak memory of an untiled job at this size: FIXED_BYTES plus BYTES_PER_PIXEL per pixel."""
    return FIXED_BYTES + _bytes_per_pixel(device, precision) * width * height


def estimate_tiled_bytes(grid: TileGrid, device: torch.device, precision: str) -> int:
    """Peak memory when `grid` tiles the image: the largest window's run plus the whole image's tensors."""
    largest = max(t.padded.area for t in grid.tiles)
    whole = BYTES_PER_IMAGE_PIXEL * grid.height * grid.width
    return FIXED_BYTES + _bytes_per_pixel(device, precision) * largest + whole


def choose_tile(width: int, height: int, device: torch.device, precision: str, budget: int) -> int | None:
    """None when the untiled job fits `budget` bytes; else the largest tile whose job fits.

    When even the smallest tile would not fit, the smallest: the run may still succeed, and the
    out-of-memory error is the honest answer if it does not.
    """
    if estimate_bytes(width, height, device, precision) <= budget:
        return None
    tile = _round_up(max(width, height), ALIGN)
    while tile > MIN_TILE:
        if estimate_tiled_bytes(tile_grid(height, width, tile), device, precision) <= budget:
            return tile
        tile = max(MIN_TILE, min(tile - ALIGN, int(tile * 0.8) // ALIGN * ALIGN))  # shrinks every time
    return MIN_TILE


def free_bytes(device: torch.device) -> int | None:
    """Memory a job may plan on: FREE_SHARE of what is free now; None where that cannot be told."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        # PyTorch's cache holds memory that is free to us but not to the driver.
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int((free + cached) * FREE_SHARE)
    if device.type == "cpu":
        available = _mem_available()
        return None if available is None else int(available * FREE_SHARE)
    return None


def _mem_available() -> int | None:
    """The kernel's estimate of memory available without swapping (Linux), else free physical pages."""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _bytes_per_pixel(device: torch.device, precision: str) -> int:
    return BYTES_PER_PIXEL.get((device.type, precision), max(BYTES_PER_PIXEL.values()))


def _cuts(length: int, tile: int) -> list[int]:
    """Edges of ceil(length / tile) near-equal parts, inner edges on the nearest multiple of ALIGN."""
    parts = max(1, math.ceil(length / tile))
    inner = {round(i * length / parts / ALIGN) * ALIGN for i in range(1, parts)}
    return [0, *sorted(c for c in inner if 0 < c < length), length]


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _ramp(length: int, ramp: int, fade_in: bool, fade_out: bool) -> torch.Tensor:
    """Weights along one axis of a window: linear over `ramp` pixels at edges shared with a neighbour."""
    position = torch.arange(length, dtype=torch.float32) + 0.5
    weight = torch.ones(length)
    if fade_in:
        weight = torch.minimum(weight, position / ramp)
    if fade_out:
        weight = torch.minimum(weight, (length - position) / ramp)
    return weight
