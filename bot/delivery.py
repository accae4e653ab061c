"""Keeping each job's card up to date on Discord, whatever Discord answers.

A card starts as a follow-up of the user's interaction, edited with the interaction token. That
token dies 15 minutes after the interaction, so before then (or as soon as Discord says it is
gone: 401/50027 or 404/10015) the card moves to a message the bot sends with its own token,
in the channel or, failing that, in the owner's DMs. Progress edits that fail are dropped; a final
card that cannot be shown is retried later by the job service, so a result always arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from typing import Protocol

import discord

from .cards import Card, moved_card
from .jobs import CardRef, Job
from .views import card_view

log = logging.getLogger("stylebot.delivery")

TOKEN_LIFETIME_S = 15 * 60
#: Move cards with two minutes to spare: a waiting job's card may not be edited for a while.
HANDOVER_AFTER_S = 13 * 60
#: (HTTP status, Discord error code) pairs that mean "this interaction token is no longer valid".
EXPIRED_TOKEN_ERRORS = {(401, 50027), (404, 10015)}
NO_MENTIONS = discord.AllowedMentions.none()


def token_expired(error: discord.HTTPException) -> bool:
    return (error.status, error.code) in EXPIRED_TOKEN_ERRORS


def token_age(ref: CardRef) -> float:
    # discord.utils.utcnow follows Discord's clock (and simcord's virtual one in tests).
    return discord.utils.utcnow().timestamp() - ref.token_issued_at


class CardSource(Protocol):
    """The job service, as the publisher sees it."""

    def render_card(self, job_id: str) -> tuple[Job, Card] | None:
        """The job and its card as of now; None once the job is no longer tracked."""

    async def card_moved(self, job: Job) -> None:
        """`job.card` changed: persist it."""

    async def card_shown(self, job: Job, card: Card) -> None:
        """A final card (done, failed, cancelled) reached Discord."""


class CardPublisher:
    """Coalesces update requests per job and sends at most one edit at a time per card."""

    def __init__(self, bot: discord.Client, source: CardSource, *, progress_interval: float) -> None:
        self.bot = bot
        self.source = source
        self.progress_interval = progress_interval
        self._pending: dict[str, bool] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._last_key: dict[str, str] = {}
        self._last_progress_at: dict[str, float] = {}
        self._previewed: set[str] = set()

    def request(self, job_id: str, *, force: bool = False) -> None:
        """Bring the job's card up to date soon. `force` skips the throttle and the unchanged-check."""
        self._pending[job_id] = self._pending.get(job_id, False) or force
        if job_id not in self._tasks:
            self._tasks[job_id] = asyncio.create_task(self._drain(job_id), name=f"stylebot-card-{job_id}")

    def busy(self, job_id: str) -> bool:
        return job_id in self._tasks

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def post(self, interaction: discord.Interaction, job: Job, card: Card) -> None:
        """Send the job's first card as a public follow-up; on failure the card goes to the channel later."""
        try:
            message = await interaction.followup.send(**_message_args(job, card), wait=True)
        except discord.HTTPException as exc:
            log.warning("could not post the card of job %s: %s", job.id, exc)
            return
        job.card = CardRef(interaction.application_id, interaction.token, message.id,
                           interaction.created_at.timestamp())
        self._last_key[job.id] = card.key
        await self.source.card_moved(job)

    async def _drain(self, job_id: str) -> None:
        try:
            while job_id in self._pending:
                force = self._pending.pop(job_id)
                rendered = self.source.render_card(job_id)
                if rendered is None:
                    break
                await self._refresh(*rendered, force=force)
        finally:
            del self._tasks[job_id]

    async def _refresh(self, job: Job, card: Card, *, force: bool) -> None:
        final = not job.state.active
        now = time.monotonic()
        preview = card.progress and card.file is not None
        if not force and not final:
            if card.key == self._last_key.get(job.id):
                return
            last = self._last_progress_at.get(job.id)
            # The first preview is what the user waits for: it is never held back.
            first_preview = preview and job.id not in self._previewed
            if card.progress and last is not None and now - last < self.progress_interval and not first_preview:
                return
        if not await self.show(job, card, final=final):
            return
        if final:
            self._last_key.pop(job.id, None)
            self._last_progress_at.pop(job.id, None)
            self._previewed.discard(job.id)
            await self.source.card_shown(job, card)
            return
        self._last_key[job.id] = card.key
        if card.progress:
            self._last_progress_at[job.id] = now
        if preview:
            self._previewed.add(job.id)

    async def show(self, job: Job, card: Card, *, final: bool) -> bool:
        """Put `card` on Discord; False if that failed this time (the caller decides about retrying)."""
        before = job.card
        try:
            ref = job.card
            if ref is None:
                await self._move(job, card)
            elif ref.moved:
                await self._edit_own(job, card)
            elif token_age(ref) >= HANDOVER_AFTER_S:
                await self._move(job, card)
            else:
                try:
                    await self._edit_interaction(job, ref, card)
                except discord.HTTPException as exc:
                    # An expired token always moves the card; any other failure only for a final card,
                    # whose result must arrive (a progress edit is simply dropped).
                    if not (token_expired(exc) or final):
                        raise
                    log.info("job %s: card edit failed (%s %s); moving the card", job.id, exc.status, exc.code)
                    await self._move(job, card)
            return True
        except discord.HTTPException as exc:
            log.warning("job %s: card not updated: %s %s %s", job.id, exc.status, exc.code, exc.text)
            return False
        finally:
            if job.card != before:
                await self.source.card_moved(job)

    async def _edit_interaction(self, job: Job, ref: CardRef, card: Card) -> None:
        assert ref.token is not None and ref.message_id is not None
        webhook = discord.Webhook.partial(ref.application_id, ref.token, client=self.bot)
        await webhook.edit_message(ref.message_id, **_edit_args(job, card))

    async def _edit_own(self, job: Job, card: Card) -> None:
        ref = job.card
        assert ref is not None and ref.moved_channel_id is not None and ref.moved_message_id is not None
        message = self.bot.get_partial_messageable(ref.moved_channel_id).get_partial_message(ref.moved_message_id)
        try:
            await message.edit(**_edit_args(job, card))
        except discord.NotFound:
            await self._move(job, card)  # someone deleted the card: post a fresh one

    async def _move(self, job: Job, card: Card) -> None:
        """Continue the card in a message sent with the bot's own token (channel first, then DMs)."""
        message = await self._send_own(job, card)
        old = job.card
        if old is None:
            job.card = CardRef(0, None, None, 0.0, message.channel.id, message.id)
            return
        job.card = replace(old, moved_channel_id=message.channel.id, moved_message_id=message.id)
        if old.token and not old.moved and token_age(old) < TOKEN_LIFETIME_S:
            # Best effort: point the old card at the new message, and take its buttons away.
            with contextlib.suppress(discord.HTTPException):
                await self._edit_interaction(job, old, moved_card(job, message.jump_url))

    async def _send_own(self, job: Job, card: Card) -> discord.Message:
        channel = self.bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        try:
            return await channel.send(**_message_args(job, card))
        except (discord.Forbidden, discord.NotFound) as exc:
            log.info("job %s: cannot post in channel %s (%s); sending the card by DM",
                     job.id, job.channel_id, exc.status)
        user = self.bot.get_user(job.owner_id) or await self.bot.fetch_user(job.owner_id)
        return await user.send(**_message_args(job, card))


def _message_args(job: Job, card: Card) -> dict[str, object]:
    args: dict[str, object] = {"content": card.content, "embed": card.embed, "files": card.files(),
                               "allowed_mentions": NO_MENTIONS}
    view = card_view(job.id, job.params, card.buttons)
    if view is not None:
        args["view"] = view
    return args


def _edit_args(job: Job, card: Card) -> dict[str, object]:
    # attachments= replaces the old preview (or removes it); view=None removes old buttons.
    return {"content": card.content, "embed": card.embed, "attachments": card.files(),
            "view": card_view(job.id, job.params, card.buttons), "allowed_mentions": NO_MENTIONS}
