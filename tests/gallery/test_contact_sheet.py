"""The contact sheet: its grid, what it draws in each cell, its byte budget and its cache key."""

from __future__ import annotations

import io
import subprocess
import sys
from itertools import combinations

import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.styles import contact_sheet
from bot.styles.contact_sheet import (
    ELLIPSIS,
    LABEL_HEIGHT,
    LABEL_SIZE,
    MAX_COLUMNS,
    MIN_COLUMNS,
    PLACEHOLDER,
    TEXT,
    THUMB,
    SheetGroup,
    SheetStyle,
    columns_for,
    fit_text,
    plan_sheet,
    render_sheet,
    sheet_key,
)
from stylecore.gallery import BUILTIN_STYLES

MIB = 2**20


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def solid(name: str, colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> SheetStyle:
    return SheetStyle(name, png(Image.new("RGB", size, colour)))


def builtins() -> SheetGroup:
    return SheetGroup("Built-in styles", [SheetStyle(style.name, style.read_bytes()) for style in BUILTIN_STYLES])


def presets(count: int) -> SheetGroup:
    return SheetGroup("This server's presets", [solid(f"preset {i}", (i * 9, 80, 160)) for i in range(count)])


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def centre(box: tuple[int, int, int, int]) -> tuple[int, int]:
    return ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("count", [0, 1, 10, 25])
def test_one_cell_per_style_inside_the_sheet_and_none_overlapping(count: int) -> None:
    groups = [builtins(), presets(count)]
    layout = plan_sheet(groups)
    assert [(cell.group, cell.name) for cell in layout.cells] == [
        (index, style.name) for index, group in enumerate(groups) for style in group.styles
    ]
    boxes = [cell.image for cell in layout.cells] + [cell.label for cell in layout.cells]
    boxes += [line.box for line in layout.headings + layout.notes]
    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= layout.width and 0 <= top < bottom <= layout.height
    for a, b in combinations(boxes, 2):
        assert not overlap(a, b)
    for cell in layout.cells:  # the name sits right under its own thumbnail
        assert cell.label[1] == cell.image[3] and cell.image[0] <= cell.label[0] < cell.label[2] <= cell.image[2]


def test_groups_follow_one_another_under_their_headings() -> None:
    layout = plan_sheet([builtins(), presets(7)])
    first, second = layout.headings
    builtin_cells = [cell for cell in layout.cells if cell.group == 0]
    preset_cells = [cell for cell in layout.cells if cell.group == 1]
    assert first.box[3] <= min(cell.image[1] for cell in builtin_cells)
    assert max(cell.label[3] for cell in builtin_cells) <= second.box[1]
    assert second.box[3] <= min(cell.image[1] for cell in preset_cells)
    assert preset_cells[0].image[0] == builtin_cells[0].image[0]  # a group starts a new row


def test_columns_grow_with_the_largest_group_within_bounds() -> None:
    assert columns_for(0) == columns_for(1) == MIN_COLUMNS
    assert columns_for(10) == 5  # the built-ins: two full rows
    assert columns_for(25) == columns_for(1000) == MAX_COLUMNS
    assert [columns_for(n) for n in range(40)] == sorted(columns_for(n) for n in range(40))
    layout = plan_sheet([builtins(), presets(25)])
    assert layout.columns == MAX_COLUMNS
    assert len({cell.image[0] for cell in layout.cells}) == MAX_COLUMNS


def test_an_empty_group_shows_its_note_or_nothing() -> None:
    noted = plan_sheet([builtins(), SheetGroup("This server's presets", [], "None yet")])
    assert [line.text for line in noted.headings] == ["Built-in styles", "This server's presets"]
    assert [line.text for line in noted.notes] == ["None yet"]
    hidden = plan_sheet([builtins(), SheetGroup("This server's presets", [])])
    assert [line.text for line in hidden.headings] == ["Built-in styles"]
    assert hidden.notes == ()
    assert hidden.height < noted.height
    only_note = plan_sheet([SheetGroup("Built-in styles", []), SheetGroup("Presets", [], "None yet")])
    assert [line.text for line in only_note.headings] == ["Presets"]


def test_a_sheet_with_nothing_to_show_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one style"):
        plan_sheet([SheetGroup("Built-in styles", []), SheetGroup("Presets", [])])


def test_long_names_end_in_an_ellipsis_and_fit() -> None:
    font = ImageFont.load_default(size=LABEL_SIZE)
    name = "an extremely long preset name!!"
    fitted = fit_text(name, font, 120)
    assert fitted.endswith(ELLIPSIS) and name.startswith(fitted[:-1])
    assert font.getlength(fitted) <= 120
    assert fit_text("short", font, 120) == "short"
    assert fit_text(name, font, 1) == ELLIPSIS  # nothing fits: at least say something was cut


def test_every_built_in_name_fits_its_label_whole() -> None:
    font = ImageFont.load_default(size=LABEL_SIZE)
    layout = plan_sheet([builtins()])
    for cell in layout.cells:
        assert fit_text(cell.name, font, cell.label[2] - cell.label[0]) == cell.name


def test_each_cell_shows_its_own_image_and_odd_images_still_fill_it() -> None:
    transparent = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    ImageDraw.Draw(transparent).rectangle((20, 20, 40, 40), fill=(0, 0, 255, 255))
    styles = [
        solid("red", (220, 30, 30)),
        solid("tall", (30, 200, 30), (3, 900)),
        solid("wide", (240, 200, 0), (2000, 7)),
        solid("one pixel", (200, 0, 200), (1, 1)),
        SheetStyle("transparent", png(transparent)),
    ]
    sheet = render_sheet([SheetGroup("Presets", styles)], max_bytes=8 * MIB, format="png")
    image = decoded(sheet.image.data)
    assert image.size == (sheet.layout.width, sheet.layout.height)
    expected = [(220, 30, 30), (30, 200, 30), (240, 200, 0), (200, 0, 200), (0, 0, 255)]
    for cell, colour in zip(sheet.layout.cells, expected, strict=True):
        assert close(image.getpixel(centre(cell.image)), colour), cell.name
    # Transparency is shown as the engine sees it: on white.
    corner = sheet.layout.cells[-1].image
    assert close(image.getpixel((corner[0] + 20, corner[1] + 20)), (255, 255, 255))
    strip = image.crop(sheet.layout.cells[0].label)  # the name is drawn in the text colour
    assert any(close(colour, TEXT, tolerance=4) for _, colour in strip.getcolors(THUMB * LABEL_HEIGHT) or [])


def test_an_image_that_cannot_be_decoded_gets_a_placeholder_not_a_failure() -> None:
    styles = [solid("fine", (220, 30, 30)), SheetStyle("broken", b"not an image"), SheetStyle("empty", b"")]
    sheet = render_sheet([SheetGroup("Presets", styles)], max_bytes=8 * MIB, format="png")
    image = decoded(sheet.image.data)
    fine, broken, empty = sheet.layout.cells
    assert close(image.getpixel(centre(fine.image)), (220, 30, 30))
    for cell in (broken, empty):
        corner = (cell.image[0] + 12, cell.image[1] + 12)  # inside the rounded corner, away from the words
        assert close(image.getpixel(corner), PLACEHOLDER, tolerance=2)


def test_the_sheet_fits_the_byte_budget() -> None:
    groups = [builtins(), presets(25)]
    roomy = render_sheet(groups, max_bytes=25 * MIB)
    assert roomy.image.format == "jpeg"
    tight_budget = len(roomy.image.data) // 4
    tight = render_sheet(groups, max_bytes=tight_budget)
    assert len(tight.image.data) <= tight_budget
    assert decoded(tight.image.data).size == (tight.image.width, tight.image.height)


def test_the_key_changes_exactly_when_the_styles_do(monkeypatch: pytest.MonkeyPatch) -> None:
    base = [builtins(), presets(3)]

    def key(groups: list[SheetGroup]) -> str:
        return sheet_key(groups, max_bytes=MIB)

    same = [
        builtins(),
        SheetGroup("This server's presets", [SheetStyle(s.name, bytes(s.data)) for s in presets(3).styles]),
    ]
    assert key(same) == key(base)  # equal content in other objects: the cached sheet is still good
    renamed = [base[0], SheetGroup(base[1].title, [SheetStyle("other", base[1].styles[0].data), *base[1].styles[1:]])]
    redrawn = [base[0], SheetGroup(base[1].title, [solid("preset 0", (1, 2, 3)), *base[1].styles[1:]])]
    added = [base[0], presets(4)]
    reordered = [base[0], SheetGroup(base[1].title, list(reversed(base[1].styles)))]
    variants = [renamed, redrawn, added, reordered, [base[0]]]
    keys = {key(base)} | {key(groups) for groups in variants}
    assert len(keys) == len(variants) + 1
    assert sheet_key(base, max_bytes=2 * MIB) != key(base)
    assert render_sheet(base, max_bytes=MIB).key == key(base)
    monkeypatch.setattr(contact_sheet, "RENDERER_VERSION", contact_sheet.RENDERER_VERSION + 1)
    assert key(base) not in keys


def test_the_renderer_imports_neither_discord_nor_torch() -> None:
    code = "import sys, bot.styles.contact_sheet; print('discord' in sys.modules, 'torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]
