"""stylecore: Gatys et al. neural style transfer on VGG-19, as a library.

Typical use::

    engine = Engine()                       # loads VGG-19 once
    result = engine.stylize(load_image("cat.png"), [load_image("starry.jpg")], StyleOptions(size=512))
    result.image.save("out.png")

Names load on first use, so importing `stylecore.options` or `stylecore.errors` (the bot's config,
its health check) does not import PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Engine": "engine",
    "StyleOptions": "options",
    "Progress": "records",
    "StyleResult": "records",
    "load_image": "images",
    "encode_image": "images",
    "save_image": "images",
    "EncodedImage": "images",
    **{
        name: "errors"
        for name in (
            "StyleCoreError",
            "OptionsError",
            "ImageError",
            "EmptyImageError",
            "UnsupportedImageError",
            "CorruptImageError",
            "ImageTooLargeError",
            "AnimatedImageError",
            "WeightsUnavailableError",
            "OutOfMemoryError",
            "Cancelled",
        )
    },
}

__all__ = [
    "AnimatedImageError",
    "Cancelled",
    "CorruptImageError",
    "EmptyImageError",
    "EncodedImage",
    "Engine",
    "ImageError",
    "ImageTooLargeError",
    "OptionsError",
    "OutOfMemoryError",
    "Progress",
    "StyleCoreError",
    "StyleOptions",
    "StyleResult",
    "UnsupportedImageError",
    "WeightsUnavailableError",
    "encode_image",
    "load_image",
    "save_image",
]

if TYPE_CHECKING:
    from .engine import Engine
    from .errors import (
        AnimatedImageError,
        Cancelled,
        CorruptImageError,
        EmptyImageError,
        ImageError,
        ImageTooLargeError,
        OptionsError,
        OutOfMemoryError,
        StyleCoreError,
        UnsupportedImageError,
        WeightsUnavailableError,
    )
    from .images import EncodedImage, encode_image, load_image, save_image
    from .options import StyleOptions
    from .records import Progress, StyleResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stylecore' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
