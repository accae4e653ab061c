"""What a job's card says: pure rendering, no Discord calls.

A card is one message per job that changes as the job moves: queued (#N, ETA), running
(a clip's frame, iteration, scale, elapsed, ETA, preview), then done (result, parameters, re-run
buttons), failed or cancelled.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Literal

import discord

from bot.core.job import Job, JobState, Snapshot
from bot.core.params import JobParams
from bot.limits import ENGINE_DEFAULTS
from bot.queue.payload import format_bytes

COLOURS = {
    JobState.QUEUED: discord.Colour.light_grey(),
    JobState.RUNNING: discord.Colour.blurple(),
    JobState.DONE: discord.Colour.green(),
    JobState.FAILED: discord.Colour.red(),
    JobState.CANCELLED: discord.Colour.dark_grey(),
}
COLOUR_MODES = {"none": "full colour", "luminance": "keep colours (luminance)", "color": "keep colours (histogram)"}
Buttons = Literal["cancel", "rerun", "none"]


@dataclass(frozen=True)
class Card:
    content: str | None
    embed: discord.Embed
    file: tuple[str, bytes] | None
    buttons: Buttons
    progress: bool
    """Shows a running job's progress: the edits that `progress_interval` throttles."""

    @property
    def key(self) -> str:
        """Equal keys render equal messages: used to skip edits that change nothing."""
        digest = hashlib.sha1(self.file[1]).hexdigest() if self.file else None
        return json.dumps(
            [self.content, self.embed.to_dict(), self.file and self.file[0], digest, self.buttons],
            sort_keys=True,
            default=str,
        )

    def files(self) -> list[discord.File]:
        return [discord.File(io.BytesIO(self.file[1]), filename=self.file[0])] if self.file else []


def render(state: Snapshot) -> Card:
    job = state.job
    embed = discord.Embed(colour=COLOURS[job.state])
    embed.set_footer(text=f"Job {job.id}")
    embed.add_field(name="Inputs", value=_inputs(job), inline=False)
    if job.state is JobState.QUEUED:
        embed.title = "Queued"
        lines = [f"**#{state.position}** in queue" if state.position else "Starting…"]
        if state.restarted:
            lines.append("The bot restarted; this job kept its place.")
        lines.append(f"ETA {_eta(state.eta)}")
        embed.description = "\n".join(lines)
        embed.add_field(name="Parameters", value=describe_params(job.params), inline=False)
        return Card(f"<@{job.owner_id}>", embed, None, "cancel", progress=False)
    if job.state is JobState.RUNNING:
        embed.title = "Stylizing"
        embed.description = _running(state)
        embed.add_field(name="Parameters", value=describe_params(job.params), inline=False)
        file = None
        if state.preview is not None:
            file = (f"preview-{job.id}.jpg", state.preview)
            embed.set_image(url=f"attachment://{file[0]}")
        return Card(f"<@{job.owner_id}>", embed, file, "cancel", progress=state.progress is not None)
    if job.state is JobState.DONE:
        assert job.result is not None
        result = job.result
        embed.title = "Done"
        took = f"Took {format_duration(result.elapsed)} on {result.device}"
        if result.stopped == "deadline":
            took += f" (stopped at the time limit after {result.iterations} iterations)"
        if result.size != job.params.size:
            took += f"; ran at {result.size} px after running out of GPU memory"
        kind = result.file_name.rsplit(".", 1)[-1].upper()
        frames = f" · {result.frames} frames" if result.frames > 1 else ""
        lines = [f"{took}.", f"{kind} · {result.width}×{result.height}{frames} · {format_bytes(result.bytes)}"]
        if result.fit:
            lines.append(f"{result.fit[:1].upper()}{result.fit[1:]} (the upload limit here).")
        embed.description = "\n".join(lines)
        embed.add_field(name="Parameters", value=describe_params(job.params), inline=False)
        file = None
        if state.result is not None:
            file = (result.file_name, state.result)
            if result.frames == 1:  # an embed shows only pictures: a clip plays as the message's attachment
                embed.set_image(url=f"attachment://{result.file_name}")
        what = "clip" if result.frames > 1 else "image"
        return Card(f"<@{job.owner_id}> your {what} is ready.", embed, file, "rerun", progress=False)
    if job.state is JobState.FAILED:
        embed.title = "Failed"
        embed.description = job.error or "The job failed."
        return Card(f"<@{job.owner_id}>", embed, None, "none", progress=False)
    embed.title = "Cancelled"
    who = f" by <@{job.cancelled_by}>" if job.cancelled_by else ""
    embed.description = f"Cancelled{who}."
    return Card(f"<@{job.owner_id}>", embed, None, "none", progress=False)


def moved_card(job: Job, link: str) -> Card:
    """What the interaction's card says once the job continues in a message the bot owns."""
    embed = discord.Embed(
        colour=COLOURS[job.state],
        title="Continued below",
        description=f"This job's card moved to {link} (Discord's 15-minute limit on this reply).",
    )
    embed.set_footer(text=f"Job {job.id}")
    return Card(None, embed, None, "none", progress=False)


def describe_params(params: JobParams) -> str:
    lr = "auto" if params.learning_rate is None else f"{params.learning_rate:g}"
    parts = [
        *([f"clip of {params.frames} frames"] if params.clip else []),
        f"size {params.size} px",
        f"{params.iterations} iterations" + (" (first frame)" if params.clip else ""),
        f"style strength {params.style_strength:g}",
        f"optimizer {params.optimizer} (learning rate {lr})",
    ]
    if params.optimizer == "adam":
        parts.append(f"beta1 {params.beta1:g}, beta2 {params.beta2:g}, epsilon {params.epsilon:g}")
    parts.append(COLOUR_MODES.get(params.preserve_colors, params.preserve_colors))
    if params.style_weights:
        parts.append("style weights " + ", ".join(f"{w:g}" for w in params.style_weights))
    if params.style_scale != ENGINE_DEFAULTS.style_scale:  # a built-in's own
        parts.append(f"style scale {params.style_scale:g}")
    parts.append(f"seed {params.seed}")
    return " · ".join(parts)


def format_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{max(0.0, seconds):.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _eta(seconds: float | None) -> str:
    return "unknown yet" if seconds is None else f"~{format_duration(seconds)}"


def _inputs(job: Job) -> str:
    text = f"content {job.content_name} · style {', '.join(job.style_names)}"
    if job.parent_id and job.variant:
        text += f" · re-run of {job.parent_id} ({job.variant.change(job.params)})"
    return text


def _running(state: Snapshot) -> str:
    lines = []
    if state.note:
        lines.append(state.note)
    progress = state.progress
    if progress is None or (progress.iteration == 0 and progress.tiles == 1):
        lines.append("Starting…")
    else:
        tile = f" · tile {progress.tile + 1}/{progress.tiles}" if progress.tiles > 1 else ""
        frame = f"Frame **{progress.frame + 1}/{progress.frames}** · " if progress.frames > 1 else ""
        lines.append(
            f"{frame}Iteration **{progress.iteration}/{progress.total}** · "
            f"scale {progress.scale + 1}/{progress.scales}"
            f" ({progress.width}×{progress.height}){tile}"
        )
        whole = " for the whole clip" if progress.frames > 1 else ""
        lines.append(f"{format_duration(progress.elapsed)} elapsed · ETA {_eta(progress.eta)}{whole}")
    return "\n".join(lines)
