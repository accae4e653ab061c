"""Where each job's card lives on Discord, and getting a card there whatever Discord answers.

A card starts as a follow-up of the user's interaction, edited with the interaction token. That
token dies 15 minutes after the interaction, so before then (or as soon as Discord says it is
gone: 401/50027 or 404/10015) the card moves to a message the bot sends with its own token, in
the channel or, failing that, in the owner's DMs; the old card then links to the new one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

import discord
from discord.utils import MISSING

from bot.core.job import CardRef, Clock, Job
from bot.core.store import Store
from bot.discord_ui.cards.render import Buttons, Card, moved_card

log = logging.getLogger("stylebot.publisher")

TOKEN_LIFETIME_S = 15 * 60
#: Move cards with two minutes to spare: a waiting job's card may not be edited for a while.
HANDOVER_AFTER_S = 13 * 60
#: (HTTP status, Discord error code) pairs that mean "this interaction token is no longer valid".
EXPIRED_TOKEN_ERRORS = {(401, 50027), (404, 10015)}
NO_MENTIONS = discord.AllowedMentions.none()

CardView = Callable[[Job, Buttons], discord.ui.View | None]
"""The buttons under a card (`buttons.CardButtons.view`); None for none."""


class CardPlacement:
    """The cards' messages: where each lives now (recorded in the store as it moves), and showing a card there."""

    def __init__(self, client: discord.Client, store: Store, card_view: CardView, *, clock: Clock) -> None:
        self.client = client
        self.card_view = card_view
        self.store = store
        self.clock = clock
        self._refs: dict[str, CardRef | None] = {}
        """Where each card is since it changed here; until then, where its job says (`Job.card`)."""

    def ref(self, job: Job) -> CardRef | None:
        return self._refs.get(job.id, job.card)

    def forget(self, job_id: str) -> None:
        """The job's final card is shown: its location is the store's alone from now on."""
        self._refs.pop(job_id, None)

    def hand_over_due(self, job: Job) -> bool:
        """The card is still edited with an interaction token that is about to expire."""
        ref = self.ref(job)
        return ref is not None and bool(ref.token) and not ref.moved and self._token_age(ref) >= HANDOVER_AFTER_S

    async def show(self, job: Job, card: Card, *, final: bool) -> bool:
        """Put `card` on Discord; False if that failed this time (the caller decides about retrying)."""
        before = ref = self.ref(job)
        try:
            if ref is None:
                await self._move(job, card)
            elif ref.moved:
                await self._edit_own(job, ref, card)
            elif ref.message_id is None:
                await self._post_follow_up(job, ref, card)
            elif self._token_age(ref) >= HANDOVER_AFTER_S:
                await self._move(job, card)
            else:
                try:
                    await self._edit_interaction(job, ref, card)
                except discord.HTTPException as exc:
                    # An expired token always moves the card; any other failure only for a final card,
                    # whose result must arrive (a progress edit is simply dropped).
                    if not (_token_expired(exc) or final):
                        raise
                    log.info("job %s: card edit failed (%s %s); moving the card", job.id, exc.status, exc.code)
                    await self._move(job, card)
            return True
        except discord.HTTPException as exc:
            log.warning("job %s: card not updated: %s %s %s", job.id, exc.status, exc.code, exc.text)
            return False
        finally:
            after = self.ref(job)
            if after != before and after is not None:
                await self.store.save_card(job.id, after)

    def _token_age(self, ref: CardRef) -> float:
        return self.clock() - ref.token_issued_at

    def _webhook(self, ref: CardRef) -> discord.Webhook:
        assert ref.token is not None
        return discord.Webhook.partial(ref.application_id, ref.token, client=self.client)

    async def _post_follow_up(self, job: Job, ref: CardRef, card: Card) -> None:
        """The first card: a public follow-up of the user's interaction."""
        try:
            message = await self._webhook(ref).send(
                content=card.content or MISSING,
                embed=card.embed,
                files=card.files(),
                allowed_mentions=NO_MENTIONS,
                view=self._view(job, card) or MISSING,
                wait=True,
            )
        except discord.HTTPException as exc:
            log.warning("could not post the card of job %s as a reply (%s); posting it in the channel", job.id, exc)
            self._refs[job.id] = None
            await self._move(job, card)
            return
        self._refs[job.id] = replace(ref, message_id=message.id)

    async def _edit_interaction(self, job: Job, ref: CardRef, card: Card) -> None:
        assert ref.message_id is not None
        # attachments= replaces the old preview (or removes it); view=None removes old buttons.
        await self._webhook(ref).edit_message(
            ref.message_id,
            content=card.content,
            embed=card.embed,
            attachments=card.files(),
            view=self._view(job, card),
            allowed_mentions=NO_MENTIONS,
        )

    async def _edit_own(self, job: Job, ref: CardRef, card: Card) -> None:
        assert ref.moved_channel_id is not None and ref.moved_message_id is not None
        message = self.client.get_partial_messageable(ref.moved_channel_id).get_partial_message(ref.moved_message_id)
        try:
            await message.edit(
                content=card.content,
                embed=card.embed,
                attachments=card.files(),
                view=self._view(job, card),
                allowed_mentions=NO_MENTIONS,
            )
        except discord.NotFound:
            await self._move(job, card)  # someone deleted the card: post a fresh one

    async def _move(self, job: Job, card: Card) -> None:
        """Continue the card in a message sent with the bot's own token (channel first, then DMs)."""
        message = await self._send_own(job, card)
        old = self.ref(job)
        if old is None or old.message_id is None:
            self._refs[job.id] = CardRef(0, None, None, 0.0, message.channel.id, message.id)
            return
        self._refs[job.id] = replace(old, moved_channel_id=message.channel.id, moved_message_id=message.id)
        if old.token and not old.moved and self._token_age(old) < TOKEN_LIFETIME_S:
            # Best effort: point the old card at the new message, and take its buttons away.
            with contextlib.suppress(discord.HTTPException):
                await self._edit_interaction(job, old, moved_card(job, message.jump_url))

    def _view(self, job: Job, card: Card) -> discord.ui.View | None:
        return self.card_view(job, card.buttons)

    async def _send_own(self, job: Job, card: Card) -> discord.Message:
        """Send the card with the bot's own token: in the job's channel, or by DM when the channel refuses."""
        channel: discord.abc.Messageable = self.client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        try:
            return await self._send(channel, job, card)
        except (discord.Forbidden, discord.NotFound) as exc:
            log.info(
                "job %s: cannot post in channel %s (%s); sending the card by DM", job.id, job.channel_id, exc.status
            )
        user = self.client.get_user(job.owner_id) or await self.client.fetch_user(job.owner_id)
        return await self._send(user, job, card)

    async def _send(self, target: discord.abc.Messageable, job: Job, card: Card) -> discord.Message:
        return await target.send(
            content=card.content,
            embed=card.embed,
            files=card.files(),
            allowed_mentions=NO_MENTIONS,
            view=self._view(job, card) or MISSING,
        )


def _token_expired(error: discord.HTTPException) -> bool:
    return (error.status, error.code) in EXPIRED_TOKEN_ERRORS
