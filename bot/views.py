"""Buttons on job cards. Their custom ids carry the job id, so they keep working after a restart.

discord.py routes a click on any message to these `DynamicItem`s by matching the custom id's
template; no view has to be kept in memory for a card.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from .cards import Buttons
from .jobs import JOB_ID_PATTERN, JobParams, Rerun
from .store import Preset

if TYPE_CHECKING:
    from .app import StyleBot

PICKER_TIMEOUT_S = 300

RERUN_LABELS = {
    Rerun.STRONGER: "Stronger style",
    Rerun.WEAKER: "Weaker style",
    Rerun.SEED: "New seed",
}


class CancelButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                   template=rf"stylebot:cancel:(?P<job>{JOB_ID_PATTERN})"):
    def __init__(self, job_id: str) -> None:
        super().__init__(discord.ui.Button(label="Cancel", style=discord.ButtonStyle.danger,
                                           custom_id=f"stylebot:cancel:{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str], /) -> CancelButton:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        bot: StyleBot = interaction.client  # type: ignore[assignment]
        await bot.submissions.cancel(interaction, self.job_id)


class RerunButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                  template=rf"stylebot:rerun:(?P<variant>{'|'.join(Rerun)}):(?P<job>{JOB_ID_PATTERN})"):
    def __init__(self, job_id: str, variant: Rerun, label: str) -> None:
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary,
                                           custom_id=f"stylebot:rerun:{variant.value}:{job_id}"))
        self.job_id = job_id
        self.variant = variant

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str], /) -> RerunButton:
        return cls(match["job"], Rerun(match["variant"]), item.label or "")

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        bot: StyleBot = interaction.client  # type: ignore[assignment]
        await bot.submissions.rerun(interaction, self.job_id, self.variant)


def colour_label(params: JobParams) -> str:
    return "Keep colours" if params.preserve_colors == "none" else "Full colour"


def card_view(job_id: str, params: JobParams, buttons: Buttons) -> discord.ui.View | None:
    """The buttons under a card; None for none (an edit with None removes old buttons)."""
    if buttons == "none":
        return None
    view = discord.ui.View(timeout=None)
    if buttons == "cancel":
        view.add_item(CancelButton(job_id))
        return view
    for variant in (Rerun.STRONGER, Rerun.WEAKER, Rerun.COLOURS, Rerun.SEED):
        label = colour_label(params) if variant is Rerun.COLOURS else RERUN_LABELS[variant]
        view.add_item(RerunButton(job_id, variant, label))
    return view


class PresetPicker(discord.ui.View):
    """The "Stylize" menu's ephemeral choice of a server preset for the message's image."""

    def __init__(self, image: discord.Attachment, presets: list[Preset]) -> None:
        super().__init__(timeout=PICKER_TIMEOUT_S)
        self.image = image
        self.choice: discord.ui.Select[PresetPicker] = discord.ui.Select(
            placeholder="Choose a style preset",
            options=[discord.SelectOption(label=preset.name, value=preset.name) for preset in presets[:25]],
        )
        self.choice.callback = self.chosen  # type: ignore[method-assign]
        self.add_item(self.choice)

    async def chosen(self, interaction: discord.Interaction) -> None:
        name = self.choice.values[0]
        self.stop()
        await interaction.response.edit_message(content=f"Stylizing with the preset **{name}**…", view=None)
        bot: StyleBot = interaction.client  # type: ignore[assignment]
        await bot.submissions.stylize_message(interaction, self.image, name)
