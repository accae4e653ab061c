"""One cooldown per user, shared by every way of starting a job (/stylize, the menu, re-runs).

Buckets are discord.py's `app_commands.Cooldown`; they live on the bot (not in a decorator's
closure, which would be shared by every bot in the process) so /stylize and the message menu
draw on the same allowance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import discord
from discord import app_commands

T = TypeVar("T")


class Cooldowns:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._buckets: dict[int, app_commands.Cooldown] = {}

    def hit(self, user_id: int, now: float) -> app_commands.Cooldown | None:
        """Count one request; the user's bucket if that request is over the limit, else None."""
        if self.seconds <= 0:
            return None
        for user, bucket in list(self._buckets.items()):
            if now > bucket._last + bucket.per:  # forget users whose cooldown is long over
                del self._buckets[user]
        bucket = self._buckets.setdefault(user_id, app_commands.Cooldown(1, self.seconds))
        return bucket if bucket.update_rate_limit(now) else None


def job_cooldown() -> Callable[[T], T]:
    """An app-command check: raises CommandOnCooldown while the user is cooling down."""

    async def predicate(interaction: discord.Interaction[Any]) -> bool:
        cooldowns: Cooldowns = interaction.client.cooldowns  # type: ignore[attr-defined]
        now = interaction.created_at.timestamp()
        bucket = cooldowns.hit(interaction.user.id, now)
        if bucket is not None:
            raise app_commands.CommandOnCooldown(bucket, bucket.get_retry_after(now))
        return True

    return app_commands.check(predicate)
