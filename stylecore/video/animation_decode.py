"""Animated GIF and WebP, decoded with Pillow as a browser shows them."""

from __future__ import annotations

import io
import warnings
from fractions import Fraction
from typing import Literal

from PIL import Image

from ..images import load_image, resize_to, to_rgb
from .clip import Clip, Still
from .errors import CorruptVideoError, VideoTooLargeError
from .limits import VideoLimits

#: Browsers show a frame whose delay is this short or unset for DEFAULT_FRAME_MS instead (Chrome
#: and Firefox both do, for GIF and WebP alike), so a clip keeps the timing a viewer sees.
MIN_HONOURED_MS = 10
DEFAULT_FRAME_MS = 100


def decode_animation(
    data: bytes,
    label: str,
    format: Literal["gif", "webp"],
    limits: VideoLimits,
    *,
    truncate: bool,
    size: int | None,
) -> Clip | Still:
    """Every frame of a GIF or WebP composited as a viewer shows it (disposal, blending, partial
    frames), transparency over white like a still, with its duration; one frame gives a `Still`.

    The frame count and size come from the headers (Pillow walks the GIF's blocks without decoding
    pixels) and are checked against `limits` before any frame is decoded.
    """
    with warnings.catch_warnings():
        # Our limits decide; Pillow's process-wide bomb limit must neither warn nor decide per frame.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[format.upper()])
            count = getattr(image, "n_frames", 1)
        except Image.DecompressionBombError:
            raise VideoTooLargeError(
                f"{label} has far too many pixels a frame; the limit is {limits.max_frame_pixels:,}."
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptVideoError(f"{label} could not be read: the file is damaged ({exc}).") from None
        with image:
            if count == 1:
                return Still(load_image(data, name=label, max_pixels=limits.max_frame_pixels))
            width, height = image.size
            limits.check_declared(label, width, height, count, truncate=truncate)
            plays = _plays(format, image.info.get("loop"))
            budget = limits.budget(label, truncate=truncate)
            frames: list[Image.Image] = []
            durations: list[Fraction] = []
            for index in range(count):
                try:
                    image.seek(index)
                    image.load()
                except Image.DecompressionBombError:
                    raise VideoTooLargeError(
                        f"{label} has far too many pixels a frame; the limit is {limits.max_frame_pixels:,}."
                    ) from None
                except (OSError, SyntaxError, ValueError, EOFError) as exc:
                    raise CorruptVideoError(
                        f"{label} could not be decoded after {index} frames: the file is truncated or damaged ({exc})."
                    ) from None
                if not budget.admit(*image.size):
                    break
                frame = to_rgb(image.copy())  # a copy: the file object moves on to the next frame
                if frame.size != (width, height):
                    # A frame reaching past the logical screen: viewers clip it to the screen.
                    frame = frame.crop((0, 0, width, height))
                frames.append(resize_to(frame, size) if size else frame)
                durations.append(Fraction(_shown_ms(image.info.get("duration")), 1000))
    return Clip(tuple(frames), tuple(durations), format, plays)


def _shown_ms(duration: object) -> int:
    if not isinstance(duration, (int, float)) or duration <= MIN_HONOURED_MS:
        return DEFAULT_FRAME_MS
    return round(duration)


def _plays(format: Literal["gif", "webp"], loop: object) -> int:
    """How many times the animation plays (0: forever) from the file's loop field.

    WebP stores the number of plays. GIF's NETSCAPE extension stores the repeats after the first
    play (browsers play loop=2 three times), and a GIF without it plays once.
    """
    if not isinstance(loop, int) or loop < 0:
        return 1 if format == "gif" else 0
    if format == "gif" and loop > 0:
        return loop + 1
    return loop
