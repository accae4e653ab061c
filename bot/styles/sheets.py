"""Contact sheets (`contact_sheet`) of the styles usable somewhere: what to draw, drawn off the event loop, and
kept while those styles stay the same."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable

from bot.core.errors import UserError
from bot.styles.contact_sheet import ContactSheet, SheetGroup, SheetStyle, render_sheet
from bot.styles.server_styles import AvailableStyles, NamedStyle

BUILTIN_GROUP = "Built-in styles"
PRESET_GROUP = "This server's presets"
NO_PRESETS = "None yet (admins: /stylepreset add)"
#: Sheets kept, the most recently used. They are kept by what they show, so servers with the same styles
#: (most have only the built-ins) share one, and a server whose styles changed gets a new one.
MAX_SHEETS = 32

#: A group to draw: its title, its styles, and what it says when it has none (None: it is left out).
Group = tuple[str, tuple[NamedStyle, ...], str | None]


def sheet_groups(styles: AvailableStyles, *, presets_only: bool = False) -> list[Group]:
    """The groups of the sheet of `styles` (built-ins, then the server's presets), or of its presets alone."""
    presets: Group = (PRESET_GROUP, styles.presets, None if presets_only else NO_PRESETS)
    if presets_only:
        return [presets]
    groups: list[Group] = [(BUILTIN_GROUP, styles.builtins, None)]
    if styles.in_server:
        groups.append(presets)
    return groups


class StyleSheets:
    """Draws contact sheets and keeps the last `MAX_SHEETS`."""

    def __init__(self) -> None:
        self._kept: OrderedDict[Hashable, ContactSheet] = OrderedDict()

    async def sheet(
        self, styles: AvailableStyles, *, max_bytes: int, presets_only: bool = False
    ) -> ContactSheet | None:
        """The sheet of `styles` (or of its presets alone) within `max_bytes`; None when it has no style to show."""
        groups = sheet_groups(styles, presets_only=presets_only)
        if not any(members for _, members, _ in groups):
            return None
        key = (
            max_bytes,
            tuple((title, note, tuple((s.value, s.identity) for s in members)) for title, members, note in groups),
        )
        sheet = self._kept.get(key)
        if sheet is None:
            sheet = await self._draw(groups, max_bytes)
            self._kept[key] = sheet
            while len(self._kept) > MAX_SHEETS:
                self._kept.popitem(last=False)
        self._kept.move_to_end(key)
        return sheet

    @staticmethod
    async def _draw(groups: list[Group], max_bytes: int) -> ContactSheet:
        drawn = [
            SheetGroup(title, [SheetStyle(style.ref.name, await _image(style)) for style in members], note)
            for title, members, note in groups
        ]
        # Decoding every image takes a while (a quarter of a second for the built-ins on a small CPU).
        return await asyncio.to_thread(render_sheet, drawn, max_bytes=max_bytes)


async def _image(style: NamedStyle) -> bytes:
    try:
        return await style.read()
    except UserError:  # a preset removed a moment ago: its cell says it cannot be shown
        return b""
