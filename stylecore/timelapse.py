"""A timelapse of a run: frames kept during the job, and their encoding as an animated WebP or GIF."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .errors import OptionsError
from .images import resize_to

if TYPE_CHECKING:
    from PIL import Image

#: Frames are stored at most this size on their longest side: 48 of them take ~35 MB as RGB.
FRAME_SIDE = 512
#: Each frame shows this long; the last one stays up longer, so the result can be seen.
FRAME_MS = 100
LAST_FRAME_MS = 1500

TimelapseFormat = Literal["webp", "gif"]


class FrameKeeper:
    """Decides when a frame is due: `count` frames evenly spaced over the planned iterations, the first
    the starting image and the last the result. The plan may shrink (a deadline): spacing follows it."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.frames: list[Image.Image] = []
        self.kept_at: list[float] = []

    def due(self, done: float, total: int) -> bool:
        if not self.frames:
            return True
        if len(self.frames) >= self.count - 1:
            return False  # the last slot is the result's: see finish()
        return done >= round(len(self.frames) * total / (self.count - 1))

    def keep(self, frame: Image.Image, done: float) -> None:
        self.frames.append(frame)
        self.kept_at.append(done)

    def finish(self, frame: Image.Image, done: float) -> tuple[Image.Image, ...]:
        """Add the result as the last frame (unless it was just kept) and hand over all frames."""
        if not self.kept_at or self.kept_at[-1] != done:
            self.keep(frame, done)
        return tuple(self.frames)


@dataclass(frozen=True)
class EncodedTimelapse:
    data: bytes
    format: TimelapseFormat
    width: int
    height: int
    frames: int

    @property
    def extension(self) -> str:
        return self.format


def encode_timelapse(
    frames: tuple[Image.Image, ...] | list[Image.Image],
    *,
    max_bytes: int | None = None,
    format: TimelapseFormat | None = None,
) -> EncodedTimelapse:
    """Encode `frames` as an animated WebP or GIF, whichever is smaller (or the one `format` names).

    With `max_bytes`, the result fits: lossy WebP steps its quality down, then every encoding is tried
    with every other frame dropped, then at a smaller size, until one fits.
    """
    if not frames:
        raise OptionsError("a timelapse needs at least one frame")
    if format not in (None, "webp", "gif"):
        raise OptionsError(f"timelapse format must be webp or gif, not {format!r}")
    if max_bytes is not None and max_bytes < 1024:
        raise OptionsError(f"a byte budget under 1 KiB cannot hold a timelapse (got {max_bytes})")
    current = [frame.convert("RGB") for frame in frames]
    formats: tuple[TimelapseFormat, ...] = (format,) if format else ("webp", "gif")
    while True:
        best: EncodedTimelapse | None = None
        for quality in (80, 60, 40):
            for name in formats:
                if name == "gif" and quality != 80:
                    continue  # GIF has no quality setting
                data = _encode(current, name, quality)
                if best is None or len(data) < len(best.data):
                    best = EncodedTimelapse(data, name, *current[0].size, len(current))
            assert best is not None
            if max_bytes is None or len(best.data) <= max_bytes:
                return best
        if len(current) > 2:
            halved = current[::2]
            current = halved if len(current) % 2 else [*halved, current[-1]]  # the first and last stay
        elif max(current[0].size) > 16:
            side = max(16, int(max(current[0].size) * 0.7))
            current = [resize_to(frame, side) for frame in current]
        else:
            raise OptionsError(f"cannot fit the timelapse into {max_bytes} bytes")


def frame_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of the frames for an output of this size: at most FRAME_SIDE on the longest side."""
    scale = min(1.0, FRAME_SIDE / max(width, height))
    return max(1, math.floor(width * scale + 0.5)), max(1, math.floor(height * scale + 0.5))


def _encode(frames: list[Image.Image], format: TimelapseFormat, quality: int) -> bytes:
    durations = [FRAME_MS] * (len(frames) - 1) + [LAST_FRAME_MS]
    buffer = io.BytesIO()
    first, rest = frames[0], frames[1:]
    if format == "webp":
        first.save(
            buffer, "WEBP", save_all=True, append_images=rest, duration=durations, loop=0, quality=quality, method=4
        )
    else:
        first.save(buffer, "GIF", save_all=True, append_images=rest, duration=durations, loop=0, optimize=True)
    return buffer.getvalue()
