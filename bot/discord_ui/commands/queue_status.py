"""/queue: the caller's jobs, the length of the queue, and the workers serving it."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.job import CardRef, Job, JobState, Snapshot
from bot.core.ledger import Ledger
from bot.discord_ui.cards.render import format_duration
from bot.discord_ui.publisher import Publisher


class QueueStatusCog(commands.Cog):
    def __init__(self, ledger: Ledger, publisher: Publisher) -> None:
        self.ledger = ledger
        self.publisher = publisher

    @app_commands.command(name="queue", description="Your jobs and how long the queue is")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def queue(self, interaction: discord.Interaction) -> None:
        ledger = self.ledger
        lines = [self._line(snapshot) for snapshot in ledger.user_snapshots(interaction.user.id)] or [
            "You have no jobs in the queue."
        ]
        workers = ledger.workers_online()
        lines.append(
            f"Queue: {ledger.waiting_count()} waiting, {ledger.running_count()} running; "
            f"{workers} worker{'' if workers == 1 else 's'} online."
        )
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    def _line(self, snapshot: Snapshot) -> str:
        job, progress = snapshot.job, snapshot.progress
        eta_text = f", ETA ~{format_duration(snapshot.eta)}" if snapshot.eta is not None else ""
        if job.state is JobState.RUNNING:
            done = ""
            if progress and progress.iteration:
                frame = f"frame {progress.frame + 1}/{progress.frames}, " if progress.frames > 1 else ""
                done = f" ({frame}iteration {progress.iteration}/{progress.total})"
            where = f"running{done}"
        else:
            where = f"#{snapshot.position} in queue" if snapshot.position else "starting"
        return f"`{job.id}` {where}{eta_text}{_link(job, self.publisher.card_ref(job))}"


def _link(job: Job, ref: CardRef | None) -> str:
    if ref is None:
        return ""
    channel, message = (ref.moved_channel_id, ref.moved_message_id) if ref.moved else (job.channel_id, ref.message_id)
    if message is None:
        return ""
    return f" · [card](https://discord.com/channels/{job.guild_id or '@me'}/{channel}/{message})"
