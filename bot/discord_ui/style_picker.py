"""The style picker: a photo sent without a style gets a private menu of the styles usable here, under their
contact sheet, instead of an error. /stylize with only a photo shows it, and so does the "Stylize" message
menu; a pick queues the job as if the style had been given with the command, with every other option.

The request (the photo and the options) is kept in the store, and the menu is a persistent component whose
custom id carries the request's id, so a pick works after a restart. A picker lives as long as the
command's interaction token (15 minutes, after which its message can no longer be changed): a pick after
that says so, and housekeeping deletes the requests of expired pickers.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from dataclasses import asdict
from typing import Any, ClassVar

import discord

from bot.config import Config
from bot.core.errors import UserError
from bot.core.param_check import UserOptions, parse_style_weights
from bot.core.server_settings import load_settings
from bot.core.store import PendingPick, Store, new_pick_id
from bot.discord_ui.cards.placement import TOKEN_LIFETIME_S
from bot.discord_ui.dynamic_items import bound
from bot.discord_ui.intake import Intake, KeptPhoto, check_channel
from bot.discord_ui.style_display import MAX_CHOICES, select_option, sheet_file
from bot.styles.server_styles import AvailableStyles, ServerStyles
from bot.styles.sheets import StyleSheets

log = logging.getLogger("stylebot.picker")

#: How long a picker takes picks: as long as its message can be updated.
PICK_LIFETIME_S = TOKEN_LIFETIME_S
PICK_ID_PATTERN = r"[0-9a-f]{16}"
#: How the picked style is named in messages about the job's styles (e.g. a style_weights that does not fit).
PICKED_ROLE = "picked style"
EXPIRED = (
    f"This style picker has expired (a picker lasts {PICK_LIFETIME_S // 60} minutes), so nothing was queued. "
    "Send the photo with /stylize again."
)


class PickMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=rf"stylebot:pick:(?P<pick>{PICK_ID_PATTERN})"):
    actions: ClassVar[StylePicker]
    """Set on the copy `StylePicker` makes for one bot (the class itself is never registered)."""

    def __init__(self, pick_id: str, options: list[discord.SelectOption] | None = None) -> None:
        super().__init__(
            discord.ui.Select(custom_id=f"stylebot:pick:{pick_id}", placeholder="Choose a style", options=options or [])
        )
        self.pick_id = pick_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PickMenu:
        return cls(match["pick"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await self.actions.picked(interaction, self.pick_id, self.item.values[0])


class PickPage(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"stylebot:pickpage:(?P<pick>{PICK_ID_PATTERN}):(?P<page>[0-9]{{1,3}})",
):
    actions: ClassVar[StylePicker]
    """Set on the copy `StylePicker` makes for one bot (the class itself is never registered)."""

    def __init__(self, pick_id: str, page: int, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"stylebot:pickpage:{pick_id}:{page}"
            )
        )
        self.pick_id = pick_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PickPage:
        return cls(match["pick"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await self.actions.turn_page(interaction, self.pick_id, self.page)


class StylePicker:
    """Offers pickers and acts on their picks; its menu and page buttons are registered with the bot
    (`item_types`)."""

    def __init__(self, config: Config, store: Store, intake: Intake, styles: ServerStyles, sheets: StyleSheets) -> None:
        self.config = config
        self.store = store
        self.intake = intake
        self.styles = styles
        self.sheets = sheets
        self.menu = bound(PickMenu, self)
        self.page = bound(PickPage, self)

    def item_types(self) -> tuple[type[discord.ui.DynamicItem[Any]], ...]:
        return self.menu, self.page

    async def offer(self, interaction: discord.Interaction, content: discord.Attachment, options: UserOptions) -> None:
        """Answer privately with a picker for `content` (checked first, so a bad photo is said at once)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            settings, _ = await load_settings(self.store, self.config, interaction.guild_id)
            check_channel(interaction, settings)
            # Before the picker: a pick could not change them, so every pick would be refused.
            parse_style_weights(options.style_weights, [PICKED_ROLE])
            available = await self.styles.available(interaction.guild_id)
            if not available.all:
                raise UserError(f"A style is needed: attach a style image (style:). {available.why_none}.")
            photo = await self.intake.read_content(content, settings)
            pick = PendingPick(
                id=new_pick_id(),
                owner_id=interaction.user.id,
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id or 0,
                created_at=interaction.created_at.timestamp(),
                content_name=photo.name,
                options=asdict(options),
            )
            await self.store.add_pick(pick, photo.data)
        except UserError as exc:  # anything else reaches the command tree, which answers and logs it
            await interaction.edit_original_response(content=f"❌ {exc}")
            return
        sheet = await self._sheet(available, interaction.filesize_limit)
        await interaction.edit_original_response(
            content=_prompt(pick.content_name, available, 0),
            view=self._view(pick.id, available, 0),
            attachments=[sheet] if sheet else [],
        )

    async def picked(self, interaction: discord.Interaction, pick_id: str, value: str) -> None:
        """A style was picked: queue the job with the kept photo and options; after a refusal the menu stays."""
        pick = await self._open(interaction, pick_id)
        if pick is None:
            return
        # First, so the menu is gone before anything slow: one pick, one job.
        await interaction.response.edit_message(content=f"Stylizing {pick.content_name}…", view=None)
        try:
            data = await asyncio.to_thread(self.store.pick_photo(pick_id).read_bytes)
        except FileNotFoundError:  # expired and deleted by housekeeping a moment ago
            await interaction.edit_original_response(content=EXPIRED, attachments=[])
            return
        job = await self.intake.stylize(
            interaction,
            content=KeptPhoto(pick.content_name, data),
            styles=[],
            named=[(PICKED_ROLE, value)],
            options=UserOptions(**pick.options),
        )
        if job is not None:
            await self.store.delete_pick(pick_id)
            return
        # Refused (a preset removed meanwhile, the queue full…): intake said why; the member may pick again.
        available = await self.styles.available(pick.guild_id)
        if available.all:
            await interaction.edit_original_response(view=self._view(pick_id, available, 0))

    async def turn_page(self, interaction: discord.Interaction, pick_id: str, page: int) -> None:
        pick = await self._open(interaction, pick_id)
        if pick is None:
            return
        available = await self.styles.available(pick.guild_id)
        if not available.all:
            await interaction.response.edit_message(content=f"❌ {available.why_none}.", view=None)
            return
        await interaction.response.edit_message(
            content=_prompt(pick.content_name, available, page), view=self._view(pick_id, available, page)
        )

    async def _open(self, interaction: discord.Interaction, pick_id: str) -> PendingPick | None:
        """The picker's request, if it is still open; else the member is told it expired."""
        pick = await self.store.pick(pick_id)
        if pick is None or interaction.created_at.timestamp() - pick.created_at >= PICK_LIFETIME_S:
            if pick is not None:
                await self.store.delete_pick(pick_id)
            await interaction.response.edit_message(content=EXPIRED, view=None, attachments=[])
            return None
        # Only its member sees a picker (it is ephemeral), and its id is a random 64-bit number.
        return pick

    def _view(self, pick_id: str, available: AvailableStyles, page: int) -> discord.ui.View:
        styles = available.all
        page = _clamp_page(page, len(styles))
        view = discord.ui.View(timeout=None)
        shown = styles[page * MAX_CHOICES : (page + 1) * MAX_CHOICES]
        view.add_item(self.menu(pick_id, [select_option(style) for style in shown]))
        if page > 0:
            view.add_item(self.page(pick_id, page - 1, "◀ Previous styles"))
        if (page + 1) * MAX_CHOICES < len(styles):
            view.add_item(self.page(pick_id, page + 1, "More styles ▶"))
        return view

    async def _sheet(self, available: AvailableStyles, max_bytes: int) -> discord.File | None:
        """The contact sheet to show above the menu; None if it cannot be drawn (the menu works without)."""
        try:
            sheet = await self.sheets.sheet(available, max_bytes=max_bytes)
        except Exception:
            log.exception("drawing the contact sheet for a picker failed")
            return None
        return sheet_file(sheet) if sheet else None


def _clamp_page(page: int, count: int) -> int:
    return max(0, min(page, math.ceil(count / MAX_CHOICES) - 1))


def _prompt(content_name: str, available: AvailableStyles, page: int) -> str:
    count = len(available.all)
    if count <= MAX_CHOICES:
        return f"Pick a style for {content_name}:"
    page = _clamp_page(page, count)
    first, last = page * MAX_CHOICES + 1, min(count, (page + 1) * MAX_CHOICES)
    return f"Pick a style for {content_name} (styles {first}–{last} of {count}):"
