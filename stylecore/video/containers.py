"""What a file is, from its first bytes (never its name), and whether it is as long as it says.

Only these signatures reach a decoder: GIF, WebP (RIFF), ISO base media (MP4, MOV) and EBML
(WebM, Matroska). FFmpeg is then told which demuxer to use, so no other demuxer ever probes
untrusted bytes.
"""

from __future__ import annotations

from .clip import ClipFormat

#: ISO base media brands of still images (HEIF, AVIF): they go to the still-image path instead.
_STILL_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"avis"})
#: Top-level boxes an old QuickTime file may start with instead of 'ftyp'.
_QUICKTIME_FIRST_BOXES = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_MATROSKA_SEGMENT = b"\x18\x53\x80\x67"


def detect_format(data: bytes) -> ClipFormat | None:
    """The clip format `data` is in, from its signature; None for anything else (stills included)."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] == _EBML_MAGIC:
        return "webm"
    box = data[4:8]
    if box == b"ftyp":
        brand = data[8:12]
        if brand in _STILL_BRANDS:
            return None
        return "mov" if brand == b"qt  " else "mp4"
    if box in _QUICKTIME_FIRST_BOXES and int.from_bytes(data[:4], "big") >= 8:
        return "mov"
    return None


def missing_bytes(data: bytes, format: ClipFormat) -> int | None:
    """How many bytes the container's own structure declares beyond the end of `data`: a truncated
    download. None when the structure is complete or does not say (a live WebM declares no sizes).

    MP4/MOV: the top-level boxes' sizes. WebM: the Segment's size. Pillow checks GIF and WebP itself.
    """
    if format in ("mp4", "mov"):
        return _missing_from_boxes(data)
    if format == "webm":
        return _missing_from_segment(data)
    return None


def _missing_from_boxes(data: bytes) -> int | None:
    position = 0
    while position + 8 <= len(data):
        if not all(0x20 <= byte <= 0x7E for byte in data[position + 4 : position + 8]):
            return None  # not a box (trailing junk, say): leave the verdict to the demuxer
        size = int.from_bytes(data[position : position + 4], "big")
        if size == 1:  # a 64-bit size follows the type
            if position + 16 > len(data):
                return position + 16 - len(data)
            size = int.from_bytes(data[position + 8 : position + 16], "big")
        elif size == 0:  # the last box, up to the end of the file
            return None
        if size < 8:
            return None  # not a box structure we can follow: leave the verdict to the demuxer
        position += size
    return position - len(data) if position > len(data) else None


def _missing_from_segment(data: bytes) -> int | None:
    header = _element(data, 0, _EBML_MAGIC)
    if header is None:
        return None
    header_end = header[0] + header[1]
    segment = _element(data, header_end, _MATROSKA_SEGMENT)
    if segment is None or segment[1] < 0:
        return None
    end = segment[0] + segment[1]
    return end - len(data) if end > len(data) else None


def _element(data: bytes, position: int, element_id: bytes) -> tuple[int, int] | None:
    """(start of the payload, payload size) of the EBML element `element_id` at `position`; size -1
    when the element declares an unknown size. None if another element (or nothing) is there."""
    if data[position : position + len(element_id)] != element_id:
        return None
    position += len(element_id)
    if position >= len(data) or data[position] == 0:
        return None
    first = data[position]
    length = 8 - first.bit_length() + 1  # a variable-size integer: leading zero bits give its length
    if position + length > len(data):
        return None
    value = first & (0xFF >> length)
    for byte in data[position + 1 : position + length]:
        value = value << 8 | byte
    unknown = value == (1 << (7 * length)) - 1
    return position + length, -1 if unknown else value
