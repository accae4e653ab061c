"""/stylesettings show | set | reset: a server's defaults and limits (Manage Server)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from bot.config import Config
from bot.core.errors import UserError
from bot.core.server_settings import SETTING_KEYS, format_setting, load_settings
from bot.core.store import Store
from bot.styles.server_styles import ServerStyles

KEY_CHOICES = [Choice(name=f"{key.name}: {key.description}"[:100], value=key.name) for key in SETTING_KEYS.values()]


class StyleSettingsCog(commands.Cog):
    # Hidden from members without Manage Server by default; each subcommand checks it again at run
    # time, because a server can override who sees a command.
    group = app_commands.Group(
        name="stylesettings",
        description="This server's style-transfer defaults and limits",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, store: Store, config: Config, styles: ServerStyles) -> None:
        self.store = store
        self.config = config
        self.styles = styles
        """Told of every change: builtin_styles decides which styles the server offers."""

    @group.command(name="show", description="Show this server's settings")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        settings, overrides = await load_settings(self.store, self.config, interaction.guild_id)
        lines = []
        for key in SETTING_KEYS.values():
            source = "server" if key.name in overrides else "default"
            lines.append(
                f"**{key.name}**: {format_setting(key.name, getattr(settings, key.name))} "
                f"({source}) — {key.description}"
            )
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    @group.command(name="set", description="Change one setting")
    @app_commands.describe(key="The setting to change", value="Its new value (channels: #mentions, or “all”)")
    @app_commands.choices(key=KEY_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def set(
        self, interaction: discord.Interaction, key: Choice[str], value: app_commands.Range[str, 1, 1000]
    ) -> None:
        assert interaction.guild is not None
        try:
            parsed = SETTING_KEYS[key.value].parse(value, self.config)
            if key.value == "allowed_channels":
                unknown = [channel for channel in parsed if interaction.guild.get_channel_or_thread(channel) is None]
                if unknown:
                    raise UserError(f"{' '.join(f'<#{c}>' for c in unknown)} is not a channel of this server.")
        except UserError as exc:
            await interaction.response.send_message(f"❌ {exc}", ephemeral=True)
            return
        await self.store.set_guild_setting(interaction.guild.id, key.value, parsed)
        self.styles.changed(interaction.guild.id)
        await interaction.response.send_message(
            f"**{key.value}** is now {format_setting(key.value, parsed)}.", ephemeral=True
        )

    @group.command(name="reset", description="Reset one setting (or all) to the bot's default")
    @app_commands.describe(key="The setting to reset; leave out to reset every setting")
    @app_commands.choices(key=KEY_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def reset(self, interaction: discord.Interaction, key: Choice[str] | None = None) -> None:
        assert interaction.guild_id is not None
        await self.store.reset_guild_settings(interaction.guild_id, key.value if key else None)
        self.styles.changed(interaction.guild_id)
        what = f"**{key.value}** is" if key else "All settings are"
        await interaction.response.send_message(f"{what} back to the bot's default.", ephemeral=True)
