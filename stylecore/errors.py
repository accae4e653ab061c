"""Typed errors. Callers (the CLI, the bot) turn these into messages a person understands."""

from __future__ import annotations


class StyleCoreError(Exception):
    """Base class: anything the engine raises on purpose."""


class OptionsError(StyleCoreError, ValueError):
    """An option is out of range or inconsistent with the others."""


class ImageError(StyleCoreError):
    """An input image cannot be used. `str(err)` is a complete sentence for the user."""


class EmptyImageError(ImageError):
    """Zero bytes."""


class UnsupportedImageError(ImageError):
    """Not an image, or a format outside the allow-list."""


class CorruptImageError(ImageError):
    """Truncated or otherwise undecodable."""


class ImageTooLargeError(ImageError):
    """More pixels than allowed (decompression bombs land here, before the full decode)."""


class AnimatedImageError(ImageError):
    """An animated image where the caller asked for still images only."""


class WeightsUnavailableError(StyleCoreError):
    """The requested VGG-19 weights cannot be loaded (missing file, no network, bad format)."""


class OutOfMemoryError(StyleCoreError):
    """The device ran out of memory; retrying at a smaller size may succeed."""


class Cancelled(StyleCoreError):
    """The job's cancel event was set; raised within one iteration."""
