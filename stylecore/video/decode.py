"""`load_clip`: the one safe decoder for moving pictures, as `load_image` is for stills."""

from __future__ import annotations

from ..errors import EmptyImageError, UnsupportedImageError
from ..images import ImageSource, _read, load_image
from .animation_decode import decode_animation
from .clip import Clip, Still
from .containers import detect_format
from .errors import NotAVideoError
from .limits import VideoLimits
from .video_decode import decode_video

#: What `load_clip` accepts, for messages.
SUPPORTED = "GIF, WebP, MP4, MOV or WebM (or a still PNG, JPEG or BMP)"


def load_clip(
    source: ImageSource,
    *,
    name: str | None = None,
    limits: VideoLimits | None = None,
    truncate: bool = False,
    size: int | None = None,
) -> Clip | Still:
    """Decode `source` (bytes or a path) into a `Clip`, or a `Still` for a picture that does not
    move (a one-frame GIF or WebP, or any still image `load_image` reads), or raise an `ImageError`
    subclass (see `stylecore.video.errors`) whose message names the problem.

    The format is detected from the content, never the name: animated GIF and WebP (Pillow), MP4,
    MOV and WebM (PyAV). Audio is dropped: a clip has pictures only. `limits` (default
    `VideoLimits()`) are checked from the headers before decoding and again while decoding; a clip
    with more than `limits.max_frames` frames is an error unless `truncate`, which keeps the first
    ones. `size` scales every frame like a still's `--size` (the longest side, in pixels) as it is
    decoded; a `Still` comes back at its own size.
    """
    limits = limits or VideoLimits()
    in_memory = isinstance(source, (bytes, bytearray, memoryview))
    data, label = _read(source, name or ("The clip" if in_memory else None))
    if not data:
        raise EmptyImageError(f"{label} is empty (0 bytes).")
    format = detect_format(data)
    if format is None:
        try:
            return Still(load_image(data, name=label, max_pixels=limits.max_frame_pixels))
        except UnsupportedImageError:
            raise NotAVideoError(f"{label} is not a video or an image; send a {SUPPORTED}.") from None
    if format == "gif" or format == "webp":
        return decode_animation(data, label, format, limits, truncate=truncate, size=size)
    return decode_video(data, label, format, limits, truncate=truncate, size=size)
