"""Safe decoding: every bad-input kind gets its typed error, every odd-but-valid mode becomes RGB."""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from PIL import Image

from stylecore.errors import (
    AnimatedImageError,
    CorruptImageError,
    EmptyImageError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from stylecore.images import encode_image, load_image, resize_to


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _huge_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring width×height, with a tiny compressed body (a bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    body = zlib.compress(row * 64, 9)  # only some rows: the header is what a bomb check must catch
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_zero_bytes() -> None:
    with pytest.raises(EmptyImageError, match=re.escape("cat.png is empty")):
        load_image(b"", name="cat.png")


def test_text_named_png_is_not_an_image() -> None:
    with pytest.raises(UnsupportedImageError, match=re.escape("notes.png is not an image")):
        load_image(b"hello, this is text\n" * 10, name="notes.png")


def test_real_but_unsupported_format_is_named() -> None:
    tiff = _encode(Image.new("RGB", (8, 8)), "TIFF")
    with pytest.raises(UnsupportedImageError, match="TIFF"):
        load_image(tiff, name="scan.tif")


def test_truncated_png() -> None:
    data = _encode(Image.effect_noise((64, 64), 50).convert("RGB"), "PNG")
    with pytest.raises(CorruptImageError, match=re.escape("half.png")):
        load_image(data[: len(data) // 2], name="half.png")


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = _huge_png(20_000, 20_000)
    assert len(bomb) < 10_000
    with pytest.raises(
        ImageTooLargeError, match=re.escape("bomb.png has far too many pixels; the limit is 50,000,000")
    ):
        load_image(bomb, name="bomb.png")


def test_moderate_bomb_is_refused_from_its_header() -> None:
    bomb = _huge_png(8_000, 8_000)  # 64 MP: under Pillow's own bomb limit, over ours
    with pytest.raises(ImageTooLargeError, match="8000×8000 = 64,000,000 pixels; the limit is 50,000,000"):
        load_image(bomb, name="big.png")


def test_pixel_limit_is_the_callers() -> None:
    data = _encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageTooLargeError, match="limit is 9,999"):
        load_image(data, max_pixels=9_999)
    assert load_image(data, max_pixels=10_000).size == (100, 100)


def test_animated_gif_first_frame_or_refused() -> None:
    frames = [Image.new("RGB", (10, 10), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    gif = buffer.getvalue()
    first = load_image(gif)
    assert first.getpixel((5, 5)) == (255, 0, 0)
    with pytest.raises(AnimatedImageError, match=re.escape("anim.gif is animated")):
        load_image(gif, name="anim.gif", allow_animated=False)


def test_missing_file() -> None:
    with pytest.raises(UnsupportedImageError, match="no such file"):
        load_image("/definitely/not/here.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF"])
def test_allowed_formats_decode_to_rgb(fmt: str) -> None:
    image = load_image(_encode(Image.new("RGB", (12, 7), (10, 200, 30)), fmt))
    assert image.mode == "RGB" and image.size == (12, 7)


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (30, 10), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    loaded = load_image(_encode(image, "JPEG", exif=exif.tobytes()))
    assert loaded.size == (10, 30)


def test_alpha_is_composited_on_white() -> None:
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    loaded = load_image(_encode(image, "PNG"))
    assert loaded.getpixel((1, 1)) == (255, 255, 255)
    assert loaded.getpixel((0, 0)) == (255, 0, 0)


def test_palette_with_transparency_is_composited_on_white() -> None:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((0, 0), 1)
    loaded = load_image(_encode(image, "PNG", transparency=0))
    assert loaded.getpixel((2, 2)) == (255, 255, 255)
    assert loaded.getpixel((0, 0)) == (0, 255, 0)


def test_cmyk_jpeg_becomes_rgb() -> None:
    loaded = load_image(_encode(Image.new("CMYK", (6, 6), (0, 255, 255, 0)), "JPEG", quality=100))
    r, g, b = loaded.getpixel((3, 3))
    assert loaded.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    image = Image.new("I;16", (4, 4), 32768)  # mid-grey in 16 bits
    loaded = load_image(_encode(image, "PNG"))
    assert loaded.getpixel((0, 0)) == (128, 128, 128)


def test_greyscale_becomes_rgb() -> None:
    assert load_image(_encode(Image.new("L", (3, 3), 77), "PNG")).getpixel((1, 1)) == (77, 77, 77)


def test_resize_keeps_aspect() -> None:
    assert resize_to(Image.new("RGB", (400, 300)), 200).size == (200, 150)
    assert resize_to(Image.new("RGB", (30, 60)), 120).size == (60, 120)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_encode_fits_the_byte_budget(fmt: str) -> None:
    noisy = Image.effect_noise((512, 512), 120).convert("RGB")
    unlimited = encode_image(noisy, fmt)
    budget = len(unlimited.data) // 4
    encoded = encode_image(noisy, fmt, max_bytes=budget)
    assert len(encoded.data) <= budget
    decoded = Image.open(io.BytesIO(encoded.data))
    assert decoded.format.lower() == ("webp" if fmt == "png" else fmt)
    assert decoded.size == (encoded.width, encoded.height)


def test_encode_png_within_budget_stays_png() -> None:
    encoded = encode_image(Image.new("RGB", (32, 32), "white"), "png", max_bytes=100_000)
    assert encoded.format == "png" and encoded.extension == "png"
    assert Image.open(io.BytesIO(encoded.data)).format == "PNG"
