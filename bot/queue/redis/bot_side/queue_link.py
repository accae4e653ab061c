"""What the parts of the bot's side (queue, dispatcher, roster, event reader) share: one Redis client,
the key names, the wait hook every round trip goes through, and whether Redis answered lately."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.queue.interface import IDLE_WAIT, WaitHook
from bot.queue.redis.wire.connection import Backoff

if TYPE_CHECKING:
    from collections.abc import Awaitable

    import redis.asyncio as aioredis

    from bot.queue.redis.wire.keys import Keys

log = logging.getLogger("stylebot.broker")


@dataclass
class QueueLink:
    redis: aioredis.Redis
    keys: Keys
    wait_hook: WaitHook
    job_ttl_s: int
    """How long a job's inputs, cancel key and result stay in Redis."""
    backoff_cap_s: float
    connected: bool = False
    """Whether the last round trip of the heartbeat poll or the event reader reached Redis."""
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a worker may have become free or a job joined the line: the dispatcher looks again."""

    async def io(self, awaitable: Awaitable[Any], reason: str = IDLE_WAIT) -> Any:
        """Every Redis round trip goes through the wait hook (simcord must know the loop waits on I/O).

        Typed Any: redis-py's reply types are unions over both response decodings; callers annotate.
        """
        return await self.wait_hook(awaitable, reason=reason)

    async def pause(self, delay: float) -> None:
        """Sleep between retries or polls, through the wait hook like any other wait."""
        await self.io(asyncio.sleep(delay))

    def backoff(self, what: str) -> Backoff:
        return Backoff(log, what, cap_s=self.backoff_cap_s)
