"""Buttons on job cards: Cancel and the re-runs. Their custom ids carry the job id, so they work after a restart.

discord.py routes a click on any message to these `DynamicItem`s by matching the custom id's
template; no view has to be kept in memory for a card. A click reaches the bot's parts through
`interaction.client`, the one bot that received it.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.core.job import JOB_ID_PATTERN, Job, JobState
from bot.core.params import Rerun

if TYPE_CHECKING:
    from bot.app import StyleBot
    from bot.discord_ui.cards.render import Buttons

CANCEL_REPLIES = {
    JobState.CANCELLED: "Cancelled job `{id}`.",
    JobState.RUNNING: "Job `{id}` is stopping; its card will say when it has.",
    JobState.DONE: "Too late: job `{id}` finished before it could be stopped.",
    JobState.FAILED: "Job `{id}` had already failed.",
}


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"stylebot:cancel:(?P<job>{JOB_ID_PATTERN})"
):
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

    async def callback(self, interaction: discord.Interaction[StyleBot]) -> None:  # type: ignore[override]  # discord.py types it for any client; only this bot's clicks arrive
        """The job's owner, or anyone who may manage messages in the channel, may cancel it."""
        ledger = interaction.client.ledger
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

    async def callback(self, interaction: discord.Interaction[StyleBot]) -> None:  # type: ignore[override]  # discord.py types it for any client; only this bot's clicks arrive
        await interaction.client.intake.rerun(interaction, self.job_id, self.variant)


class TimelapseButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"stylebot:timelapse:(?P<job>{JOB_ID_PATTERN})"
):
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

    async def callback(self, interaction: discord.Interaction[StyleBot]) -> None:  # type: ignore[override]  # discord.py types it for any client; only this bot's clicks arrive
        """The job's progression as an animated image, posted in the channel for everyone."""
        bot = interaction.client
        job = await bot.ledger.job(self.job_id)
        path = bot.store.files.timelapse_path(job) if job else None
        data = await bot.store.files.read_output(path)
        if path is None or data is None:
            hours = bot.config.storage.retention_hours
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


#: The re-run buttons under a result, in order.
RESULT_RERUNS = (Rerun.STRONGER, Rerun.WEAKER, Rerun.COLOURS, Rerun.SEED, Rerun.UPSCALE)


def card_view(job: Job, buttons: Buttons) -> discord.ui.View | None:
    """The buttons under a card; None for none (an edit with None removes old buttons)."""
    if buttons == "none":
        return None
    view = discord.ui.View(timeout=None)
    if buttons == "cancel":
        view.add_item(CancelButton(job.id))
        return view
    for variant in RESULT_RERUNS:
        view.add_item(RerunButton(job.id, variant, variant.label(job.params)))
    if job.result is not None and job.result.timelapse_file:
        view.add_item(TimelapseButton(job.id))
    return view
