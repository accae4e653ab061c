"""The styles members can use where a command runs: the built-in styles (unless turned off) and the server's
presets; finding one by the name a member typed or picked.

Kept per server, because autocomplete asks on every keystroke and must answer within Discord's 3 seconds,
and dropped whenever they change: presets are added and removed here (where the rule against a preset
named like a built-in lives), and a change of the server's settings calls `changed`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import Config
from bot.core.errors import UserError
from bot.core.params import StyleKind, StyleRef
from bot.core.server_settings import load_settings
from bot.core.store import Preset, Store
from stylecore.gallery import BUILTIN_STYLES, BuiltinStyle, find_builtin, normalise_name

#: Between a style's kind and its name in a menu's value ("built-in:great-wave"). Preset names cannot hold
#: one, so a value always says which of two styles of the same name was meant.
KIND_SEPARATOR = ":"


@dataclass(frozen=True)
class NamedStyle:
    """A built-in style or a server preset, as members see it."""

    ref: StyleRef
    source: BuiltinStyle | Preset

    @property
    def value(self) -> str:
        """What a menu sends back for it (`AvailableStyles.find` takes it)."""
        return f"{self.ref.kind}{KIND_SEPARATOR}{self.ref.name}"

    @property
    def title(self) -> str | None:
        """The painting, its artist and year, for a built-in."""
        return self.source.title if isinstance(self.source, BuiltinStyle) else None

    @property
    def defaults(self) -> Mapping[str, float]:
        """Its own settings by engine option name (a built-in's `defaults`; a preset has none)."""
        return self.source.defaults if isinstance(self.source, BuiltinStyle) else {}

    @property
    def identity(self) -> str:
        """Changes when its image does: a built-in's file, or the file a preset was stored in when added."""
        return self.source.filename if isinstance(self.source, BuiltinStyle) else self.source.path.name

    async def read(self) -> bytes:
        """The image file's bytes; UserError if a preset was removed since it was listed."""
        if isinstance(self.source, BuiltinStyle):
            return await asyncio.to_thread(self.source.read_bytes)
        try:
            return await asyncio.to_thread(self.source.path.read_bytes)
        except FileNotFoundError:
            raise UserError(f"The preset “{self.ref.name}” was removed a moment ago; pick another.") from None


def builtin_style(style: BuiltinStyle) -> NamedStyle:
    return NamedStyle(StyleRef(StyleKind.BUILTIN, style.name), style)


def preset_style(preset: Preset) -> NamedStyle:
    return NamedStyle(StyleRef(StyleKind.PRESET, preset.name), preset)


@dataclass(frozen=True)
class AvailableStyles:
    """What can be used in one server, or in DMs (built-ins only)."""

    in_server: bool
    builtins_on: bool
    builtins: tuple[NamedStyle, ...]
    """Empty when turned off."""
    presets: tuple[NamedStyle, ...]
    """By name; always empty in DMs."""

    @property
    def all(self) -> tuple[NamedStyle, ...]:
        """Every style, in the order menus and the contact sheet show them: built-ins, then presets."""
        return self.builtins + self.presets

    def matching(self, typed: str) -> list[NamedStyle]:
        """The styles whose name (or a built-in's title) contains `typed`, case and spacing aside."""
        wanted = normalise_name(typed)
        return [
            style
            for style in self.all
            if wanted in normalise_name(style.ref.name) or (style.title and wanted in normalise_name(style.title))
        ]

    def find(self, typed: str) -> NamedStyle:
        """The style a member named: a menu's value ("preset:Monet") or a name as typed; else UserError."""
        kind_text, separator, name = typed.strip().partition(KIND_SEPARATOR)
        if separator and kind_text in {kind.value for kind in StyleKind}:
            return self.get(StyleRef(StyleKind(kind_text), name))
        builtin = find_builtin(typed)
        preset = self.preset(typed)
        if builtin is not None and preset is not None and self.builtins_on:
            raise UserError(
                f"“{typed.strip()}” names both this server's preset “{preset.ref.name}” and the built-in style "
                f"{builtin.name}; choose one from the list."
            )
        if preset is not None:
            return preset
        if builtin is not None:
            return self.get(StyleRef(StyleKind.BUILTIN, builtin.name))
        if self.in_server:
            raise UserError(f"There is no style called “{typed.strip()}” on this server; /styles shows them.")
        raise UserError(
            f"There is no built-in style called “{typed.strip()}”; /styles shows them (a server's presets work "
            "only in that server)."
        )

    def get(self, ref: StyleRef) -> NamedStyle:
        """The style `ref` names if it can be used here; else UserError saying why not."""
        if ref.kind is StyleKind.PRESET:
            if not self.in_server:
                raise UserError(
                    f"“{ref.name}” is a server's preset; presets belong to their servers. In DMs, use a built-in "
                    "style (/styles shows them)."
                )
            preset = self.preset(ref.name)
            if preset is None:
                raise UserError(f"This server has no preset named “{ref.name}” (any more); /styles shows its styles.")
            return preset
        builtin = find_builtin(ref.name)
        if builtin is None:
            raise UserError(f"There is no built-in style called “{ref.name}”; /styles shows them.")
        if not self.builtins_on:
            where = "on this server" if self.in_server else "on this bot"
            raise UserError(f"Built-in styles such as {builtin.name} are turned off {where}.")
        return builtin_style(builtin)

    @property
    def why_none(self) -> str:
        """Why there is nothing here to pick from (no presets, built-ins off): a sentence, without its full stop."""
        if self.in_server:
            return (
                "This server has no style presets and its built-in styles are turned off (admins: /stylepreset add, "
                "or /stylesettings set builtin_styles on)"
            )
        return "This bot's built-in styles are turned off, and presets belong to servers"

    def preset(self, name: str) -> NamedStyle | None:
        """The server's preset of that name, compared as members type names (`normalise_name`)."""
        wanted = normalise_name(name)
        return next((style for style in self.presets if normalise_name(style.ref.name) == wanted), None)


class ServerStyles:
    """The styles of each server, kept until they change; adding and removing presets."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._kept: dict[int | None, AvailableStyles] = {}
        self._changes: dict[int | None, int] = {}
        """Changes seen per server: a listing read while one happened is not kept."""

    async def available(self, guild_id: int | None) -> AvailableStyles:
        """The styles usable in this server (None: in DMs)."""
        kept = self._kept.get(guild_id)
        if kept is not None:
            return kept
        changes = self._changes.get(guild_id, 0)
        settings, _ = await load_settings(self.store, self.config, guild_id)
        presets = await self.store.presets(guild_id) if guild_id is not None else []
        builtins_on = settings.builtin_styles
        listed = AvailableStyles(
            in_server=guild_id is not None,
            builtins_on=builtins_on,
            builtins=tuple(builtin_style(style) for style in BUILTIN_STYLES) if builtins_on else (),
            presets=tuple(preset_style(preset) for preset in presets),
        )
        if self._changes.get(guild_id, 0) == changes:
            self._kept[guild_id] = listed
        return listed

    def changed(self, guild_id: int) -> None:
        """The server's presets or settings changed: list its styles again next time."""
        self._changes[guild_id] = self._changes.get(guild_id, 0) + 1
        self._kept.pop(guild_id, None)

    async def add_preset(self, guild_id: int, name: str, data: bytes, added_by: int, now: float) -> None:
        """Keep a new preset; UserError if its name is a built-in's or another preset's."""
        builtin = find_builtin(name)
        if builtin is not None:
            raise UserError(
                f"“{name}” is the name of a built-in style ({builtin.name}: {builtin.title}); choose another name "
                "so members can tell the two apart."
            )
        # Names are compared as members type them (case, spaces and underscores aside), like built-ins'.
        taken = (await self.available(guild_id)).preset(name)
        try:
            if taken is not None or not await self.store.add_preset(guild_id, name, data, added_by, now):
                raise UserError(f"There is already a preset named “{name}”; remove it first to replace it.")
        finally:
            self.changed(guild_id)

    async def remove_preset(self, guild_id: int, name: str) -> str | None:
        """The removed preset's own name; None when the server has none of that name (compared as
        `AvailableStyles.preset` does)."""
        preset = (await self.available(guild_id)).preset(name)
        try:
            if preset is not None and await self.store.remove_preset(guild_id, preset.ref.name):
                return preset.ref.name
            return None
        finally:
            self.changed(guild_id)
