"""The bot's waiting line and its dispatcher: a job goes to the jobs stream only when a worker is free
to take it, so the stream never holds a backlog and the order jobs start in is the fair order."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..fairness import FairLine
from ..messages import WorkItem
from .connection import DOWN_ERRORS
from .following import Following

if TYPE_CHECKING:
    from .following import JobBook
    from .link import QueueLink
    from .roster import WorkerRoster


class Dispatcher:
    def __init__(self, link: QueueLink, book: JobBook, roster: WorkerRoster) -> None:
        self.link = link
        self.book = book
        self.roster = roster
        self.line: FairLine[WorkItem] = FairLine()
        self.head: list[WorkItem] = []
        """Popped from the line but not yet in the stream (Redis failed): they go first."""

    def waiting(self) -> list[str]:
        """Every job not started yet, in the order they will start: dispatched ones first."""
        return [*self.book.unstarted(), *(item.job_id for item in self.head), *(item.job_id for item in self.line)]

    def holds(self, job_id: str) -> bool:
        return job_id in self.line or any(item.job_id == job_id for item in self.head)

    def push(self, item: WorkItem) -> None:
        self.line.push(item.job_id, item, guild_id=item.guild_id, user_id=item.owner_id)
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

    async def run(self) -> None:
        """Hands the fair line's head to the stream whenever a worker is free, until cancelled."""
        backoff = self.link.backoff("dispatch")
        while True:
            self.link.wakeup.clear()
            try:
                await self._dispatch()
                backoff.succeeded()
            except DOWN_ERRORS as exc:
                await self.link.pause(backoff.failed(exc))
                continue
            await self.link.io(self.link.wakeup.wait())

    async def _dispatch(self) -> None:
        keys = self.link.keys
        while self._free_workers() > 0:
            item = self.head.pop(0) if self.head else self.line.pop()
            if item is None:
                return
            job_id = item.job_id
            try:
                async with self.link.redis.pipeline(transaction=True) as pipe:
                    pipe.hset(keys.job(job_id), b"status", b"dispatched")
                    pipe.expire(keys.job(job_id), self.link.job_ttl_s)
                    pipe.xadd(keys.jobs, {b"job": job_id.encode()})
                    await self.link.io(pipe.execute())
            except BaseException:
                self.head.insert(0, item)  # keeps its place: first in line when Redis is back
                raise
            self.book.following[job_id] = Following(item)
            self.book.counters.dispatched += 1
            self.book.counters.dispatched_at[job_id] = time.perf_counter()
