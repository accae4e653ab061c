"""The bot's waiting line and its dispatcher: a job goes to the jobs stream only when a worker is free
to take it, so the stream never holds a backlog and the order jobs start in is the fair order.

A job's images go to Redis with its stream entry, in one step (`scripts.DISPATCH`), read from the bot's
own files at that moment: a job that waited in the line through a Redis restart, or that Redis lost
and the audit put back, is sent whole again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from bot.queue.delivery import EventOutbox
from bot.queue.fairness import FairLine
from bot.queue.messages import JobFinished, WorkFailed, WorkItem
from bot.queue.redis.bot_side.job_book import Following
from bot.queue.redis.wire import records, scripts
from bot.queue.redis.wire.connection import DOWN_ERRORS

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from bot.queue.redis.bot_side.job_book import JobBook
    from bot.queue.redis.bot_side.queue_link import QueueLink
    from bot.queue.redis.bot_side.worker_roster import WorkerRoster

log = logging.getLogger("stylebot.broker")

UNREADABLE = "The job's images could not be read to send them to a worker (they were deleted). Please submit it again."


class Dispatcher:
    def __init__(
        self, link: QueueLink, book: JobBook, roster: WorkerRoster, read_inputs: Callable[[Path], bytes]
    ) -> None:
        self.link = link
        self.book = book
        self.roster = roster
        self.read_inputs = read_inputs
        self.line: FairLine[WorkItem] = FairLine()
        self.head: list[WorkItem] = []
        """Jobs that go before the line: popped but not sent (Redis failed), or lost by Redis and put back."""
        self._send = link.redis.register_script(scripts.DISPATCH)

    def waiting(self) -> list[str]:
        """Every job not started yet, in the order they will start: dispatched ones first."""
        return [*self.book.unstarted(), *(item.job_id for item in self.head), *(item.job_id for item in self.line)]

    def holds(self, job_id: str) -> bool:
        return job_id in self.line or any(item.job_id == job_id for item in self.head)

    def push(self, item: WorkItem) -> None:
        self.line.push(item.job_id, item, guild_id=item.guild_id, user_id=item.owner_id)
        self.link.wakeup.set()

    def put_back(self, items: list[WorkItem]) -> None:
        """Jobs that were dispatched (so were first in line) and that Redis lost: first again, in their order."""
        self.head[0:0] = items
        self.link.wakeup.set()

    def remove(self, job_id: str) -> bool:
        """Take a job out before it reaches the stream; False if it is not in this process's line."""
        return self.line.remove(job_id) is not None or self._take_head(job_id)

    def _take_head(self, job_id: str) -> bool:
        for index, item in enumerate(self.head):
            if item.job_id == job_id:
                del self.head[index]
                return True
        return False

    def _free_workers(self) -> int:
        """Workers that will take a job now, less the jobs already in the stream waiting for one."""
        return self.roster.idle() - len(self.book.unstarted())

    async def run(self, outbox: EventOutbox) -> None:
        """Hands the fair line's head to the stream whenever a worker is free, until cancelled."""
        backoff = self.link.backoff("dispatch")
        while True:
            self.link.wakeup.clear()
            try:
                await self._dispatch(outbox)
                backoff.succeeded()
            except DOWN_ERRORS as exc:
                await self.link.pause(backoff.failed(exc))
                continue
            await self.link.io(self.link.wakeup.wait())

    async def _dispatch(self, outbox: EventOutbox) -> None:
        keys = self.link.keys
        while self._free_workers() > 0:
            item = self.head.pop(0) if self.head else self.line.pop()
            if item is None:
                return
            job_id = item.job_id
            try:
                content = await asyncio.to_thread(self.read_inputs, item.content)
                styles = [await asyncio.to_thread(self.read_inputs, path) for path in item.styles]
                init = None if item.init is None else await asyncio.to_thread(self.read_inputs, item.init)
            except OSError as exc:
                log.error("job %s: its images cannot be read (%s); failing it", job_id, exc)
                self.book.finished.add(job_id)
                await outbox.deliver(JobFinished(job_id, WorkFailed(UNREADABLE)))
                continue
            fields = records.job_fields(item, content, styles, init)
            args: list[Any] = [self.link.job_ttl_s, job_id, *(part for pair in fields.items() for part in pair)]
            try:
                await self.link.io(self._send(keys=[keys.job(job_id), keys.jobs], args=args))
            except BaseException:
                self.head.insert(0, item)  # keeps its place: first in line when Redis is back
                raise
            self.book.following[job_id] = Following(item)
            self.book.counters.dispatched += 1
            self.book.counters.dispatched_at[job_id] = time.perf_counter()
