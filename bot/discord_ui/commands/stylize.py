"""/stylize, and the "Stylize" message menu; without a style, both show the style picker (`style_picker`)."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, get_args

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.core.param_check import UserOptions
from bot.discord_ui.intake import Intake
from bot.discord_ui.style_display import autocomplete, style_choices
from bot.discord_ui.style_picker import StylePicker
from bot.limits import BETA1, BETA2, EPSILON, ITERATIONS, LEARNING_RATE, SEED, SIZE, STYLE_STRENGTH
from bot.styles.server_styles import ServerStyles
from stylecore.options import ColorMode, OptimizerName

#: What the message menu picks as content by its name or declared type (the bytes decide later).
MEDIA_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".mp4", ".webm", ".mov"}
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
# The engine's names, typed: a choice's value comes back as a plain string.
OPTIMIZER_VALUES: dict[str, OptimizerName] = {name: name for name in get_args(OptimizerName)}
COLOUR_VALUES: dict[str, ColorMode] = {name: name for name in get_args(ColorMode)}


def first_image(message: discord.Message) -> discord.Attachment | None:
    """The message's first attachment that claims to be an image or a video (it is checked properly later)."""
    for attachment in message.attachments:
        declared = (attachment.content_type or "").startswith(("image/", "video/"))
        if declared or PurePath(attachment.filename).suffix.lower() in MEDIA_EXTENSIONS:
            return attachment
    return None


class StylizeCog(commands.Cog):
    def __init__(
        self, tree: app_commands.CommandTree[Any], intake: Intake, picker: StylePicker, styles: ServerStyles
    ) -> None:
        self.tree = tree
        self.intake = intake
        self.picker = picker
        self.styles = styles
        # Context menus cannot be declared inside a cog class; they are added to the tree by hand.
        self.menu = app_commands.ContextMenu(name="Stylize", callback=self.stylize_message)

    async def cog_load(self) -> None:
        self.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="stylize", description="Paint a photo in the style of an artwork (or pick a style)")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @app_commands.choices(optimizer=OPTIMIZER_CHOICES, preserve_colors=COLOUR_CHOICES)
    @app_commands.describe(
        content="The photo (or GIF, WebP, MP4, WebM, MOV clip) to repaint; alone: pick a style from a menu",
        style="The artwork whose style to use (or name a style with preset)",
        style2="A second style image to blend in",
        style3="A third style image to blend in",
        preset="A built-in style or one of this server's presets (/styles shows them)",
        preset2="Another built-in style or preset to blend in",
        preset3="A third built-in style or preset to blend in",
        iterations="More iterations: more detail, longer wait",
        size="Longest side of the result in pixels",
        style_strength="How strongly the style shows (1 = normal, 2 = twice as strong)",
        optimizer="The optimisation method",
        learning_rate="Step size of the optimizer (default: the optimizer's own)",
        beta1="Adam's first-moment decay",
        beta2="Adam's second-moment decay",
        epsilon="Adam's numerical-stability term",
        preserve_colors="Keep the photo's colours, or take the style's",
        style_weights="How much of each style, in order style, style2, style3, preset, preset2, preset3; e.g. 2,1",
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
        preset2: Range[str, 1, 100] | None = None,
        preset3: Range[str, 1, 100] | None = None,
        iterations: Range[int, ITERATIONS.lo, ITERATIONS.hi] | None = None,
        size: Range[int, SIZE.lo, SIZE.hi] | None = None,
        style_strength: Range[float, STYLE_STRENGTH.lo, STYLE_STRENGTH.hi] | None = None,
        optimizer: Choice[str] | None = None,
        learning_rate: Range[float, LEARNING_RATE.lo, LEARNING_RATE.hi] | None = None,
        beta1: Range[float, BETA1.lo, BETA1.hi] | None = None,
        beta2: Range[float, BETA2.lo, BETA2.hi] | None = None,
        epsilon: Range[float, EPSILON.lo, EPSILON.hi] | None = None,
        preserve_colors: Choice[str] | None = None,
        style_weights: Range[str, 1, 100] | None = None,
        seed: Range[int, SEED.lo, SEED.hi] | None = None,
    ) -> None:
        styles = [(role, image) for role, image in (("style", style), ("style2", style2), ("style3", style3)) if image]
        named = [
            (role, name) for role, name in (("preset", preset), ("preset2", preset2), ("preset3", preset3)) if name
        ]
        options = UserOptions(
            iterations=iterations,
            size=size,
            style_strength=style_strength,
            optimizer=OPTIMIZER_VALUES[optimizer.value] if optimizer else None,
            learning_rate=learning_rate,
            beta1=beta1,
            beta2=beta2,
            epsilon=epsilon,
            preserve_colors=COLOUR_VALUES[preserve_colors.value] if preserve_colors else None,
            style_weights=style_weights,
            seed=seed,
        )
        if not styles and not named:
            await self.picker.offer(interaction, content, options)
            return
        await self.intake.stylize(interaction, content=content, styles=styles, named=named, options=options)

    @stylize.autocomplete("preset")
    @stylize.autocomplete("preset2")
    @stylize.autocomplete("preset3")
    async def style_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        return await autocomplete(self.styles, interaction.guild_id, lambda styles: style_choices(styles, current))

    @app_commands.guild_only()
    async def stylize_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        image = first_image(message)
        if image is None:
            await interaction.response.send_message("That message has no image or video attached.", ephemeral=True)
            return
        await self.picker.offer(interaction, image, UserOptions())
