"""/queue: the caller's jobs and the length of the queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from ..cards import format_duration
from ..jobs import Job, JobState

if TYPE_CHECKING:
    from ..app import StyleBot


class QueueCog(commands.Cog):
    def __init__(self, bot: StyleBot) -> None:
        self.bot = bot

    @app_commands.command(name="queue", description="Your jobs and how long the queue is")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def queue(self, interaction: discord.Interaction) -> None:
        service = self.bot.service
        jobs = service.user_jobs(interaction.user.id)
        lines = [self._line(job) for job in jobs] or ["You have no jobs in the queue."]
        lines.append(f"Queue: {service.waiting_count()} waiting, {service.running_count()} running.")
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    def _line(self, job: Job) -> str:
        service = self.bot.service
        eta = service.eta(job.id)
        eta_text = f", ETA ~{format_duration(eta)}" if eta is not None else ""
        if job.state is JobState.RUNNING:
            progress = service.progress(job.id)
            done = f" (iteration {progress.iteration}/{progress.total})" if progress and progress.iteration else ""
            where = f"running{done}"
        else:
            where = f"#{service.position(job.id)} in queue" if service.position(job.id) else "starting"
        return f"`{job.id}` {where}{eta_text}{_link(job)}"


def _link(job: Job) -> str:
    ref = job.card
    if ref is None:
        return ""
    channel, message = (ref.moved_channel_id, ref.moved_message_id) if ref.moved else (job.channel_id, ref.message_id)
    if message is None:
        return ""
    return f" · [card](https://discord.com/channels/{job.guild_id or '@me'}/{channel}/{message})"
