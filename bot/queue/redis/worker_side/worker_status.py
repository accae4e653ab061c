"""A worker's status (`WorkerInfo`): beaten into Redis with a TTL, so a dead worker drops off the roll
by itself, and written to the heartbeat file that Docker's HEALTHCHECK reads (`bot.ops.health`'s format,
Redis in the place of the bot's Discord connection)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.ops.health import write_heartbeat
from bot.queue.redis.wire.connection import DOWN_ERRORS

if TYPE_CHECKING:
    from pathlib import Path

    import redis.asyncio as aioredis

    from bot.queue.engine.thread import EngineThread
    from bot.queue.redis.wire.keys import Keys
    from bot.queue.redis.wire.worker_info import WorkerInfo

log = logging.getLogger("stylebot.broker.worker")


def write_worker_heartbeat(
    path: str | os.PathLike[str], info: WorkerInfo, *, engine_last_beat: float, now: float | None = None
) -> None:
    """The worker's beat: Redis in the place of the bot's Discord connection, its counters as details."""
    write_heartbeat(
        path,
        gateway_connected=info.redis_connected,
        worker_last_beat=engine_last_beat,
        now=now,
        role="worker",
        details=json.loads(info.to_json()),
    )


class WorkerStatus:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        info: WorkerInfo,
        engine: EngineThread,
        *,
        heartbeat_s: float,
        heartbeat_path: Path | None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.info = info
        self.engine = engine
        self.heartbeat_s = heartbeat_s
        self.heartbeat_path = heartbeat_path

    def set(self, **changes: Any) -> None:
        self.info = replace(self.info, **changes)

    async def keep_beating(self) -> None:
        """Beat every `heartbeat_s` until cancelled, whether Redis answers or not (the file says which)."""
        while True:
            try:
                await self.beat()
                if not self.info.redis_connected:
                    self.set(redis_connected=True)
            except DOWN_ERRORS:
                self.set(redis_connected=False)  # the serving loop logs the outage
            self.write_file()
            await asyncio.sleep(self.heartbeat_s)

    async def beat(self) -> None:
        self.set(beat_at=time.time())
        ttl_ms = int(max(3.0, 3 * self.heartbeat_s) * 1000)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.worker(self.info.id), self.info.to_json(), px=ttl_ms)
            pipe.zadd(self.keys.workers, {self.info.id: self.info.beat_at})
            await pipe.execute()

    async def leave(self) -> None:
        """Leave the roll at once, rather than when the heartbeat expires.

        Only the heartbeat goes: the bot's next poll finds this worker gone, as it finds a dead one,
        and takes its name out of the roll and, once it holds no entry, out of the workers' group.
        """
        with contextlib.suppress(*DOWN_ERRORS):
            await asyncio.wait_for(self.redis.delete(self.keys.worker(self.info.id)), 2.0)
        self.write_file()

    def write_file(self) -> None:
        if self.heartbeat_path is not None:
            try:
                write_worker_heartbeat(self.heartbeat_path, self.info, engine_last_beat=self.engine.last_beat)
            except OSError as exc:
                log.warning("cannot write the heartbeat file %s: %s", self.heartbeat_path, exc)
