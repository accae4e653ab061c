"""stylecore: Gatys et al. neural style transfer on VGG-19, as a library.

Typical use::

    engine = Engine()                       # loads VGG-19 once
    result = engine.stylize(load_image("cat.png"), [load_image("starry.jpg")], StyleOptions(size=512))
    result.image.save("out.png")
"""

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

__all__ = [
    "Engine", "StyleOptions", "Progress", "StyleResult",
    "load_image", "encode_image", "save_image", "EncodedImage",
    "StyleCoreError", "OptionsError", "ImageError", "EmptyImageError", "UnsupportedImageError",
    "CorruptImageError", "ImageTooLargeError", "AnimatedImageError", "WeightsUnavailableError",
    "OutOfMemoryError", "Cancelled",
]
