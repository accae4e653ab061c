"""The clip model: frames with their timing, and the marker for a picture that does not move."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from PIL import Image

from ..errors import OptionsError
from ..images import resize_to

#: Where a clip came from: detected from the file's content, never from its name.
ClipFormat = Literal["gif", "webp", "mp4", "mov", "webm"]


@dataclass(frozen=True)
class Clip:
    """The frames of a moving picture, as a viewer shows them, with each frame's duration.

    `frames` are 8-bit RGB images of one size. `durations[i]` is how long frame i shows, in seconds
    (exact fractions: GIF's 1/100 s, a video's time base). Variable frame rate is kept as it is:
    nothing here assumes an average rate. `plays` is how many times an animation plays (0: forever),
    None for videos, which carry no loop count. Audio is never part of a clip.
    """

    frames: tuple[Image.Image, ...]
    durations: tuple[Fraction, ...]
    source_format: ClipFormat
    plays: int | None = None

    def __post_init__(self) -> None:
        if not self.frames:
            raise OptionsError("a clip needs at least one frame")
        if len(self.durations) != len(self.frames):
            raise OptionsError(f"a clip needs one duration per frame ({len(self.frames)}), not {len(self.durations)}")
        if any(duration <= 0 for duration in self.durations):
            raise OptionsError("every frame of a clip must show for a positive time")
        size = self.frames[0].size
        if any(frame.size != size or frame.mode != "RGB" for frame in self.frames):
            raise OptionsError(f"a clip's frames must all be RGB images of {size[0]}×{size[1]}")
        if self.plays is not None and self.plays < 0:
            raise OptionsError(f"plays must be 0 (forever) or positive, not {self.plays}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of every frame."""
        return self.frames[0].size

    @property
    def duration(self) -> Fraction:
        """The whole clip's length in seconds."""
        return sum(self.durations, Fraction(0))

    @property
    def timestamps(self) -> tuple[Fraction, ...]:
        """When each frame starts, in seconds from the first frame."""
        return (Fraction(0), *itertools.accumulate(self.durations[:-1]))

    def resized(self, longest_side: int) -> Clip:
        """The clip scaled like a still (`--size`): the longer side becomes `longest_side` pixels."""
        return self.with_frames([resize_to(frame, longest_side) for frame in self.frames])

    def with_frames(self, frames: list[Image.Image] | tuple[Image.Image, ...]) -> Clip:
        """New pictures (a stylised clip, say) with this clip's timing, source and loop count."""
        return Clip(tuple(frames), self.durations, self.source_format, self.plays)


@dataclass(frozen=True)
class Still:
    """What `load_clip` returns for a picture that does not move (a one-frame GIF or WebP, or any
    still image): the caller takes the still-image path with `image`, an RGB image."""

    image: Image.Image
