"""The bot's reader of the events stream: what workers report, read in a consumer group.

An event is acknowledged only once the ledger took it (`bot.queue.delivery.EventOutbox`): one the
ledger could not take yet (a result it could not save) stays pending in the group, held in the
outbox and offered again; a restarted bot reads it, and whatever else it missed, again.
Delivery is at least once and a job may run twice (a worker presumed dead comes back), so events
are passed on once: repeated and stale ones (an older attempt) are dropped here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from bot.queue.delivery import EventOutbox
from bot.queue.interface import ENGINE_WAIT, IDLE_WAIT
from bot.queue.messages import JobEvent, JobFinished, Outcome, WorkFailed
from bot.queue.redis.bot_side.job_book import Following
from bot.queue.redis.wire import envelopes, records
from bot.queue.redis.wire.connection import DOWN_ERRORS, create_group
from bot.queue.redis.wire.keys import BOT_CONSUMER, BOT_GROUP, WORKERS_GROUP
from bot.queue.redis.wire.worker_info import BUSY, IDLE

if TYPE_CHECKING:
    from bot.queue.redis.bot_side.job_book import JobBook
    from bot.queue.redis.bot_side.queue_link import QueueLink
    from bot.queue.redis.bot_side.worker_roster import WorkerRoster

log = logging.getLogger("stylebot.broker")

#: The result hash's `reported` field once the bot handled the job's finished event.
REPORTED = b"1"
#: Events read per round trip.
READ_COUNT = 100


class EventReader:
    def __init__(self, link: QueueLink, book: JobBook, roster: WorkerRoster) -> None:
        self.link = link
        self.book = book
        self.roster = roster
        self._held: set[bytes] = set()
        """Entries the outbox holds (the ledger did not take them yet): not read twice, acknowledged later."""

    async def _ensure_groups(self) -> None:
        redis, keys = self.link.redis, self.link.keys
        await create_group(self.link.io(redis.xgroup_create(keys.events, BOT_GROUP, id="0", mkstream=True)))
        # The workers create theirs too; creating it here lets jobs be dispatched before any worker starts.
        await create_group(self.link.io(redis.xgroup_create(keys.jobs, WORKERS_GROUP, id="0", mkstream=True)))

    async def run(self, outbox: EventOutbox) -> None:
        """Read and pass on events until cancelled; Redis outages are waited out."""
        backoff = self.link.backoff("job events")
        while True:
            try:
                await self._ensure_groups()
                # First what an earlier run of the bot (or this one, before Redis went away) was given
                # but did not acknowledge, page by page, then new events.
                start: bytes = b"0"
                while True:
                    reason = ENGINE_WAIT if self.book.following else IDLE_WAIT
                    reply: Any = await self.link.io(
                        self.link.redis.xreadgroup(
                            BOT_GROUP,
                            BOT_CONSUMER,
                            {self.link.keys.events: start},
                            count=READ_COUNT,
                            block=1000,
                        ),
                        reason=reason,
                    )
                    backoff.succeeded()
                    self.link.connected = True
                    entries = reply[0][1] if reply else []
                    if start != b">":
                        # Pending entries stay pending until acknowledged: page past the ones read.
                        start = entries[-1][0] if entries else b">"
                    for entry_id, fields in entries:
                        if entry_id in self._held:
                            continue  # read again after a reconnection; it still waits in the outbox
                        await self._pass_on(outbox, entry_id, fields)
            except DOWN_ERRORS as exc:
                self.link.connected = False
                await self.link.pause(backoff.failed(exc))
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):  # the stream was lost (Redis without persistence restarted)
                    raise
                log.warning("job events: the events stream was gone; recreating it")

    async def _pass_on(self, outbox: EventOutbox, entry_id: bytes, fields: dict[bytes, bytes] | None) -> None:
        """Hand one entry's event to the outbox; it is acknowledged once the ledger took it (at once, if dropped)."""
        event = await self._event(fields)
        finished = event.job_id if isinstance(event, JobFinished) else None

        async def acknowledge() -> None:
            self._held.discard(entry_id)
            try:
                await self.link.io(self._ack(entry_id, finished))
            except DOWN_ERRORS as exc:  # read again once Redis is back: the ledger ignores what it has
                log.warning("job events: acknowledging an event failed (%s); it is read again later", exc)

        if event is None:
            await self.link.io(self._ack(entry_id, None))
        elif not await outbox.deliver(event, acknowledge):
            self._held.add(entry_id)

    async def _ack(self, entry_id: bytes, finished: str | None) -> None:
        """Acknowledge an event; for a finished one, in the same step, mark the result reported and
        drop its image (the ledger has it now): the small rest stays until the TTL, as the NX marker
        that keeps a late duplicate from being stored."""
        keys = self.link.keys
        async with self.link.redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.events, BOT_GROUP, entry_id)
            pipe.xdel(keys.events, entry_id)
            if finished is not None:
                pipe.hdel(keys.result(finished), b"image")
                pipe.hset(keys.result(finished), b"reported", REPORTED)
            await pipe.execute()

    async def _event(self, fields: dict[bytes, bytes] | None) -> JobEvent | None:
        """The entry's event for the ledger, or None to drop it (unreadable, stale or repeated)."""
        if not fields:
            return None  # deleted before it was read
        try:
            env = envelopes.parse_envelope(fields)
        except records.WireError as exc:
            log.warning("skipping an unreadable job event: %s", exc)
            return None
        self.book.counters.events += 1
        job_id = env.job_id
        worker_id = fields.get(b"wid", b"").decode()
        if env.kind == envelopes.FINISHED and worker_id:
            self.roster.touch(worker_id, IDLE)
            self.link.wakeup.set()
        if job_id in self.book.dropped or job_id in self.book.finished:
            self.book.counters.duplicates_dropped += 1
            return None
        # A job this bot does not know yet (it restarted and the ledger has not put it again) is
        # running: a worker talks about it.
        job = self.book.following.setdefault(job_id, Following(None, started=True))
        if env.attempt < job.attempt and env.kind != envelopes.FINISHED:
            # A worker presumed dead still talking about an attempt that was run again elsewhere.
            self.book.counters.stale_dropped += 1
            return None
        event: JobEvent
        if env.kind == envelopes.STARTED:
            if job.attempt and env.attempt == job.attempt:
                self.book.counters.duplicates_dropped += 1
                return None
            job.started, job.attempt, job.worker = True, env.attempt, env.worker
            if worker_id:
                self.roster.touch(worker_id, BUSY)
            event = envelopes.event_from_envelope(env)
        elif env.kind == envelopes.FINISHED:
            outcome = await self._outcome(job_id)
            self.book.finished.add(job_id)
            self.book.following.pop(job_id, None)
            event = JobFinished(job_id, outcome)
        else:
            try:
                event = envelopes.event_from_envelope(env)
            except (records.WireError, TypeError) as exc:
                log.warning("skipping an unreadable update of job %s: %s", job_id, exc)
                return None
        return event

    async def _outcome(self, job_id: str) -> Outcome:
        data: dict[bytes, bytes] = await self.link.io(self.link.redis.hgetall(self.link.keys.result(job_id)))
        try:
            return records.outcome_from_fields(data)
        except records.WireError as exc:
            log.error("job %s: its result in Redis is unreadable or gone: %s", job_id, exc)
            return WorkFailed("The job's result was lost on its way back from the worker. Please try again.")
