"""/stylize and the "Stylize" message menu."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from stylecore.options import MAX_SIZE

from ..cooldowns import job_cooldown
from ..inputs import display_name
from ..jobs import MAX_SEED, MAX_STYLE_STRENGTH, MIN_STYLE_STRENGTH
from ..params import UserOptions
from ..settings import MIN_SIZE
from ..views import PresetPicker

if TYPE_CHECKING:
    from ..app import StyleBot

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}
OPTIMIZER_CHOICES = [
    Choice(name="L-BFGS (best quality)", value="lbfgs"),
    Choice(name="Adam (smooth, any size)", value="adam"),
    Choice(name="Adagrad", value="adagrad"),
    Choice(name="SGD", value="sgd"),
]
COLOUR_CHOICES = [
    Choice(name="Full colour: take the style's colours", value="none"),
    Choice(name="Keep colours: transfer brightness only", value="luminance"),
    Choice(name="Keep colours: match the style's colours to the photo", value="color"),
]


def first_image(message: discord.Message) -> discord.Attachment | None:
    """The message's first attachment that claims to be an image (it is checked properly later)."""
    for attachment in message.attachments:
        declared = (attachment.content_type or "").startswith("image/")
        if declared or PurePath(attachment.filename).suffix.lower() in IMAGE_EXTENSIONS:
            return attachment
    return None


class StylizeCog(commands.Cog):
    def __init__(self, bot: StyleBot) -> None:
        self.bot = bot
        # Context menus cannot be declared inside a cog class; they are added to the tree by hand.
        self.menu = app_commands.ContextMenu(name="Stylize", callback=self.stylize_message)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="stylize", description="Paint an image in the style of another (or of a preset)")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @job_cooldown()
    @app_commands.choices(optimizer=OPTIMIZER_CHOICES, preserve_colors=COLOUR_CHOICES)
    @app_commands.describe(
        content="The photo to repaint",
        style="The artwork whose style to use (or pick a preset)",
        style2="A second style image to blend in",
        style3="A third style image to blend in",
        preset="One of this server's style presets",
        iterations="More iterations: more detail, longer wait",
        size="Longest side of the result in pixels",
        style_strength="How strongly the style shows (1 = normal, 2 = twice as strong)",
        optimizer="The optimisation method",
        learning_rate="Step size of the optimizer (default: the optimizer's own)",
        beta1="Adam's first-moment decay",
        beta2="Adam's second-moment decay",
        epsilon="Adam's numerical-stability term",
        preserve_colors="Keep the photo's colours, or take the style's",
        style_weights="How much of each style, in order (style, style2, style3, preset), e.g. 2,1",
        seed="Random seed: the same seed and options give the same image",
    )
    async def stylize(
        self,
        interaction: discord.Interaction,
        content: discord.Attachment,
        style: discord.Attachment | None = None,
        style2: discord.Attachment | None = None,
        style3: discord.Attachment | None = None,
        preset: Range[str, 1, 100] | None = None,
        iterations: Range[int, 1, 10_000] | None = None,
        size: Range[int, MIN_SIZE, MAX_SIZE] | None = None,
        style_strength: Range[float, MIN_STYLE_STRENGTH, MAX_STYLE_STRENGTH] | None = None,
        optimizer: Choice[str] | None = None,
        learning_rate: Range[float, 1e-6, 1e4] | None = None,
        beta1: Range[float, 0.0, 0.9999] | None = None,
        beta2: Range[float, 0.0, 0.99999] | None = None,
        epsilon: Range[float, 1e-12, 1.0] | None = None,
        preserve_colors: Choice[str] | None = None,
        style_weights: Range[str, 1, 100] | None = None,
        seed: Range[int, 0, MAX_SEED] | None = None,
    ) -> None:
        styles = [(role, image) for role, image in (("style", style), ("style2", style2), ("style3", style3)) if image]
        options = UserOptions(
            iterations=iterations, size=size, style_strength=style_strength,
            optimizer=optimizer.value if optimizer else None, learning_rate=learning_rate,
            beta1=beta1, beta2=beta2, epsilon=epsilon,
            preserve_colors=preserve_colors.value if preserve_colors else None,
            style_weights=style_weights, seed=seed,
        )
        await self.bot.submissions.stylize(interaction, content=content, styles=styles, preset=preset, options=options)

    @stylize.autocomplete("preset")
    async def preset_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        if interaction.guild_id is None:
            return []
        presets = await self.bot.store.presets(interaction.guild_id)
        matching = [preset.name for preset in presets if current.lower() in preset.name.lower()]
        return [Choice(name=name, value=name) for name in matching[:25]]

    @app_commands.guild_only()
    @job_cooldown()
    async def stylize_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        image = first_image(message)
        if image is None:
            await interaction.response.send_message("That message has no image attached.", ephemeral=True)
            return
        assert interaction.guild_id is not None  # the menu is guild-only
        presets = await self.bot.store.presets(interaction.guild_id)
        if not presets:
            await interaction.response.send_message(
                "This server has no style presets yet; someone with Manage Server can add one with /stylepreset add.",
                ephemeral=True)
            return
        await interaction.response.send_message(
            f"Pick a style for {display_name(image.filename)}:", view=PresetPicker(image, presets), ephemeral=True)
