"""Small records the engine hands to its callers: a progress tick and a finished result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL import Image

    from .options import StyleOptions


@dataclass(frozen=True)
class Progress:
    """One progress tick. Sent from the engine's thread; receivers must copy, not keep, large data."""

    iteration: int
    """Iterations done so far, over all scales (1-based after the first step). In a tiled scale an
    iteration is done when every tile has taken its step, so several ticks may share one count."""
    total: int
    """Iterations planned over all scales: `StyleOptions.iterations`, unless a time budget cut the plan."""
    scale: int
    """Index of the current scale, 0-based."""
    scales: int
    """Number of scales in the coarse-to-fine schedule."""
    width: int
    height: int
    loss: float
    content_loss: float
    style_loss: float
    elapsed: float
    """Seconds since the job started (model already loaded)."""
    eta: float | None
    """Estimated seconds left; None until an estimate exists."""
    preview: Image.Image | None = None
    """The current image at the current scale's size, when a preview was due."""
    tile: int = 0
    """In a tiled scale, the tile just stepped (0-based)."""
    tiles: int = 1
    """Tiles the current scale is optimised in; 1: whole. A tiled scale reports every tile's step."""


StopReason = Literal["finished", "deadline"]


@dataclass(frozen=True)
class StyleResult:
    image: Image.Image
    """RGB output at full size."""
    options: StyleOptions
    """The options actually used: defaults resolved, seed filled in."""
    iterations: int
    """Iterations actually run."""
    elapsed: float
    stopped: StopReason
    """"deadline" when max_seconds cut the run short: the image is the best one so far."""
    loss: float
    content_loss: float
    style_loss: float
    device: str
    frames: tuple[Image.Image, ...] = ()
    """Timelapse frames (options.timelapse_frames of them, at most 512 px), first the start, last the result."""

    @property
    def stopped_early(self) -> bool:
        return self.stopped != "finished"
