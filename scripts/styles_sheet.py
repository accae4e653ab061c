"""Draw docs/styles.jpg, the README's contact sheet of the built-in styles.

Run from the repository root after changing the gallery or the renderer: .venv/bin/python scripts/styles_sheet.py
"""

from __future__ import annotations

import time
from pathlib import Path

from bot.styles.contact_sheet import SheetGroup, SheetStyle, render_sheet
from stylecore.gallery import BUILTIN_STYLES

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "styles.jpg"
#: Small enough for the README's first screen to load quickly.
MAX_BYTES = 300_000


def main() -> None:
    started = time.perf_counter()
    group = SheetGroup("Built-in styles", [SheetStyle(style.name, style.read_bytes()) for style in BUILTIN_STYLES])
    sheet = render_sheet([group], max_bytes=MAX_BYTES)
    OUTPUT.write_bytes(sheet.image.data)
    print(
        f"wrote {OUTPUT} ({sheet.image.width}x{sheet.image.height}, {len(sheet.image.data) // 1024} KiB) "
        f"in {time.perf_counter() - started:.2f} s"
    )


if __name__ == "__main__":
    main()
