"""Intake: a command or a click becomes an accepted, queued job.

Every entry point (/stylize, the "Stylize" message menu, the re-run buttons) defers with an
ephemeral "thinking" reply within Discord's 3 seconds, so a problem is reported only to the user
who caused it. Intake checks the channel, the cooldown, capacity, the inputs and the parameters;
then the ledger accepts the job, the owner is answered, the job's public card appears (after the
private reply, which it would otherwise replace), and the job is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import discord

from bot.config import Config
from bot.core.errors import UserError
from bot.core.job import CardRef, Job, NewJob
from bot.core.ledger import Ledger
from bot.core.param_check import UserOptions, check_params, resolve_params
from bot.core.params import EngineSettings, JobParams, Rerun
from bot.core.server_settings import ServerSettings, load_settings
from bot.core.store import Preset, Store
from bot.discord_ui.attachments import ClipLimits, ImageInput, read_attachment
from bot.discord_ui.cooldowns import Cooldowns
from bot.queue.interface import QueueRefused, QueueUnavailable
from stylecore.options import StyleOptions

log = logging.getLogger("stylebot.intake")


class Intake:
    def __init__(
        self, config: Config, engine: EngineSettings, store: Store, ledger: Ledger, cooldowns: Cooldowns
    ) -> None:
        self.config = config
        self.engine = engine
        self.store = store
        self.ledger = ledger
        self.cooldowns = cooldowns

    async def stylize(
        self,
        interaction: discord.Interaction,
        *,
        content: discord.Attachment,
        styles: list[tuple[str, discord.Attachment]],
        preset: str | None,
        options: UserOptions,
    ) -> Job | None:
        """/stylize: `styles` pairs each attachment with the option that carried it (for messages)."""

        async def build(settings: ServerSettings) -> NewJob:
            if not styles and not preset:
                raise UserError(
                    "A style is needed: attach a style image (style:) or pick one of the server's presets (preset:)."
                )
            chosen = await self._preset(interaction, preset) if preset else None
            content_input = await self._read_content(content, settings)
            params = resolve_params(options, settings, len(styles) + (1 if chosen else 0), frames=content_input.frames)
            job_options = check_params(params, settings, self.engine)
            checked = [await self._read(image, role) for role, image in styles]
            style_inputs: list[bytes | Path] = [item.data for item in checked]
            names = [item.name for item in checked]
            if chosen:
                style_inputs.append(await _preset_bytes(chosen))
                names.append(f"preset {chosen.name}")
            return self._new_job(
                interaction, params, job_options, content_input.data, content_input.name, style_inputs, names
            )

        return await self._submit(interaction, build)

    async def stylize_message(
        self, interaction: discord.Interaction, image: discord.Attachment, preset: str
    ) -> Job | None:
        """The "Stylize" message menu, once a preset was picked: the message's image is the content."""

        async def build(settings: ServerSettings) -> NewJob:
            chosen = await self._preset(interaction, preset)
            content_input = await self._read_content(image, settings)
            params = resolve_params(UserOptions(), settings, 1, frames=content_input.frames)
            job_options = check_params(params, settings, self.engine)
            return self._new_job(
                interaction,
                params,
                job_options,
                content_input.data,
                content_input.name,
                [await _preset_bytes(chosen)],
                [f"preset {chosen.name}"],
            )

        return await self._submit(interaction, build)

    async def rerun(self, interaction: discord.Interaction, job_id: str, variant: Rerun) -> Job | None:
        """A re-run button: a new job (owned by whoever clicked) from the same inputs, one thing changed."""
        files = self.store.files

        async def build(settings: ServerSettings) -> NewJob:
            parent = await self.ledger.job(job_id)
            if parent is None or not await asyncio.to_thread(files.content_path(parent).exists):
                hours = self.config.storage.retention_hours
                raise UserError(
                    f"The images of job {job_id} are no longer kept (they are deleted {hours:g} hours "
                    "after a job ends). Start a new job with /stylize."
                )
            init = None
            if variant is Rerun.UPSCALE:
                init = files.result_path(parent)
                if parent.result is None or init is None or not await asyncio.to_thread(init.exists):
                    raise UserError(f"The result of job {job_id} is no longer kept, so it cannot be upscaled.")
                params = self._upscaled(parent.params, parent.result.size, settings)
            else:
                params = parent.params.rerun(variant)
            job_options = check_params(params, settings, self.engine)
            new = self._new_job(
                interaction,
                params,
                job_options,
                files.content_path(parent),
                parent.content_name,
                list(files.style_paths(parent)),
                list(parent.style_names),
            )
            return replace(new, parent_id=parent.id, variant=variant, init=init)

        return await self._submit(interaction, build)

    async def _submit(
        self, interaction: discord.Interaction, build: Callable[[ServerSettings], Awaitable[NewJob]]
    ) -> Job | None:
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            settings, _ = await load_settings(self.store, self.config, interaction.guild_id)
            _check_channel(interaction, settings)
            self._check_cooldown(interaction)
            self._check_capacity(interaction.user.id, settings)  # before any download
            new = await build(settings)
            self._check_capacity(interaction.user.id, settings)  # again: the downloads took time
            job = await self.ledger.accept(new)
        except (UserError, QueueRefused) as exc:  # unavailable, or images too large to carry
            await interaction.edit_original_response(content=f"❌ {exc}")
            return None
        except Exception:
            # A bug or a disk error: the user must not be left with "thinking…" forever.
            log.exception("accepting a job from %s failed", interaction.user.id)
            await interaction.edit_original_response(
                content="❌ Something went wrong on our side; it has been logged and nothing was queued. "
                "Please try again."
            )
            return None
        # The ephemeral reply must be complete before the public card, or the card would replace it.
        # From here on the job is accepted: a Discord error must not keep it out of the queue.
        with contextlib.suppress(discord.HTTPException):
            await interaction.edit_original_response(
                content=f"✅ Queued as job `{job.id}`; its card is below. /queue shows your jobs."
            )
        await self.ledger.announce(job.id)
        await self.ledger.enqueue(job.id)
        return job

    def _upscaled(self, params: JobParams, result_size: int, settings: ServerSettings) -> JobParams:
        target = result_size * 2
        if target > settings.max_upscale_size:
            raise UserError(
                f"Upscale ×2 would make a {target} px image; this server allows upscales up to "
                f"{settings.max_upscale_size} px (max_upscale_size in /stylesettings)."
            )
        return self.engine.upscaled(params, result_size)

    def _check_capacity(self, user_id: int, settings: ServerSettings) -> None:
        if not self.ledger.queue_available():
            raise QueueUnavailable("The job queue is unavailable right now; please try again in a minute.")
        waiting = self.ledger.waiting_count()
        if waiting >= self.config.limits.queue_max:
            raise UserError(f"The queue is full ({waiting} jobs waiting). Please try again in a few minutes.")
        mine = len(self.ledger.user_jobs(user_id))
        if mine >= settings.jobs_per_user:
            raise UserError(
                f"You already have {mine} job(s) queued or running; the limit is "
                f"{settings.jobs_per_user}. Wait for one to finish, or cancel one (see /queue)."
            )

    def _check_cooldown(self, interaction: discord.Interaction) -> None:
        now = interaction.created_at.timestamp()
        bucket = self.cooldowns.hit(interaction.user.id, now)
        if bucket is not None:
            raise UserError(f"Slow down: you can start another job in {bucket.get_retry_after(now):.0f} s.")

    def _new_job(
        self,
        interaction: discord.Interaction,
        params: JobParams,
        options: StyleOptions,
        content: bytes | Path,
        content_name: str,
        styles: list[bytes | Path],
        style_names: list[str],
    ) -> NewJob:
        # The card begins as a follow-up of this interaction; the publisher posts it.
        card = CardRef(interaction.application_id, interaction.token, None, interaction.created_at.timestamp())
        return NewJob(
            owner_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id or 0,
            params=params,
            options=options,
            content=content,
            content_name=content_name,
            styles=tuple(styles),
            style_names=tuple(style_names),
            filesize_limit=interaction.filesize_limit,
            card=card,
        )

    async def _read(self, attachment: discord.Attachment, role: str) -> ImageInput:
        limits = self.config.limits
        return await read_attachment(
            attachment, role=role, max_bytes=limits.max_attachment_bytes, max_pixels=limits.max_pixels
        )

    async def _read_content(self, attachment: discord.Attachment, settings: ServerSettings) -> ImageInput:
        """The content: a still image, or a clip within the server's limits."""
        limits = self.config.limits
        return await read_attachment(
            attachment,
            role="content",
            max_bytes=limits.max_attachment_bytes,
            max_pixels=limits.max_pixels,
            clips=ClipLimits(settings.max_frames, settings.max_video_size),
        )

    async def _preset(self, interaction: discord.Interaction, name: str) -> Preset:
        if interaction.guild_id is None:
            raise UserError("Presets belong to servers; in DMs, attach a style image instead.")
        preset = await self.store.preset(interaction.guild_id, name)
        if preset is None:
            raise UserError(
                f"This server has no preset named “{discord.utils.escape_markdown(name)}”; "
                "/stylepreset list shows them."
            )
        return preset


async def _preset_bytes(preset: Preset) -> bytes:
    try:
        return await asyncio.to_thread(preset.path.read_bytes)
    except FileNotFoundError:
        raise UserError(f"The preset “{preset.name}” was removed a moment ago; pick another.") from None


def _check_channel(interaction: discord.Interaction, settings: ServerSettings) -> None:
    if interaction.guild_id is None or not settings.allowed_channels:
        return
    here = {interaction.channel_id, getattr(interaction.channel, "parent_id", None)}  # threads count as their parent
    if not here & set(settings.allowed_channels):
        where = " ".join(f"<#{channel}>" for channel in settings.allowed_channels)
        raise UserError(f"On this server, stylizing works in {where}.")
