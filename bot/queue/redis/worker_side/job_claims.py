"""How a worker takes a job from the jobs stream: first an entry whose worker stopped responding
(XAUTOCLAIM, once idle for `reclaim_after_s`), else a new one (XREADGROUP)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.queue.redis.wire.connection import create_group
from bot.queue.redis.wire.keys import WORKERS_GROUP

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from bot.queue.redis.wire.keys import Keys

log = logging.getLogger("stylebot.broker.worker")


@dataclass(frozen=True)
class Claim:
    entry_id: bytes
    job_id: str
    deliveries: int
    """How many times the entry was handed out, this time included."""


class JobClaims:
    def __init__(
        self, redis: aioredis.Redis, keys: Keys, worker_id: str, *, reclaim_after_s: float, block_ms: int
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.worker_id = worker_id
        self.reclaim_after_s = reclaim_after_s
        self.block_ms = block_ms
        self.group_ready = False
        """False again when Redis went away or lost the stream: the group is created anew."""

    async def ensure_group(self) -> None:
        if self.group_ready:
            return
        await create_group(self.redis.xgroup_create(self.keys.jobs, WORKERS_GROUP, id="0", mkstream=True))
        self.group_ready = True

    async def next(self) -> Claim | None:
        """A job whose worker stopped responding first (it waited longest), else a new one."""
        reply: Any = await self.redis.xautoclaim(
            self.keys.jobs,
            WORKERS_GROUP,
            self.worker_id,
            min_idle_time=int(self.reclaim_after_s * 1000),
            start_id="0-0",
            count=1,
        )
        for entry_id, fields in reply[1]:
            if not fields:
                await self.redis.xack(self.keys.jobs, WORKERS_GROUP, entry_id)  # deleted: nothing to run
                continue
            pending = await self.redis.xpending_range(
                self.keys.jobs, WORKERS_GROUP, min=entry_id, max=entry_id, count=1
            )
            deliveries = int(pending[0]["times_delivered"]) if pending else 1
            job_id = fields[b"job"].decode()
            log.warning("job %s: taken over from a worker that stopped responding (delivery %d)", job_id, deliveries)
            return Claim(entry_id, job_id, deliveries)
        read: Any = await self.redis.xreadgroup(
            WORKERS_GROUP, self.worker_id, {self.keys.jobs: ">"}, count=1, block=self.block_ms
        )
        if not read or not read[0][1]:
            return None
        entry_id, fields = read[0][1][0]
        return Claim(entry_id, fields[b"job"].decode(), 1)
