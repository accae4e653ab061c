"""RedisQueue: the bot's side of the Redis backend, a sibling of `bot.queue.InProcessQueue`.

The bot keeps the waiting line (a `FairLine`) in its own memory and hands a job to the jobs stream
only when a worker is free to take it, so the stream never holds a backlog: the order jobs start in
is the fair order, and `waiting()` (positions, ETAs) is exact. Workers report through the events
stream, which the bot reads in a consumer group: an event is acknowledged only after the ledger
handled it, so a restarted bot reads what it missed. `keys`, `scripts` and `worker` hold the other half.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from ..fairness import FairLine
from ..messages import JobEvent, JobFinished, Outcome, WorkFailed, WorkItem
from ..queue import ENGINE_WAIT, IDLE_WAIT, JobEvents, QueueUnavailable, WaitHook, plain_wait
from . import wire
from .beats import BUSY, IDLE, WorkerInfo
from .connection import DOWN_ERRORS, Backoff, connect, masked
from .keys import BOT_CONSUMER, BOT_GROUP, WORKERS_GROUP, Keys

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

log = logging.getLogger("stylebot.broker")

UNAVAILABLE = "The job queue is unavailable right now; please try again in a minute."
#: How long a job's inputs and result stay in Redis: long enough for any wait in line.
JOB_TTL_S = 24 * 3600
#: The result hash's `reported` field once the bot handled the job's finished event.
REPORTED = b"1"
#: Events read per round trip.
READ_COUNT = 100


@dataclass
class _Following:
    """A job a worker holds (dispatched or running), as far as this bot has heard."""

    item: WorkItem | None
    started: bool = False
    attempt: int = 0
    worker: str | None = None


@dataclass
class Counters:
    """What this queue saw, for tests and the benchmark (the ledger keeps the real metrics)."""

    dispatched: int = 0
    events: int = 0
    duplicates_dropped: int = 0
    stale_dropped: int = 0
    dispatched_at: dict[str, float] = field(default_factory=dict)


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
    ) -> None:
        """`url` holds the password, if any (see `connection.redis_url`); it is logged masked.

        `poll_s`: how often the workers' heartbeats are read (free workers are also noticed at once
        through their events). `read_inputs` reads a job's image file (tests may substitute it).
        """
        self.url = url
        self.keys = Keys(key_prefix)
        self.wait_hook = wait_hook
        self.poll_s = poll_s
        self.job_ttl_s = int(job_ttl_s)
        self.backoff_cap_s = backoff_cap_s
        self._read_inputs = read_inputs or Path.read_bytes
        self._redis = connect(url)
        self._line: FairLine[WorkItem] = FairLine()
        self._head: list[WorkItem] = []
        """Popped from the line but not yet in the stream (Redis failed): they go first."""
        self._following: dict[str, _Following] = {}
        """Jobs in the stream or on a worker, in dispatch order."""
        self._finished: set[str] = set()
        self._dropped: set[str] = set()
        """Cancelled while waiting: the ledger finished them itself, so their events are not passed on."""
        self._cancels: set[str] = set()
        """Cancels not yet written to Redis (it was down): retried by the poller."""
        self._workers: dict[str, WorkerInfo] = {}
        self._touched: dict[str, tuple[int, str]] = {}
        """Worker id -> (event number, state) from events, newer than the last heartbeat poll."""
        self._event_seq = 0
        self._events: JobEvents | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wakeup = asyncio.Event()
        self._last_beat = 0.0
        self.connected = False
        self.counters = Counters()

    # -- JobQueue: queries -------------------------------------------------------------------------

    @property
    def worker_last_beat(self) -> float:
        """When this queue last reached Redis: the workers have health checks of their own, and a bot with
        no worker online is still healthy (its jobs wait)."""
        return self._last_beat

    def available(self) -> bool:
        return self.connected

    def waiting(self) -> list[str]:
        unstarted = [job_id for job_id, job in self._following.items() if not job.started]
        return [*unstarted, *(item.job_id for item in self._head), *(item.job_id for item in self._line)]

    def running(self) -> list[str]:
        return [job_id for job_id, job in self._following.items() if job.started]

    def workers_online(self) -> int:
        return len(self._workers)

    def workers(self) -> list[WorkerInfo]:
        """The live workers' last heartbeats (id, host, device, state, job, counters): for metrics."""
        return list(self._workers.values())

    # -- JobQueue: life cycle ----------------------------------------------------------------------

    async def start(self, events: JobEvents) -> None:
        """Start reading events and heartbeats. Does not fail when Redis is down: the loops retry."""
        self._events = events
        log.info("job queue: Redis at %s (prefix %r)", masked(self.url), self.keys.prefix)
        self._tasks = [
            asyncio.create_task(self._read_events(events), name="stylebot-redis-events"),
            asyncio.create_task(self._poll(), name="stylebot-redis-poll"),
            asyncio.create_task(self._dispatcher(), name="stylebot-redis-dispatch"),
        ]

    async def close(self) -> None:
        """Stop listening. Jobs on workers keep running; their events wait in the stream for the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._redis.aclose()

    # -- JobQueue: commands ------------------------------------------------------------------------

    async def put(self, item: WorkItem) -> None:
        job_id = item.job_id
        if job_id in self._line or job_id in self._following or job_id in self._finished \
                or any(head.job_id == job_id for head in self._head):
            return
        try:
            status, result, worker = await self._io(self._job_state(job_id))
            if result == REPORTED:
                # An earlier run of the bot handled its finished event: it never runs again.
                self._finished.add(job_id)
                return
            if result is not None or status == b"done":
                # Finished while this bot was away: its finished event is still unread in the
                # events stream (acknowledged only once handled), so it arrives by itself.
                self._following.setdefault(job_id, _Following(item, started=True))
                return
            if status in (b"dispatched", b"running"):
                # A worker holds it (this bot restarted): follow it, never run it twice.
                self._following[job_id] = _Following(item, started=status == b"running",
                                                     worker=worker.decode() if worker else None)
                return
            content = await asyncio.to_thread(self._read_inputs, item.content)
            styles = [await asyncio.to_thread(self._read_inputs, path) for path in item.styles]
            fields = wire.job_fields(item, content, styles)
            async with self._redis.pipeline(transaction=True) as pipe:
                mapping: dict[Any, Any] = {**fields, b"status": b"waiting"}
                pipe.hset(self.keys.job(job_id), mapping=mapping)
                pipe.expire(self.keys.job(job_id), self.job_ttl_s)
                await self._io(pipe.execute())
        except DOWN_ERRORS as exc:
            log.warning("job %s not queued: Redis unreachable (%s)", job_id, _first_line(exc))
            raise QueueUnavailable(UNAVAILABLE) from None
        if job_id in self._line or job_id in self._following:
            return  # a concurrent put of the same job got there first
        self._line.push(job_id, item, guild_id=item.guild_id, user_id=item.owner_id)
        self._wakeup.set()

    async def cancel(self, job_id: str) -> bool:
        if self._line.remove(job_id) is not None or self._take_head(job_id):
            self._dropped.add(job_id)
            with contextlib.suppress(*DOWN_ERRORS):  # only frees memory early; the TTL does it otherwise
                await self._io(self._redis.delete(self.keys.job(job_id)))
            return True
        job = self._following.get(job_id)
        if job is None or job_id in self._finished:
            return False
        if not job.started:
            # In the stream, not started: to the ledger it was waiting, and it finishes it itself.
            # The worker that takes it sees the cancel key and drops it without running it.
            self._dropped.add(job_id)
            del self._following[job_id]
        self._cancels.add(job_id)
        await self._send_cancels()
        self._wakeup.set()
        return True

    # -- internals: Redis calls --------------------------------------------------------------------

    async def _io(self, awaitable: Awaitable[Any], reason: str = IDLE_WAIT) -> Any:
        """Every Redis round trip goes through the wait hook (simcord must know the loop waits on I/O).

        Typed Any: redis-py's reply types are unions over both response decodings; callers annotate.
        """
        return await self.wait_hook(awaitable, reason=reason)

    async def _job_state(self, job_id: str) -> tuple[bytes | None, bytes | None, bytes | None]:
        """The job hash's status and worker, and the result's state: None (none), b"" or REPORTED."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.keys.job(job_id), [b"status", b"worker"])
            pipe.exists(self.keys.result(job_id))
            pipe.hget(self.keys.result(job_id), b"reported")
            (status, worker), exists, reported = await pipe.execute()
        return status, (reported or b"") if exists else None, worker

    async def _send_cancels(self) -> None:
        for job_id in list(self._cancels):
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.set(self.keys.cancel(job_id), b"1", ex=self.job_ttl_s)
                    pipe.publish(self.keys.cancel_channel, job_id.encode())
                    await self._io(pipe.execute())
            except DOWN_ERRORS as exc:
                log.warning("cancel of job %s not sent yet: Redis unreachable (%s)", job_id, _first_line(exc))
                return
            self._cancels.discard(job_id)

    def _take_head(self, job_id: str) -> bool:
        for index, item in enumerate(self._head):
            if item.job_id == job_id:
                del self._head[index]
                return True
        return False

    # -- internals: dispatch -----------------------------------------------------------------------

    def _free_workers(self) -> int:
        """Workers that will take a job now, less the jobs already in the stream waiting for one."""
        idle = sum(1 for worker_id, info in self._workers.items() if self._state(worker_id, info) == IDLE)
        unstarted = sum(1 for job in self._following.values() if not job.started)
        return idle - unstarted

    def _state(self, worker_id: str, info: WorkerInfo) -> str:
        touched = self._touched.get(worker_id)
        return touched[1] if touched is not None else info.state

    async def _dispatcher(self) -> None:
        """Hands the fair line's head to the stream whenever a worker is free."""
        backoff = Backoff(log, "dispatch", cap_s=self.backoff_cap_s)
        while True:
            self._wakeup.clear()
            try:
                await self._dispatch()
                backoff.succeeded()
            except DOWN_ERRORS as exc:
                await self.wait_hook(asyncio.sleep(backoff.failed(exc)), reason=IDLE_WAIT)
                continue
            await self.wait_hook(self._wakeup.wait(), reason=IDLE_WAIT)

    async def _dispatch(self) -> None:
        while self._free_workers() > 0:
            item = self._head.pop(0) if self._head else self._line.pop()
            if item is None:
                return
            job_id = item.job_id
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.hset(self.keys.job(job_id), b"status", b"dispatched")
                    pipe.expire(self.keys.job(job_id), self.job_ttl_s)
                    pipe.xadd(self.keys.jobs, {b"job": job_id.encode()})
                    await self._io(pipe.execute())
            except BaseException:
                self._head.insert(0, item)  # keeps its place: first in line when Redis is back
                raise
            self._following[job_id] = _Following(item)
            self.counters.dispatched += 1
            self.counters.dispatched_at[job_id] = time.perf_counter()

    # -- internals: heartbeats ---------------------------------------------------------------------

    async def _poll(self) -> None:
        backoff = Backoff(log, "worker heartbeats", cap_s=self.backoff_cap_s)
        while True:
            try:
                await self._poll_once()
                if self._cancels:
                    await self._send_cancels()
                backoff.succeeded()
                self.connected = True
                self._last_beat = time.time()  # the bot's side of the queue is alive and reaches Redis
                delay = self.poll_s
            except DOWN_ERRORS as exc:
                self.connected = False
                delay = backoff.failed(exc)
            self._wakeup.set()
            await self.wait_hook(asyncio.sleep(delay), reason=IDLE_WAIT)

    async def _poll_once(self) -> None:
        seq = self._event_seq
        members: list[bytes] = await self._io(self._redis.zrange(self.keys.workers, 0, -1))
        ids = [raw.decode() for raw in members]
        names = [self.keys.worker(worker_id) for worker_id in ids]
        beats: list[bytes | None] = await self._io(self._redis.mget(names)) if ids else []
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
            await self._io(self._redis.zrem(self.keys.workers, *gone))
        self._workers = {worker_id: info for worker_id, info in workers.items() if info.state in (IDLE, BUSY)}
        # Events that arrived while this poll was in flight are newer than what it read.
        self._touched = {wid: touched for wid, touched in self._touched.items() if touched[0] > seq}

    # -- internals: events -------------------------------------------------------------------------

    async def _ensure_group(self) -> None:
        try:
            await self._io(self._redis.xgroup_create(self.keys.events, BOT_GROUP, id="0", mkstream=True))
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        try:  # the workers create theirs too; creating it here lets jobs be dispatched before any worker starts
            await self._io(self._redis.xgroup_create(self.keys.jobs, WORKERS_GROUP, id="0", mkstream=True))
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_events(self, events: JobEvents) -> None:
        backoff = Backoff(log, "job events", cap_s=self.backoff_cap_s)
        while True:
            try:
                await self._ensure_group()
                # First what an earlier run of the bot (or this one, before Redis went away) was
                # given but did not acknowledge, then new events.
                start = "0"
                while True:
                    reason = ENGINE_WAIT if self._following else IDLE_WAIT
                    reply: Any = await self._io(self._redis.xreadgroup(
                        BOT_GROUP, BOT_CONSUMER, {self.keys.events: start}, count=READ_COUNT, block=1000,
                    ), reason=reason)
                    backoff.succeeded()
                    self.connected = True
                    entries = reply[0][1] if reply else []
                    if start == "0" and not entries:
                        start = ">"
                        continue
                    for entry_id, fields in entries:
                        finished = await self._handle(events, fields)
                        await self._io(self._ack(entry_id, finished))
            except DOWN_ERRORS as exc:
                self.connected = False
                await self.wait_hook(asyncio.sleep(backoff.failed(exc)), reason=IDLE_WAIT)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):  # the stream was lost (Redis without persistence restarted)
                    raise
                log.warning("job events: the events stream was gone; recreating it")

    async def _ack(self, entry_id: bytes, finished: str | None) -> None:
        """Acknowledge an event; for a finished one, in the same step, mark the result reported and
        drop its image (the ledger has it now): the small rest stays until the TTL, as the NX marker
        that keeps a late duplicate from being stored."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.keys.events, BOT_GROUP, entry_id)
            pipe.xdel(self.keys.events, entry_id)
            if finished is not None:
                pipe.hdel(self.keys.result(finished), b"image")
                pipe.hset(self.keys.result(finished), b"reported", REPORTED)
            await pipe.execute()

    async def _handle(self, events: JobEvents, fields: dict[bytes, bytes] | None) -> str | None:
        """Pass one event on (or drop it as stale or repeated); returns the job id if it finished the job."""
        if not fields:
            return None  # deleted before it was read
        try:
            env = wire.parse_envelope(fields)
        except wire.WireError as exc:
            log.warning("skipping an unreadable job event: %s", exc)
            return None
        self.counters.events += 1
        job_id = env.job_id
        worker_id = fields.get(b"wid", b"").decode()
        if env.kind == wire.FINISHED and worker_id:
            self._touch(worker_id, IDLE)
            self._wakeup.set()
        if job_id in self._dropped or job_id in self._finished:
            self.counters.duplicates_dropped += 1
            return None
        # A job this bot does not know yet (it restarted and the ledger has not put it again) is
        # running: a worker talks about it.
        job = self._following.setdefault(job_id, _Following(None, started=True))
        if env.attempt < job.attempt and env.kind != wire.FINISHED:
            # A worker presumed dead still talking about an attempt that was run again elsewhere.
            self.counters.stale_dropped += 1
            return None
        event: JobEvent
        if env.kind == wire.STARTED:
            if job.attempt and env.attempt == job.attempt:
                self.counters.duplicates_dropped += 1
                return None
            job.started, job.attempt, job.worker = True, env.attempt, env.worker
            if worker_id:
                self._touch(worker_id, BUSY)
            event = wire.event_from_envelope(env)
        elif env.kind == wire.FINISHED:
            outcome = await self._outcome(job_id)
            self._finished.add(job_id)
            self._following.pop(job_id, None)
            event = JobFinished(job_id, outcome)
        else:
            try:
                event = wire.event_from_envelope(env)
            except (wire.WireError, TypeError) as exc:
                log.warning("skipping an unreadable update of job %s: %s", job_id, exc)
                return None
        await _report(events, event)
        return job_id if isinstance(event, JobFinished) else None

    def _touch(self, worker_id: str, state: str) -> None:
        self._event_seq += 1
        self._touched[worker_id] = (self._event_seq, state)

    async def _outcome(self, job_id: str) -> Outcome:
        data: dict[bytes, bytes] = await self._io(self._redis.hgetall(self.keys.result(job_id)))
        try:
            return wire.outcome_from_fields(data)
        except wire.WireError as exc:
            log.error("job %s: its result in Redis is unreadable or gone: %s", job_id, exc)
            return WorkFailed("The job's result was lost on its way back from the worker. Please try again.")


async def _report(events: JobEvents, event: JobEvent) -> None:
    """Tell the bot; its bookkeeping failing must never stop the queue (same rule as InProcessQueue)."""
    try:
        await events.on_event(event)
    except Exception:
        log.exception("handling %s failed", type(event).__name__)


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__


__all__ = ["UNAVAILABLE", "RedisQueue"]
