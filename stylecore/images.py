"""Safe decoding of untrusted images and encoding of results.

Everything that turns bytes into pixels goes through `load_image`, so the CLI and the bot share one
allow-list, one pixel limit and one set of error messages.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from .errors import (
    AnimatedImageError,
    CorruptImageError,
    EmptyImageError,
    ImageTooLargeError,
    OptionsError,
    UnsupportedImageError,
)

#: Pillow format names we decode; everything else is refused before any pixel is read.
ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
#: 48 MP phone photos pass; bombs (a few KB that expand to gigapixels) do not.
DEFAULT_MAX_PIXELS = 50_000_000

ImageSource = bytes | bytearray | memoryview | str | os.PathLike[str]
OutputFormat = Literal["png", "jpeg", "webp"]


def load_image(
    source: ImageSource,
    *,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    allow_animated: bool = True,
) -> Image.Image:
    """Decode `source` (bytes or a path) into an RGB image, or raise an `ImageError` subclass.

    The pixel count is checked from the header before the full decode. EXIF orientation is applied,
    transparency is composited on white, and every other mode becomes 8-bit RGB. Animated images
    give their first frame unless `allow_animated` is false.
    """
    data, label = _read(source, name)
    if not data:
        raise EmptyImageError(f"{label} is empty (0 bytes).")
    supported = ", ".join("WebP" if f == "WEBP" else f for f in ALLOWED_FORMATS)
    with warnings.catch_warnings():
        # We enforce our own limit below; Pillow's process-wide one must not warn or decide for us.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
        except UnidentifiedImageError:
            actual = _sniff_format(data)
            if actual:
                raise UnsupportedImageError(
                    f"{label} is a {actual} image; supported formats are {supported}."
                ) from None
            raise UnsupportedImageError(f"{label} is not an image (supported formats: {supported}).") from None
        except Image.DecompressionBombError:
            raise ImageTooLargeError(f"{label} has far too many pixels; the limit is {max_pixels:,}.") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptImageError(f"{label} could not be read: the file is damaged ({exc}).") from None

        width, height = image.size
        if width < 1 or height < 1:
            raise CorruptImageError(f"{label} has no pixels.")
        if width * height > max_pixels:
            raise ImageTooLargeError(
                f"{label} is {width}×{height} = {width * height:,} pixels; the limit is {max_pixels:,}."
            )
        if getattr(image, "is_animated", False) and not allow_animated:
            raise AnimatedImageError(f"{label} is animated; please send a still image ({supported}).")
        try:
            image.seek(0)
            image.load()
        except Image.DecompressionBombError:
            raise ImageTooLargeError(f"{label} has far too many pixels; the limit is {max_pixels:,}.") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptImageError(
                f"{label} could not be decoded: the file is truncated or damaged ({exc})."
            ) from None
    oriented: Image.Image = image
    # A broken EXIF block must not cost the user their picture: orientation then stays as stored.
    with contextlib.suppress(OSError, SyntaxError, ValueError, TypeError, KeyError):
        oriented = ImageOps.exif_transpose(image)
    return to_rgb(oriented)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: alpha over white, 16-bit scaled down, CMYK/palette/grey converted."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit (and PNG's 16-bit grey, which Pillow opens as "I") scale to 8 bits; convert() would clip.
        values = np.asarray(image, dtype=np.float64)
        grey = np.clip(values / 257.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float64), 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def resize_to(image: Image.Image, longest_side: int) -> Image.Image:
    """Scale so the longer side is `longest_side` pixels, keeping the aspect ratio (at least 1 px)."""
    width, height = image.size
    scale = longest_side / max(width, height)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if new_size == image.size:
        return image
    return image.resize(new_size, Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    format: OutputFormat
    width: int
    height: int

    @property
    def extension(self) -> str:
        return "jpg" if self.format == "jpeg" else self.format


def encode_image(image: Image.Image, format: OutputFormat = "png", *, max_bytes: int | None = None) -> EncodedImage:
    """Encode `image`; with `max_bytes`, the result is guaranteed to fit.

    PNG that does not fit falls back to WebP. Lossy formats step their quality down, then the size,
    until the bytes fit: a result that cannot be delivered is worth less than a slightly smaller one.
    """
    if format not in ("png", "jpeg", "webp"):
        raise OptionsError(f"output format must be png, jpeg or webp, not {format!r}")
    if max_bytes is not None and max_bytes < 1024:
        raise OptionsError(f"a byte budget under 1 KiB cannot hold an image (got {max_bytes})")
    image = to_rgb(image)
    if format == "png":
        data = _save(image, "png", None)
        if max_bytes is None or len(data) <= max_bytes:
            return EncodedImage(data, "png", *image.size)
        format = "webp"
    current = image
    while True:
        for quality in (95, 90, 85, 75, 65, 50):
            data = _save(current, format, quality)
            if max_bytes is None or len(data) <= max_bytes:
                return EncodedImage(data, format, *current.size)
        if max(current.size) <= 16:
            raise OptionsError(f"cannot fit the image into {max_bytes} bytes")
        current = resize_to(current, max(16, int(max(current.size) * 0.8)))


def save_image(image: Image.Image, path: str | os.PathLike[str], *, text: dict[str, str] | None = None) -> None:
    """Write by file extension (.png, .jpg/.jpeg, .webp); unknown extensions are an OptionsError.

    `text`: key/value notes stored in a PNG's text chunks (other formats ignore them).
    """
    suffix = Path(path).suffix.lower()
    formats: dict[str, OutputFormat] = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
    if suffix not in formats:
        raise OptionsError(f"output file must end in .png, .jpg, .jpeg or .webp, not {suffix or 'nothing'!r}")
    if text and suffix == ".png":
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_itxt(key, value)
        buffer = io.BytesIO()
        to_rgb(image).save(buffer, "PNG", optimize=False, compress_level=6, pnginfo=info)
        Path(path).write_bytes(buffer.getvalue())
        return
    Path(path).write_bytes(encode_image(image, formats[suffix]).data)


def read_png_text(path: str | os.PathLike[str]) -> dict[str, str]:
    """The text chunks of a PNG file ({} for other formats or unreadable files); reads no pixels."""
    try:
        with Image.open(path) as image:
            return dict(getattr(image, "text", {})) if image.format == "PNG" else {}
    except (OSError, SyntaxError, ValueError):
        return {}


def _save(image: Image.Image, format: str, quality: int | None) -> bytes:
    buffer = io.BytesIO()
    if format == "png":
        image.save(buffer, "PNG", optimize=False, compress_level=6)
    elif format == "jpeg":
        subsampling = "4:2:0" if quality and quality < 90 else "4:4:4"
        image.save(buffer, "JPEG", quality=quality, optimize=True, subsampling=subsampling)
    else:
        image.save(buffer, "WEBP", quality=quality, method=4)
    return buffer.getvalue()


def _read(source: ImageSource, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "The image"
    path = Path(source)
    label = name or path.name
    try:
        return path.read_bytes(), label
    except FileNotFoundError:
        raise UnsupportedImageError(f"{label}: no such file.") from None
    except IsADirectoryError:
        raise UnsupportedImageError(f"{label} is a directory, not an image.") from None
    except OSError as exc:
        raise UnsupportedImageError(f"{label} cannot be read ({exc.strerror or exc}).") from None


def _sniff_format(data: bytes) -> str | None:
    """Name a real but unsupported format (TIFF, PSD, …) for a better message; reads the header only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(io.BytesIO(data)) as other:
                return other.format
        except Exception:  # noqa: BLE001 - any failure just means "not an image we can name"
            return None
