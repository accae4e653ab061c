"""RedisQueue: the bot's side of the Redis backend, a sibling of `bot.queue.in_process.InProcessQueue`.

The bot keeps the waiting line (a `FairLine`) in its own memory and hands a job to the jobs stream
only when a worker is free to take it, so the stream never holds a backlog: the order jobs start in
is the fair order, and `waiting()` (positions, ETAs) is exact. Workers report through the events
stream, which the bot reads in a consumer group: an event is acknowledged only once the ledger took
it (`bot.queue.delivery`), so a restarted bot reads what it missed. This module is the facade and the commands;
`dispatcher`, `worker_roster`, `event_reader` and `job_audit` run its loops (`dead_workers` acts for
workers seen dead); `bot.queue.redis.wire` holds what it shares with the workers (`worker_side`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import LimitsConfig, QueueConfig
from bot.queue.delivery import EventOutbox
from bot.queue.interface import JobEvents, Payload, QueueUnavailable, WaitHook, plain_wait
from bot.queue.messages import WorkItem
from bot.queue.payload import check_images, work_item_payload
from bot.queue.redis.bot_side.dead_workers import DeadWorkers
from bot.queue.redis.bot_side.dispatcher import Dispatcher
from bot.queue.redis.bot_side.event_reader import REPORTED, EventReader
from bot.queue.redis.bot_side.job_audit import JobAudit
from bot.queue.redis.bot_side.job_book import Following, JobBook
from bot.queue.redis.bot_side.queue_link import QueueLink
from bot.queue.redis.bot_side.worker_roster import WorkerRoster
from bot.queue.redis.wire.connection import DOWN_ERRORS, connect, first_line, masked
from bot.queue.redis.wire.keys import JOB_TTL_S, Keys
from bot.queue.redis.wire.worker_info import WorkerInfo

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger("stylebot.broker")

UNAVAILABLE = "The job queue is unavailable right now; please try again in a minute."


class RedisQueue:
    """Jobs wait in this process's fair line, run on `stylebot worker` processes, report through Redis."""

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "stylebot",
        wait_hook: WaitHook = plain_wait,
        poll_s: float = 0.5,
        job_ttl_s: float = JOB_TTL_S,
        backoff_cap_s: float = 10.0,
        read_inputs: Callable[[Path], bytes] | None = None,
        reclaim_after_s: float = QueueConfig.reclaim_after_s,
        max_image_bytes: int = LimitsConfig.max_attachment_bytes,
    ) -> None:
        """`url` holds the password, if any (see `connection.redis_url`); it is logged masked.

        `poll_s`: how often the workers' heartbeats are read (free workers are also noticed at once
        through their events). `read_inputs` reads a job's image file (tests may substitute it).
        `reclaim_after_s`: the workers' setting; it bounds how long a job Redis lost goes unnoticed.
        `max_image_bytes`: the largest image the queue carries (`bot.queue.payload`).
        """
        self.url = url
        self.keys = Keys(key_prefix)
        self.max_image_bytes = max_image_bytes
        self._link = QueueLink(
            connect(url), self.keys, wait_hook, job_ttl_s=int(job_ttl_s), backoff_cap_s=backoff_cap_s
        )
        self._book = JobBook()
        self.counters = self._book.counters
        rescue = DeadWorkers(self._link, reclaim_after_s=reclaim_after_s)
        self._roster = WorkerRoster(self._link, poll_s, rescue)
        self._dispatcher = Dispatcher(self._link, self._book, self._roster, read_inputs or Path.read_bytes)
        self._reader = EventReader(self._link, self._book, self._roster)
        self._audit = JobAudit(self._link, self._book, self._dispatcher, reclaim_after_s=reclaim_after_s)
        self._cancels: set[str] = set()
        """Cancels not yet written to Redis (it was down): retried after each heartbeat poll."""
        self._tasks: list[asyncio.Task[None]] = []
        self._outbox: EventOutbox | None = None

    # -- JobQueue: queries -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the heartbeat poll or the event reader last reached Redis."""
        return self._link.connected

    @property
    def worker_last_beat(self) -> float:
        """When this queue last reached Redis: the workers have health checks of their own, and a bot with
        no worker online is still healthy (its jobs wait)."""
        return self._roster.last_reached

    def available(self) -> bool:
        return self.connected

    def waiting(self) -> list[str]:
        return self._dispatcher.waiting()

    def running(self) -> list[str]:
        return self._book.running()

    def workers_online(self) -> int:
        return len(self._roster.workers)

    def workers(self) -> list[WorkerInfo]:
        """The live workers' last heartbeats (id, host, device, state, job, counters): for metrics."""
        return list(self._roster.workers.values())

    # -- JobQueue: life cycle ----------------------------------------------------------------------

    async def start(self, events: JobEvents) -> None:
        """Start reading events and heartbeats. Does not fail when Redis is down: the loops retry."""
        log.info("job queue: Redis at %s (prefix %r)", masked(self.url), self.keys.prefix)
        outbox = self._outbox = EventOutbox(events)
        self._tasks = [
            asyncio.create_task(self._reader.run(outbox), name="stylebot-redis-events"),
            asyncio.create_task(self._roster.keep_polling(then=self._send_cancels), name="stylebot-redis-poll"),
            asyncio.create_task(self._dispatcher.run(outbox), name="stylebot-redis-dispatch"),
            asyncio.create_task(self._audit.run(), name="stylebot-redis-audit"),
        ]

    async def close(self) -> None:
        """Stop listening. Jobs on workers keep running; their events wait in the stream for the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._outbox is not None:
            await self._outbox.close()  # what the ledger has not taken stays unacknowledged: read after a restart
        await self._link.redis.aclose()

    # -- JobQueue: commands ------------------------------------------------------------------------

    def check_payload(self, images: Payload) -> None:
        check_images(images, self.max_image_bytes)

    async def put(self, item: WorkItem) -> None:
        job_id = item.job_id
        if self._dispatcher.holds(job_id) or job_id in self._book.finished:
            return
        followed = self._book.following.get(job_id)
        if followed is not None:
            followed.item = followed.item or item  # heard of from a worker first: now it can be sent again if lost
            return
        try:
            status, result, worker = await self._link.io(self._job_state(job_id))
        except DOWN_ERRORS as exc:
            log.warning("job %s not queued: Redis unreachable (%s)", job_id, first_line(exc))
            raise QueueUnavailable(UNAVAILABLE) from None
        if result == REPORTED:
            # An earlier run of the bot handled its finished event: it never runs again.
            self._book.finished.add(job_id)
            return
        if result is not None or status == b"done":
            # Finished while this bot was away: its finished event is still unread in the
            # events stream (acknowledged only once handled), so it arrives by itself.
            self._book.following.setdefault(job_id, Following(item, started=True))
            return
        if status in (b"dispatched", b"running"):
            # A worker holds it (this bot restarted): follow it, never run it twice.
            self._book.following[job_id] = Following(
                item, started=status == b"running", worker=worker.decode() if worker else None
            )
            return
        self.check_payload(await asyncio.to_thread(work_item_payload, item))
        if job_id in self._dispatcher.line or job_id in self._book.following:
            return  # a concurrent put of the same job got there first
        self._dispatcher.push(item)

    async def cancel(self, job_id: str) -> bool:
        if self._dispatcher.remove(job_id):
            self._book.dropped.add(job_id)
            with contextlib.suppress(*DOWN_ERRORS):  # only frees memory early; the TTL does it otherwise
                await self._link.io(self._link.redis.delete(self.keys.job(job_id)))
            return True
        job = self._book.following.get(job_id)
        if job is None or job_id in self._book.finished:
            return False
        if not job.started:
            # In the stream, not started: to the ledger it was waiting, and it finishes it itself.
            # The worker that takes it sees the cancel key and drops it without running it.
            self._book.dropped.add(job_id)
            del self._book.following[job_id]
        self._cancels.add(job_id)
        await self._send_cancels()
        self._link.wakeup.set()
        return True

    # -- internals ---------------------------------------------------------------------------------

    async def _job_state(self, job_id: str) -> tuple[bytes | None, bytes | None, bytes | None]:
        """The job hash's status and worker, and the result's state: None (none), b"" or REPORTED."""
        async with self._link.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.keys.job(job_id), [b"status", b"worker"])
            pipe.exists(self.keys.result(job_id))
            pipe.hget(self.keys.result(job_id), b"reported")
            (status, worker), exists, reported = await pipe.execute()
        return status, (reported or b"") if exists else None, worker

    async def _send_cancels(self) -> None:
        """Write the pending cancels; what Redis does not take now is retried after the next poll."""
        for job_id in list(self._cancels):
            try:
                async with self._link.redis.pipeline(transaction=True) as pipe:
                    pipe.set(self.keys.cancel(job_id), b"1", ex=self._link.job_ttl_s)
                    pipe.publish(self.keys.cancel_channel, job_id.encode())
                    await self._link.io(pipe.execute())
            except DOWN_ERRORS as exc:
                log.warning("cancel of job %s not sent yet: Redis unreachable (%s)", job_id, first_line(exc))
                return
            self._cancels.discard(job_id)
