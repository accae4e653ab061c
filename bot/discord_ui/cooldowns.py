"""One cooldown per user, shared by every way of starting a job (/stylize, the menu, re-runs).

Buckets are discord.py's `app_commands.Cooldown`. They live in one object per bot, which intake
asks, rather than in a decorator's closure, which every bot in the process would share.
"""

from __future__ import annotations

from discord import app_commands


class Cooldowns:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._buckets: dict[int, app_commands.Cooldown] = {}

    def hit(self, user_id: int, now: float) -> app_commands.Cooldown | None:
        """Count one request; the user's bucket if that request is over the limit, else None."""
        if self.seconds <= 0:
            return None
        for user, bucket in list(self._buckets.items()):
            if bucket.get_retry_after(now) == 0:  # forget users whose cooldown is over
                del self._buckets[user]
        bucket = self._buckets.setdefault(user_id, app_commands.Cooldown(1, self.seconds))
        return bucket if bucket.update_rate_limit(now) else None
