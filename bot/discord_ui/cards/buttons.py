"""Buttons on job cards: Cancel, the re-runs and Timelapse. Their custom ids carry the job id, so they work
after a restart.

They are `DynamicItem`s (see `dynamic_items`): no view has to be kept in memory for a card. What a click
acts on (`ButtonActions`) is handed to the buttons when the bot registers them: `CardButtons` makes, for
one bot, copies of the three classes that hold its parts, and builds the cards' views from those copies.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import discord

from bot.core.job import JOB_ID_PATTERN, Job, JobState
from bot.core.job_files import JobFiles
from bot.core.ledger import Ledger
from bot.core.params import Rerun
from bot.discord_ui.cards.render import Buttons
from bot.discord_ui.dynamic_items import bound
from bot.discord_ui.intake import Intake


@dataclass(frozen=True)
class ButtonActions:
    """What the buttons of one bot's cards act on."""

    ledger: Ledger
    intake: Intake
    files: JobFiles
    retention_hours: float
    """How long a job's files are kept: a Timelapse click after that says so."""


CANCEL_REPLIES = {
    JobState.CANCELLED: "Cancelled job `{id}`.",
    JobState.RUNNING: "Job `{id}` is stopping; its card will say when it has.",
    JobState.DONE: "Too late: job `{id}` finished before it could be stopped.",
    JobState.FAILED: "Job `{id}` had already failed.",
}


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"stylebot:cancel:(?P<job>{JOB_ID_PATTERN})"
):
    actions: ClassVar[ButtonActions]
    """Set on the copy `CardButtons` makes for one bot (the class itself is never registered)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            discord.ui.Button(label="Cancel", style=discord.ButtonStyle.danger, custom_id=f"stylebot:cancel:{job_id}")
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelButton:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """The job's owner, or anyone who may manage messages in the channel, may cancel it."""
        ledger = self.actions.ledger
        job = await ledger.job(self.job_id)
        if job is None:
            await interaction.response.send_message(f"Job `{self.job_id}` is no longer known.", ephemeral=True)
            return
        if interaction.user.id != job.owner_id and not interaction.permissions.manage_messages:
            await interaction.response.send_message(
                f"Only <@{job.owner_id}> or someone with the Manage Messages permission can cancel job "
                f"`{self.job_id}`.",
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        if not job.state.active:
            await interaction.response.send_message(
                f"Job `{self.job_id}` already ended ({job.state.value}).", ephemeral=True
            )
            return
        # A running job stops within one iteration, which may take a moment on a big image.
        await interaction.response.defer(ephemeral=True, thinking=True)
        state = await ledger.cancel(self.job_id, by=interaction.user.id)
        reply = CANCEL_REPLIES.get(state, "Job `{id}` already ended.") if state else "Job `{id}` already ended."
        await interaction.edit_original_response(content=reply.format(id=self.job_id))


class RerunButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"stylebot:rerun:(?P<variant>{'|'.join(Rerun)}):(?P<job>{JOB_ID_PATTERN})",
):
    actions: ClassVar[ButtonActions]
    """Set on the copy `CardButtons` makes for one bot (the class itself is never registered)."""

    def __init__(self, job_id: str, variant: Rerun, label: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"stylebot:rerun:{variant.value}:{job_id}"
            )
        )
        self.job_id = job_id
        self.variant = variant

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RerunButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(match["job"], Rerun(match["variant"]), label or "")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await self.actions.intake.rerun(interaction, self.job_id, self.variant)


class TimelapseButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"stylebot:timelapse:(?P<job>{JOB_ID_PATTERN})"
):
    actions: ClassVar[ButtonActions]
    """Set on the copy `CardButtons` makes for one bot (the class itself is never registered)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Timelapse", style=discord.ButtonStyle.secondary, custom_id=f"stylebot:timelapse:{job_id}"
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> TimelapseButton:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """The job's progression as an animated image, posted in the channel for everyone."""
        files = self.actions.files
        job = await self.actions.ledger.job(self.job_id)
        path = files.timelapse_path(job) if job else None
        data = await files.read_output(path)
        if path is None or data is None:
            hours = self.actions.retention_hours
            await interaction.response.send_message(
                f"The timelapse of job `{self.job_id}` is no longer kept (a job's files are deleted {hours:g} "
                "hours after it ends).",
                ephemeral=True,
            )
            return
        await interaction.response.send_message(
            f"Timelapse of job `{self.job_id}`, for <@{interaction.user.id}>.",
            file=discord.File(io.BytesIO(data), filename=path.name),
            allowed_mentions=discord.AllowedMentions.none(),
        )


#: The re-run buttons under a result, in order; a clip's have no Upscale ×2 (it paints still images).
RESULT_RERUNS = (Rerun.STRONGER, Rerun.WEAKER, Rerun.COLOURS, Rerun.SEED, Rerun.UPSCALE)
CLIP_RERUNS = tuple(variant for variant in RESULT_RERUNS if variant is not Rerun.UPSCALE)


class CardButtons:
    """One bot's card buttons: the classes discord.py routes its clicks to (`item_types`, registered at
    start-up), bound to what they act on, and the view under a card made of them (`view`)."""

    def __init__(self, actions: ButtonActions) -> None:
        self.cancel = bound(CancelButton, actions)
        self.rerun = bound(RerunButton, actions)
        self.timelapse = bound(TimelapseButton, actions)

    def item_types(self) -> tuple[type[discord.ui.DynamicItem[Any]], ...]:
        return self.cancel, self.rerun, self.timelapse

    def view(self, job: Job, buttons: Buttons) -> discord.ui.View | None:
        """The buttons under a card; None for none (an edit with None removes old buttons)."""
        if buttons == "none":
            return None
        view = discord.ui.View(timeout=None)
        if buttons == "cancel":
            view.add_item(self.cancel(job.id))
            return view
        for variant in CLIP_RERUNS if job.params.clip else RESULT_RERUNS:
            view.add_item(self.rerun(job.id, variant, variant.label(job.params)))
        if job.result is not None and job.result.timelapse_file:  # never a clip's
            view.add_item(self.timelapse(job.id))
        return view
