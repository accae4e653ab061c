"""Sending a card as a message of the bot's own, and the rules of Discord's interaction tokens."""

from __future__ import annotations

import logging

import discord
from discord.utils import MISSING

from .buttons import card_view
from .cards import Card
from .jobs import Job

log = logging.getLogger("stylebot.publisher")

TOKEN_LIFETIME_S = 15 * 60
#: Move cards with two minutes to spare: a waiting job's card may not be edited for a while.
HANDOVER_AFTER_S = 13 * 60
#: (HTTP status, Discord error code) pairs that mean "this interaction token is no longer valid".
EXPIRED_TOKEN_ERRORS = {(401, 50027), (404, 10015)}
NO_MENTIONS = discord.AllowedMentions.none()


def token_expired(error: discord.HTTPException) -> bool:
    return (error.status, error.code) in EXPIRED_TOKEN_ERRORS


async def send_own(client: discord.Client, job: Job, card: Card) -> discord.Message:
    """Send the card with the bot's own token: in the job's channel, or by DM when the channel refuses."""
    channel: discord.abc.Messageable = client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
    try:
        return await _send(channel, job, card)
    except (discord.Forbidden, discord.NotFound) as exc:
        log.info("job %s: cannot post in channel %s (%s); sending the card by DM", job.id, job.channel_id, exc.status)
    user = client.get_user(job.owner_id) or await client.fetch_user(job.owner_id)
    return await _send(user, job, card)


def view_of(job: Job, card: Card) -> discord.ui.View | None:
    return card_view(job, card.buttons)


async def _send(target: discord.abc.Messageable, job: Job, card: Card) -> discord.Message:
    return await target.send(
        content=card.content,
        embed=card.embed,
        files=card.files(),
        allowed_mentions=NO_MENTIONS,
        view=view_of(job, card) or MISSING,
    )
