"""How much clip a decoder accepts: frames, and frames × pixels (the decompression-bomb limit).

Both decoders check what the header declares before decoding anything, then count what they
actually decode (headers can lie, and some formats declare nothing) through a `DecodeBudget`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OptionsError
from ..images import DEFAULT_MAX_PIXELS
from .errors import TooManyFramesError, VideoTooLargeError

#: 10 s at 30 fps: what a chat bot styles in reasonable time.
DEFAULT_MAX_FRAMES = 300
#: Frames × width × height of the source. 1080p at 30 fps for 8 s, 720p for 18 s; 1.5 GB as RGB
#: if nothing is scaled while decoding.
DEFAULT_MAX_TOTAL_PIXELS = 500_000_000


@dataclass(frozen=True)
class VideoLimits:
    """The limits a clip is decoded under. `max_frame_pixels` is the still-image limit, per frame."""

    max_frames: int = DEFAULT_MAX_FRAMES
    max_total_pixels: int = DEFAULT_MAX_TOTAL_PIXELS
    max_frame_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        for name in ("max_frames", "max_total_pixels", "max_frame_pixels"):
            if getattr(self, name) < 1:
                raise OptionsError(f"{name} must be at least 1, not {getattr(self, name)}")

    def check_declared(self, label: str, width: int, height: int, frames: int | None, *, truncate: bool) -> None:
        """Refuse a clip from its header alone: `frames` is the declared (or estimated) frame count,
        None when the header does not say. With `truncate`, only the first `max_frames` count."""
        self.check_frame_size(label, width, height)
        if frames is None:
            return
        if frames > self.max_frames and not truncate:
            raise TooManyFramesError(f"{label} has {frames:,} frames; the limit is {self.max_frames:,}.")
        kept = min(frames, self.max_frames)
        if kept * width * height > self.max_total_pixels:
            raise VideoTooLargeError(
                f"{label} is {width}×{height} × {kept:,} frames = {kept * width * height:,} pixels; "
                f"the limit is {self.max_total_pixels:,}."
            )

    def budget(self, label: str, *, truncate: bool) -> DecodeBudget:
        """A counter for one decode, enforcing the same limits on the frames actually decoded."""
        return DecodeBudget(self, label, truncate)

    def check_frame_size(self, label: str, width: int, height: int) -> None:
        """Refuse a single frame over the still-image pixel limit."""
        if width * height > self.max_frame_pixels:
            raise VideoTooLargeError(
                f"{label} is {width}×{height} = {width * height:,} pixels a frame; "
                f"the limit is {self.max_frame_pixels:,}."
            )


class DecodeBudget:
    """Counts decoded frames and pixels; `admit` says whether the next frame may be kept."""

    def __init__(self, limits: VideoLimits, label: str, truncate: bool) -> None:
        self.limits = limits
        self.label = label
        self.truncate = truncate
        self.frames = 0
        self.pixels = 0

    def admit(self, width: int, height: int) -> bool:
        """Account for a decoded frame of width×height. False: the frame limit is reached and the
        caller asked to truncate, so stop. Raises when the clip is over a limit."""
        limits = self.limits
        if self.frames >= limits.max_frames:
            if self.truncate:
                return False
            raise TooManyFramesError(f"{self.label} has more than {limits.max_frames:,} frames; that is the limit.")
        limits.check_frame_size(self.label, width, height)
        if self.pixels + width * height > limits.max_total_pixels:
            raise VideoTooLargeError(
                f"{self.label} decodes to more than {limits.max_total_pixels:,} pixels (frames × width × height); "
                "that is the limit."
            )
        self.frames += 1
        self.pixels += width * height
        return True
