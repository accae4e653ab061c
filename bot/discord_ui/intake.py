"""Intake: a command or a click becomes an accepted, queued job.

Every entry point (/stylize, the re-run buttons) defers with an ephemeral "thinking" reply within
Discord's 3 seconds (a pick in a style picker has already updated its private picker), so a problem
is reported only to the user who caused it. Intake checks the channel, the cooldown, capacity, the
inputs and the parameters; then the ledger accepts the job, the owner is answered, the job's public
card appears (after the private reply, which it would otherwise replace), and the job is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import discord

from bot.config import Config
from bot.core.errors import UserError
from bot.core.job import CardRef, Job, NewJob
from bot.core.ledger import Ledger
from bot.core.param_check import UserOptions, check_params, resolve_params
from bot.core.params import EngineSettings, JobParams, Rerun
from bot.core.server_settings import ServerSettings, load_settings
from bot.core.store import Store
from bot.discord_ui.attachments import ClipLimits, ImageInput, check_content, read_attachment
from bot.discord_ui.cooldowns import Cooldowns
from bot.limits import MAX_STYLES
from bot.queue.interface import QueueRefused, QueueUnavailable
from bot.styles.server_styles import ServerStyles
from stylecore.options import StyleOptions

log = logging.getLogger("stylebot.intake")


@dataclass(frozen=True)
class KeptPhoto:
    """A photo a member sent with an earlier interaction and the bot kept (a style picker's)."""

    name: str
    """As members see it (`attachments.display_name`)."""
    data: bytes


class Intake:
    def __init__(
        self,
        config: Config,
        engine: EngineSettings,
        store: Store,
        ledger: Ledger,
        cooldowns: Cooldowns,
        styles: ServerStyles,
    ) -> None:
        self.config = config
        self.engine = engine
        self.store = store
        self.ledger = ledger
        self.cooldowns = cooldowns
        self.styles = styles

    async def stylize(
        self,
        interaction: discord.Interaction,
        *,
        content: discord.Attachment | KeptPhoto,
        styles: Sequence[tuple[str, discord.Attachment]],
        named: Sequence[tuple[str, str]],
        options: UserOptions,
    ) -> Job | None:
        """/stylize, or a pick in a style picker (whose photo was kept: a `KeptPhoto`).

        `styles` pairs each style image, and `named` each preset or built-in as typed or picked, with the
        option that gave it (for messages); the job blends them in that order, images first.
        """

        async def build(settings: ServerSettings) -> NewJob:
            roles = [role for role, _ in styles] + [role for role, _ in named]
            if len(roles) > MAX_STYLES:
                raise UserError(
                    f"A job blends at most {MAX_STYLES} styles; this one has {len(roles)} ({', '.join(roles)}). "
                    "Leave some out."
                )
            available = await self.styles.available(interaction.guild_id)
            chosen = [available.find(typed) for _, typed in named]
            # A lone style brings its own settings (only built-ins have any), as on the command line.
            own = chosen[0].defaults if len(roles) == 1 and chosen else None
            # The content first: its parameters depend on whether it is a clip.
            content_input = await self.read_content(content, settings)
            params = resolve_params(
                options,
                settings,
                roles,
                named=[s.ref for s in chosen],
                own_defaults=own,
                frames=content_input.frames,
            )
            job_options = check_params(params, settings, self.engine)
            checked = [await self.read(image, role) for role, image in styles]
            style_inputs: list[bytes | Path] = [item.data for item in checked]
            style_inputs += [await style.read() for style in chosen]
            names = [item.name for item in checked] + [style.ref.label for style in chosen]
            return self._new_job(
                interaction, params, job_options, content_input.data, content_input.name, style_inputs, names
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
            available = await self.styles.available(interaction.guild_id)
            for ref in parent.params.named_styles:  # what was taken away since must stay away
                try:
                    available.get(ref)
                except UserError as exc:
                    raise UserError(f"Job {job_id} cannot be re-run: {exc}") from None
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
            check_channel(interaction, settings)
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

    async def read(self, attachment: discord.Attachment, role: str) -> ImageInput:
        """Download and check an image a member sent (`attachments.read_attachment`) under this bot's limits."""
        limits = self.config.limits
        return await read_attachment(
            attachment, role=role, max_bytes=limits.max_attachment_bytes, max_pixels=limits.max_pixels
        )

    async def read_content(self, content: discord.Attachment | KeptPhoto, settings: ServerSettings) -> ImageInput:
        """The content: a still image, or a clip within the server's limits (a kept photo is checked again:
        the limits may have changed with a restart since it was kept)."""
        limits = self.config.limits
        clips = ClipLimits(settings.max_frames, settings.max_video_size)
        if isinstance(content, discord.Attachment):
            return await read_attachment(
                content,
                role="content",
                max_bytes=limits.max_attachment_bytes,
                max_pixels=limits.max_pixels,
                clips=clips,
            )
        return await check_content(
            content.data,
            name=content.name,
            role="content",
            max_bytes=limits.max_attachment_bytes,
            max_pixels=limits.max_pixels,
            clips=clips,
        )


def check_channel(interaction: discord.Interaction, settings: ServerSettings) -> None:
    """UserError unless the server allows stylizing in the interaction's channel."""
    if interaction.guild_id is None or not settings.allowed_channels:
        return
    here = {interaction.channel_id, getattr(interaction.channel, "parent_id", None)}  # threads count as their parent
    if not here & set(settings.allowed_channels):
        where = " ".join(f"<#{channel}>" for channel in settings.allowed_channels)
        raise UserError(f"On this server, stylizing works in {where}.")
