"""The contact sheet: every style a server can use, as ONE image (thumbnail, name under it, in groups).

Pillow only, no discord: `/styles` sends what `render_sheet` returns. Rendering decodes every style
image, so callers run it off the event loop, and keep the result by `sheet_key`, which changes
exactly when the output would (the styles, their images, the titles, the byte budget, the renderer).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont, ImageOps

from stylecore.errors import ImageError
from stylecore.images import EncodedImage, OutputFormat, encode_image, load_image

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Bump when the drawing changes, so cached sheets are drawn again.
RENDERER_VERSION = 1

# The geometry, in pixels; everything else derives from these. Thumbnails are large and the text
# about an eighth of one, so that a phone showing the sheet at its width keeps the names legible.
THUMB = 224
GAP = 16
MARGIN = 28
LABEL_SIZE = 25
LABEL_HEIGHT = LABEL_SIZE + 18
HEADING_SIZE = 38
HEADING_HEIGHT = HEADING_SIZE + 26
GROUP_GAP = 20
CORNER_RADIUS = 10
#: Columns grow with the largest group (about twice as many columns as rows) within these bounds:
#: three keep a short heading from being wider than the grid; six keep the names readable.
MIN_COLUMNS = 3
MAX_COLUMNS = 6

BACKGROUND = (30, 31, 34)
PLACEHOLDER = (56, 58, 64)
TEXT = (236, 237, 240)
MUTED = (160, 164, 172)
ELLIPSIS = "…"

#: (left, top, right, bottom), as Pillow's boxes.
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class SheetStyle:
    """One style to show: its name and its image file's bytes (any format `load_image` reads)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class SheetGroup:
    """A heading and its styles. With no styles the group shows `empty_text` under its heading, or,
    when that is None, nothing at all."""

    title: str
    styles: Sequence[SheetStyle]
    empty_text: str | None = None


@dataclass(frozen=True)
class Cell:
    """Where one style goes: its thumbnail's square and the strip under it for its name."""

    group: int
    name: str
    image: Box
    label: Box


@dataclass(frozen=True)
class TextLine:
    text: str
    box: Box


@dataclass(frozen=True)
class SheetLayout:
    width: int
    height: int
    columns: int
    headings: tuple[TextLine, ...]
    notes: tuple[TextLine, ...]
    """The one-line `empty_text` of groups without styles."""
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class ContactSheet:
    image: EncodedImage
    key: str
    """`sheet_key` of what was drawn: the same key, the same sheet."""
    layout: SheetLayout


def columns_for(largest_group: int) -> int:
    """The grid's columns for a sheet whose largest group holds this many styles."""
    return max(MIN_COLUMNS, min(MAX_COLUMNS, math.ceil(math.sqrt(2 * largest_group))))


