"""/stylepreset add | remove | list: a server's named style images."""

from __future__ import annotations

import re

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.config import Config
from bot.core.errors import UserError
from bot.core.job import Clock
from bot.core.store import Store
from bot.discord_ui.attachments import read_attachment

#: A select menu (the "Stylize" message menu) holds at most 25 options.
MAX_PRESETS = 25
NAME_PATTERN = re.compile(r"[\w][\w '\-]{0,31}")
#: Discord shows at most 25 autocomplete choices.
MAX_CHOICES = 25


async def preset_choices(store: Store, guild_id: int | None, current: str) -> list[Choice[str]]:
    """Autocomplete: the server's presets whose names contain what was typed so far."""
    if guild_id is None:
        return []
    presets = await store.presets(guild_id)
    return [Choice(name=p.name, value=p.name) for p in presets if current.lower() in p.name.lower()][:MAX_CHOICES]


class StylePresetCog(commands.Cog):
    # Not hidden: everyone may list the presets; add and remove check Manage Server when run.
    group = app_commands.Group(name="stylepreset", description="This server's style presets", guild_only=True)

    def __init__(self, store: Store, config: Config, clock: Clock) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    @group.command(name="add", description="Add a style preset (Manage Server)")
    @app_commands.describe(name="A short name members will pick", image="The style image")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def add(self, interaction: discord.Interaction, name: Range[str, 1, 32], image: discord.Attachment) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        name = name.strip()
        store = self.store
        limits = self.config.limits
        try:
            if not NAME_PATTERN.fullmatch(name):
                raise UserError(
                    "A preset name uses letters, digits, spaces, - and ' (up to 32), starting with a letter or digit."
                )
            if len(await store.presets(interaction.guild_id)) >= MAX_PRESETS:
                raise UserError(
                    f"This server already has {MAX_PRESETS} presets, the most a menu can show; remove one first."
                )
            checked = await read_attachment(
                image, role="preset", max_bytes=limits.max_attachment_bytes, max_pixels=limits.max_pixels
            )
            if not await store.add_preset(interaction.guild_id, name, checked.data, interaction.user.id, self.clock()):
                raise UserError(f"There is already a preset named “{name}”; remove it first to replace it.")
        except UserError as exc:
            await interaction.edit_original_response(content=f"❌ {exc}")
            return
        await interaction.edit_original_response(
            content=f"Added the preset **{name}** ({checked.width}×{checked.height})."
        )

    @group.command(name="remove", description="Remove a style preset (Manage Server)")
    @app_commands.describe(name="The preset to remove")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def remove(self, interaction: discord.Interaction, name: Range[str, 1, 100]) -> None:
        assert interaction.guild_id is not None
        if await self.store.remove_preset(interaction.guild_id, name):
            await interaction.response.send_message(f"Removed the preset **{name.strip()}**.", ephemeral=True)
        else:
            await interaction.response.send_message(f"❌ There is no preset named “{name}”.", ephemeral=True)

    @group.command(name="list", description="List this server's style presets")
    async def list_presets(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        presets = await self.store.presets(interaction.guild_id)
        if not presets:
            text = "This server has no style presets yet."
        else:
            text = "Style presets: " + ", ".join(f"**{preset.name}**" for preset in presets)
        await interaction.response.send_message(text, ephemeral=True)

    @remove.autocomplete("name")
    async def name_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        return await preset_choices(self.store, interaction.guild_id, current)
