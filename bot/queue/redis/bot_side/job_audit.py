"""The bot's check that Redis still knows the jobs it follows (dispatched or running).

Redis restarted without its append-only file (or from an old snapshot), or a key evicted or deleted:
the job's stream entry or images are gone, no worker will ever finish it, and nothing else would tell
the bot. Every `reclaim_after_s / 2` it asks Redis about each job it follows (`scripts.JOB_STATE`, one
atomic look per job); a job found lost twice in a row, so within `reclaim_after_s` (the time a job may
go without a sign of life), goes back to the front of the line, and the dispatcher sends it again from
the bot's files. Its events stay seen once: the job leaves the book before it is sent again, and a
result stored by a worker that still ran the lost attempt wins as any first result does.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from bot.queue.redis.wire import scripts
from bot.queue.redis.wire.connection import DOWN_ERRORS

if TYPE_CHECKING:
    from bot.queue.messages import WorkItem
    from bot.queue.redis.bot_side.dispatcher import Dispatcher
    from bot.queue.redis.bot_side.job_book import Following, JobBook
    from bot.queue.redis.bot_side.queue_link import QueueLink

log = logging.getLogger("stylebot.broker")

#: JOB_STATE's answers for a job Redis still has: finished, or its entry in the stream for a worker.
KNOWN = {b"result", b"dispatched", b"running", b"done"}


class JobAudit:
    def __init__(self, link: QueueLink, book: JobBook, dispatcher: Dispatcher, *, reclaim_after_s: float) -> None:
        self.link = link
        self.book = book
        self.dispatcher = dispatcher
        self.every_s = reclaim_after_s / 2
        self._suspects: dict[str, Following] = {}
        """Jobs the last round found lost: lost again in this one, they are put back."""
        self._state = link.redis.register_script(scripts.JOB_STATE)

    async def run(self) -> None:
        while True:
            await self.link.pause(self.every_s)
            with contextlib.suppress(*DOWN_ERRORS):  # the other loops log outages; the next round looks again
                await self.audit_once()

    async def audit_once(self) -> None:
        following = dict(self.book.following)
        keys = self.link.keys
        async with self.link.redis.pipeline(transaction=False) as pipe:
            for job_id in following:
                await self._state(keys=[keys.result(job_id), keys.job(job_id), keys.jobs], client=pipe)
            states: list[bytes] = await self.link.io(pipe.execute()) if following else []
        lost = {
            job_id: job for (job_id, job), state in zip(following.items(), states, strict=True) if state not in KNOWN
        }
        back: list[WorkItem] = []
        for job_id, job in lost.items():
            # The same record both times and still followed: not finished, cancelled or sent anew meanwhile.
            if self._suspects.get(job_id) is not job or self.book.following.get(job_id) is not job:
                continue
            del self.book.following[job_id]
            if job.item is None:
                # Heard of only from a worker: the ledger's put finds nothing in Redis and queues it anew.
                log.warning("job %s: Redis lost it; forgotten until the bot puts it again", job_id)
                continue
            log.warning("job %s: Redis lost it (restarted without its data?); sending it again", job_id)
            back.append(job.item)
        self._suspects = {job_id: job for job_id, job in lost.items() if self.book.following.get(job_id) is job}
        if back:
            self.dispatcher.put_back(back)