def plan_sheet(groups: Sequence[SheetGroup]) -> SheetLayout:
    """Where every heading, note and cell goes; groups start on a new row, in the order given.

    Raises ValueError when no group has anything to show (the caller says so in words instead).
    """
    shown = [(index, group) for index, group in enumerate(groups) if group.styles or group.empty_text is not None]
    if not shown:
        raise ValueError("a contact sheet needs at least one style or one group with an empty_text")
    columns = columns_for(max(len(group.styles) for _, group in shown))
    width = 2 * MARGIN + columns * THUMB + (columns - 1) * GAP
    headings: list[TextLine] = []
    notes: list[TextLine] = []
    cells: list[Cell] = []
    top = MARGIN
    for index, group in shown:
        headings.append(TextLine(group.title, (MARGIN, top, width - MARGIN, top + HEADING_HEIGHT)))
        top += HEADING_HEIGHT
        if not group.styles:
            assert group.empty_text is not None  # `shown` holds no other empty group
            notes.append(TextLine(group.empty_text, (MARGIN, top, width - MARGIN, top + LABEL_HEIGHT)))
            top += LABEL_HEIGHT + GROUP_GAP
            continue
        row_height = THUMB + LABEL_HEIGHT + GAP
        for position, style in enumerate(group.styles):
            row, column = divmod(position, columns)
            left, cell_top = MARGIN + column * (THUMB + GAP), top + row * row_height
            image = (left, cell_top, left + THUMB, cell_top + THUMB)
            # Inset, so the names of neighbouring cells never run into each other.
            label = (left + GAP // 4, cell_top + THUMB, left + THUMB - GAP // 4, cell_top + THUMB + LABEL_HEIGHT)
            cells.append(Cell(index, style.name, image, label))
        top += math.ceil(len(group.styles) / columns) * row_height - GAP + GROUP_GAP
    height = top - GROUP_GAP + MARGIN
    return SheetLayout(width, height, columns, tuple(headings), tuple(notes), tuple(cells))


def sheet_key(groups: Sequence[SheetGroup], *, max_bytes: int, format: OutputFormat = "jpeg") -> str:
    """A digest of everything the sheet is drawn from: names and image contents (not object identity)."""
    described = {
        "version": RENDERER_VERSION,
        "format": format,
        "max_bytes": max_bytes,
        "groups": [
            [group.title, group.empty_text, [[s.name, hashlib.sha256(s.data).hexdigest()] for s in group.styles]]
            for group in groups
        ],
    }
    return hashlib.sha256(json.dumps(described, ensure_ascii=False).encode()).hexdigest()


def render_sheet(groups: Sequence[SheetGroup], *, max_bytes: int, format: OutputFormat = "jpeg") -> ContactSheet:
    """Draw the sheet and encode it within `max_bytes` (the channel's upload limit).

    An image that cannot be decoded (a preset stored under looser limits, say) gets a blank cell
    that says so, rather than costing the whole sheet.
    """
    layout = plan_sheet(groups)
    canvas = Image.new("RGB", (layout.width, layout.height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    heading_font = ImageFont.load_default(size=HEADING_SIZE)
    label_font = ImageFont.load_default(size=LABEL_SIZE)
    for line in layout.headings:
        _draw_text(draw, line, heading_font, TEXT, anchor="lm")
    for line in layout.notes:
        _draw_text(draw, line, label_font, MUTED, anchor="lm")
    mask = Image.new("L", (THUMB, THUMB), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, THUMB - 1, THUMB - 1), CORNER_RADIUS, fill=255)
    # plan_sheet lays the cells out in the order of the groups' styles.
    for cell, style in zip(layout.cells, [style for group in groups for style in group.styles], strict=True):
        thumbnail = _thumbnail(style)
        if thumbnail is None:
            draw.rounded_rectangle(_inclusive(cell.image), CORNER_RADIUS, fill=PLACEHOLDER)
            _draw_text(draw, TextLine("can't be shown", cell.image), label_font, MUTED, anchor="mm")
        else:
            canvas.paste(thumbnail, cell.image[:2], mask)
        _draw_text(draw, TextLine(style.name, cell.label), label_font, TEXT, anchor="mm")
    encoded = encode_image(canvas, format, max_bytes=max_bytes)
    return ContactSheet(encoded, sheet_key(groups, max_bytes=max_bytes, format=format), layout)


def fit_text(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    """`text`, cut with an ellipsis where it would be wider than `width` pixels."""
    if font.getlength(text) <= width:
        return text
    kept = text
    while kept and font.getlength(kept.rstrip() + ELLIPSIS) > width:
        kept = kept[:-1]
    return kept.rstrip() + ELLIPSIS


def _thumbnail(style: SheetStyle) -> Image.Image | None:
    """A THUMB-sized square from the middle of the image, or None when the image cannot be decoded."""
    try:
        image = load_image(style.data, name=style.name)  # transparency on white, as the engine sees it
    except ImageError:
        return None
    return ImageOps.fit(image, (THUMB, THUMB), Image.Resampling.LANCZOS)


def _draw_text(
    draw: ImageDraw.ImageDraw,
    line: TextLine,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    fill: tuple[int, int, int],
    *,
    anchor: str,
) -> None:
    left, top, right, bottom = line.box
    text = fit_text(line.text, font, right - left)
    x = (left + right) / 2 if anchor[0] == "m" else left
    draw.text((x, (top + bottom) / 2), text, font=font, fill=fill, anchor=anchor)


def _inclusive(box: Box) -> Box:
    """Pillow's shapes include their right and bottom edges; boxes here end before them."""
    left, top, right, bottom = box
    return (left, top, right - 1, bottom - 1)
