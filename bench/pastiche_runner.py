"""Runs the competitor, pastiche, through its own Python API with its own defaults."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from pastiche.pastiche import PasticheArtist, save_image
from PIL import Image

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class PasticheRun:
    image: Image.Image
    setup_seconds: float
    """Model load, target computation and the warm-up steps."""
    loop_seconds: float
    """The timed optimisation steps alone (`steps` of them, after the untimed warm-up steps)."""
    steps: int


def run_pastiche(
    content: Path, style: Path, *, size: int, steps: int, device: str = "cpu", workdir: Path, warmup: int = 0
) -> PasticheRun:
    """`warmup` steps run before the timed `steps` and are not counted, as the speed benchmarks leave out
    stylecore's first iterations (one-off costs: kernels, allocations, cudnn's algorithm search)."""
    torch.manual_seed(0)
    start = time.perf_counter()
    # Everything but the size at pastiche's defaults (L-BFGS, its layer weights, tv 0).
    artist = PasticheArtist(str(content), [str(style)], device=device, size=size, style_weights=[1.0])
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    for _ in range(warmup):
        artist.draw()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    setup = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        artist.draw()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    loop = time.perf_counter() - start
    path = workdir / "pastiche.png"
    save_image(artist.pastiche, str(path))
    return PasticheRun(Image.open(path).convert("RGB"), setup, loop, steps)
