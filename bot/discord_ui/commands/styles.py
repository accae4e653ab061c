"""/styles: the styles usable here as one image, the contact sheet (built-ins, then the server's presets)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_ui.style_display import sheet_file
from bot.styles.server_styles import AvailableStyles, ServerStyles
from bot.styles.sheets import StyleSheets


class StylesCog(commands.Cog):
    def __init__(self, styles: ServerStyles, sheets: StyleSheets) -> None:
        self.styles = styles
        self.sheets = sheets

    @app_commands.command(name="styles", description="See the styles you can use here, as one picture")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @app_commands.describe(public="Post it in the channel for everyone (default: only you see it)")
    async def show_styles(self, interaction: discord.Interaction, public: bool = False) -> None:
        await interaction.response.defer(ephemeral=not public, thinking=True)
        available = await self.styles.available(interaction.guild_id)
        sheet = await self.sheets.sheet(available, max_bytes=interaction.filesize_limit)
        if sheet is None:
            await interaction.edit_original_response(
                content=f"No styles to show. {available.why_none}; /stylize takes a style image (style:) too."
            )
            return
        await interaction.edit_original_response(content=summary(available), attachments=[sheet_file(sheet)])


def summary(available: AvailableStyles) -> str:
    """What the sheet shows, and the two ways to use a style."""
    counts = []
    if available.builtins:
        counts.append(f"{len(available.builtins)} built-in")
    if available.in_server:
        counts.append(f"{len(available.presets)} of this server's presets")
    return (
        f"Styles you can use here: {' and '.join(counts)}. Name one in /stylize's `preset` option, or send "
        "/stylize with just a photo and pick one from a menu."
    )
