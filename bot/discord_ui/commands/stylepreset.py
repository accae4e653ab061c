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
from bot.discord_ui.attachments import read_attachment
from bot.discord_ui.style_display import autocomplete, preset_choices, sheet_file
from bot.styles.server_styles import ServerStyles
from bot.styles.sheets import StyleSheets

#: Presets per server: a full contact sheet (six rows of cells), and with the built-ins two pages of the picker.
MAX_PRESETS = 25
NAME_PATTERN = re.compile(r"[\w][\w '\-]{0,31}")


class StylePresetCog(commands.Cog):
    # Not hidden: everyone may list the presets; add and remove check Manage Server when run.
    group = app_commands.Group(name="stylepreset", description="This server's style presets", guild_only=True)

    def __init__(self, styles: ServerStyles, sheets: StyleSheets, config: Config, clock: Clock) -> None:
        self.styles = styles
        self.sheets = sheets
        self.config = config
        self.clock = clock

    @group.command(name="add", description="Add a style preset (Manage Server)")
    @app_commands.describe(name="A short name members will pick", image="The style image")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def add(self, interaction: discord.Interaction, name: Range[str, 1, 32], image: discord.Attachment) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        name = name.strip()
        limits = self.config.limits
        try:
            if not NAME_PATTERN.fullmatch(name):
                raise UserError(
                    "A preset name uses letters, digits, spaces, - and ' (up to 32), starting with a letter or digit."
                )
            if len((await self.styles.available(interaction.guild_id)).presets) >= MAX_PRESETS:
                raise UserError(
                    f"This server already has {MAX_PRESETS} presets, the most it may have; remove one first."
                )
            checked = await read_attachment(
                image, role="preset", max_bytes=limits.max_attachment_bytes, max_pixels=limits.max_pixels
            )
            await self.styles.add_preset(interaction.guild_id, name, checked.data, interaction.user.id, self.clock())
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
        if removed := await self.styles.remove_preset(interaction.guild_id, name):
            await interaction.response.send_message(f"Removed the preset **{removed}**.", ephemeral=True)
        else:
            await interaction.response.send_message(f"❌ There is no preset named “{name}”.", ephemeral=True)

    @group.command(name="list", description="Show this server's style presets")
    async def list_presets(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        styles = await self.styles.available(interaction.guild_id)
        sheet = await self.sheets.sheet(styles, max_bytes=interaction.filesize_limit, presets_only=True)
        if sheet is None:
            await interaction.edit_original_response(content="This server has no style presets yet.")
            return
        names = ", ".join(f"**{style.ref.name}**" for style in styles.presets)
        await interaction.edit_original_response(content=f"Style presets: {names}", attachments=[sheet_file(sheet)])

    @remove.autocomplete("name")
    async def name_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        return await autocomplete(self.styles, interaction.guild_id, lambda styles: preset_choices(styles, current))
