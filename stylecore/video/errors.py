"""Typed errors for clips (videos and animated images). Each derives from the still-image error that
means the same thing, so callers that catch `ImageError` (or `CorruptImageError`, …) keep working;
`str(err)` is one complete sentence for the user."""

from __future__ import annotations

from ..errors import CorruptImageError, ImageError, ImageTooLargeError, UnsupportedImageError


class VideoError(ImageError):
    """A clip cannot be used."""


class NotAVideoError(VideoError, UnsupportedImageError):
    """Neither a video nor an image in a supported format (detected from the content, not the name)."""


class NoVideoStreamError(VideoError, UnsupportedImageError):
    """A media file without pictures: audio only."""


class UnsupportedCodecError(VideoError, UnsupportedImageError):
    """The pictures are in a codec outside the allow-list (or one this FFmpeg cannot decode)."""


class CorruptVideoError(VideoError, CorruptImageError):
    """Truncated or otherwise undecodable."""


class EmptyVideoError(VideoError):
    """A video track with no frames in it."""


class TooManyFramesError(VideoError, ImageTooLargeError):
    """More frames than allowed (and the caller did not ask to keep only the first ones)."""


class VideoTooLargeError(VideoError, ImageTooLargeError):
    """Frames × pixels over the limit: a decompression bomb, refused before or while decoding."""
