"""The command tree: failed checks and unexpected errors become a short ephemeral message."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

log = logging.getLogger("stylebot.commands")

#: Discord's own names, where they differ from the API's ("Manage Server", not "Manage Guild").
PERMISSION_NAMES = {"manage_guild": "Manage Server"}


class StyleTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CommandOnCooldown):
            message = f"Slow down: you can use this again in {error.retry_after:.0f} s."
        elif isinstance(error, app_commands.MissingPermissions):
            needed = ", ".join(
                PERMISSION_NAMES.get(name, name.replace("_", " ").title()) for name in error.missing_permissions
            )
            message = f"You need the {needed} permission for this."
        elif isinstance(error, app_commands.NoPrivateMessage):
            message = "This command only works in a server."
        elif isinstance(error, app_commands.CheckFailure):
            message = "You can't use this command here."
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("command %s failed", command, exc_info=error)
            message = "Something went wrong on our side; it has been logged. Please try again."
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
