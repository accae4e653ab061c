"""How the styles appear on Discord: autocomplete choices, select options, and the contact sheet as an upload.

A built-in is marked as such with its painting ("great-wave · built-in · The Great Wave off Kanagawa — …");
a menu's value says the kind too ("built-in:great-wave"), so a preset and a built-in of the same name
never stand for each other.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

import discord
from discord.app_commands import Choice

from bot.core.params import StyleKind
from bot.styles.contact_sheet import ContactSheet
from bot.styles.server_styles import AvailableStyles, NamedStyle, ServerStyles

log = logging.getLogger("stylebot.styles")

#: Discord shows at most 25 autocomplete choices, and a select menu holds at most 25 options.
MAX_CHOICES = 25
#: Discord's longest choice name, option label and option description.
MAX_TEXT = 100
PRESET_TEXT = "this server's preset"


def fit(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(style: NamedStyle) -> str:
    """What a style is, after its name: "built-in · <the painting>", or "this server's preset"."""
    if style.ref.kind is StyleKind.BUILTIN:
        return f"{StyleKind.BUILTIN} · {style.title}"
    return PRESET_TEXT


def style_choices(styles: AvailableStyles, typed: str) -> list[Choice[str]]:
    """Autocomplete: the styles matching what was typed so far, built-ins first."""
    return [
        Choice(name=fit(f"{style.ref.name} · {describe(style)}"), value=style.value)
        for style in styles.matching(typed)[:MAX_CHOICES]
    ]


def preset_choices(styles: AvailableStyles, typed: str) -> list[Choice[str]]:
    """Autocomplete of the server's presets alone (/stylepreset remove), by their plain names."""
    presets = [style for style in styles.matching(typed) if style.ref.kind is StyleKind.PRESET]
    return [Choice(name=style.ref.name, value=style.ref.name) for style in presets[:MAX_CHOICES]]


def select_option(style: NamedStyle) -> discord.SelectOption:
    return discord.SelectOption(label=fit(style.ref.name), value=style.value, description=fit(describe(style)))


def sheet_file(sheet: ContactSheet) -> discord.File:
    """The contact sheet as an attachment."""
    return discord.File(io.BytesIO(sheet.image.data), filename=f"styles.{sheet.image.extension}")


async def autocomplete(
    styles: ServerStyles, guild_id: int | None, choices: Callable[[AvailableStyles], list[Choice[str]]]
) -> list[Choice[str]]:
    """An autocomplete answer from the styles usable here (kept per server, so it is quick). It never fails:
    on an error (logged) the member sees no suggestions rather than Discord's "loading options failed"."""
    try:
        return choices(await styles.available(guild_id))
    except Exception:
        log.exception("autocomplete of styles failed")
        return []
