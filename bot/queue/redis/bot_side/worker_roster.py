"""The bot's roll of its workers: their heartbeats, read every `poll_s`, and what their events said since
(a finished event frees a worker at once, not at its next beat)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from bot.queue.redis.wire.connection import DOWN_ERRORS
from bot.queue.redis.wire.worker_info import BUSY, IDLE, WorkerInfo

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.queue.redis.bot_side.dead_workers import DeadWorkers
    from bot.queue.redis.bot_side.queue_link import QueueLink

log = logging.getLogger("stylebot.broker")


class WorkerRoster:
    def __init__(self, link: QueueLink, poll_s: float, dead: DeadWorkers) -> None:
        """`dead`: told the workers whose heartbeat expired, once (before they leave the roll), and asked
        after every poll to clear what they left once it can."""
        self.link = link
        self.poll_s = poll_s
        self.dead = dead
        self.workers: dict[str, WorkerInfo] = {}
        """The live workers' last heartbeats."""
        self.last_reached = 0.0
        """When the poll last reached Redis (epoch s)."""
        self._touched: dict[str, tuple[int, str]] = {}
        """Worker id -> (event number, state) from events, newer than the last heartbeat poll."""
        self._event_seq = 0

    def idle(self) -> int:
        """Workers that will take a job now."""
        return sum(1 for worker_id, info in self.workers.items() if self._state(worker_id, info) == IDLE)

    def touch(self, worker_id: str, state: str) -> None:
        """A worker's event told its state: it holds until a poll that began after it."""
        self._event_seq += 1
        self._touched[worker_id] = (self._event_seq, state)

    def _state(self, worker_id: str, info: WorkerInfo) -> str:
        touched = self._touched.get(worker_id)
        return touched[1] if touched is not None else info.state

    async def keep_polling(self, then: Callable[[], Awaitable[None]]) -> None:
        """Poll the heartbeats until cancelled; after each poll that reached Redis, `then` (the queue's
        unsent cancels), since Redis is evidently back."""
        backoff = self.link.backoff("worker heartbeats")
        while True:
            try:
                await self.poll_once()
                await then()
                backoff.succeeded()
                self.link.connected = True
                self.last_reached = time.time()  # the bot's side of the queue is alive and reaches Redis
                delay = self.poll_s
            except DOWN_ERRORS as exc:
                self.link.connected = False
                delay = backoff.failed(exc)
            self.link.wakeup.set()
            await self.link.pause(delay)

    async def poll_once(self) -> None:
        seq = self._event_seq
        redis, keys = self.link.redis, self.link.keys
        members: list[bytes] = await self.link.io(redis.zrange(keys.workers, 0, -1))
        ids = [raw.decode() for raw in members]
        names = [keys.worker(worker_id) for worker_id in ids]
        beats: list[bytes | None] = await self.link.io(redis.mget(names)) if ids else []
        workers: dict[str, WorkerInfo] = {}
        gone: list[str] = []
        for worker_id, raw in zip(ids, beats, strict=True):
            if raw is None:
                gone.append(worker_id)  # its heartbeat expired: dead or cut off
                continue
            try:
                workers[worker_id] = WorkerInfo.from_json(raw)
            except (ValueError, TypeError) as exc:
                log.warning("unreadable heartbeat of worker %s: %s", worker_id, exc)
        if gone:
            await self.dead.hand_back(gone)  # first: if it fails, the next poll finds them gone again
            await self.link.io(redis.zrem(keys.workers, *gone))
        await self.dead.forget()
        self.workers = {worker_id: info for worker_id, info in workers.items() if info.state in (IDLE, BUSY)}
        # Events that arrived while this poll was in flight are newer than what it read.
        self._touched = {wid: touched for wid, touched in self._touched.items() if touched[0] > seq}
