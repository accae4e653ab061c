"""RedisWorker: a `stylebot worker` process's loop: take jobs from the jobs stream, run them on the
one engine thread (`bot.worker.EngineWorker`, the same code as the embedded path), report back.

Delivery is at least once: a job's entry is acknowledged only in the same atomic step that stores
its result (`scripts.FINISH`). A worker that dies leaves the entry pending; its heartbeat stops and,
once the entry has been idle for `reclaim_after_s`, another worker claims it (XAUTOCLAIM) and runs it
again. A live worker resets its entry's idle time every tick (`scripts.KEEPALIVE`), so a long job is
never taken from it. The bot sees each job once: the first stored result wins (NX), events carry the
attempt number, and the bot drops stale or repeated ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from ..messages import Outcome, WorkCancelled, WorkFailed, WorkProgress, WorkResult, WorkUpdate
from . import scripts, wire
from .beats import BUSY, IDLE, STOPPING, WorkerInfo
from .connection import DOWN_ERRORS, Backoff, connect, masked
from .health import write_worker_heartbeat
from .keys import WORKERS_GROUP, Keys
from .queue import JOB_TTL_S

if TYPE_CHECKING:
    from ..worker import EngineWorker

log = logging.getLogger("stylebot.broker.worker")

#: How long a clean stop waits for the engine to give up the running job before handing it back anyway.
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class Claim:
    entry_id: bytes
    job_id: str
    deliveries: int
    """How many times the entry was handed out, this time included."""


class _Done:
    __slots__ = ("outcome",)

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


class RedisWorker:
    """One engine, one job at a time, any number of these on any machines that reach the Redis server."""

    def __init__(
        self,
        url: str,
        engine: EngineWorker,
        *,
        device: str,
        key_prefix: str = "stylebot",
        reclaim_after_s: float = 60.0,
        max_deliveries: int = 3,
        heartbeat_path: Path | None = None,
        heartbeat_s: float = 1.0,
        result_ttl_s: float = JOB_TTL_S,
        backoff_cap_s: float = 10.0,
        block_ms: int = 500,
        worker_id: str | None = None,
    ) -> None:
        self.url = url
        self.engine = engine
        self.keys = Keys(key_prefix)
        self.reclaim_after_s = reclaim_after_s
        self.max_deliveries = max_deliveries
        self.heartbeat_path = heartbeat_path
        self.heartbeat_s = heartbeat_s
        self.result_ttl_s = int(result_ttl_s)
        self.backoff_cap_s = backoff_cap_s
        self.block_ms = block_ms
        #: Keepalive and cancel-key checks this often while a job runs: well inside reclaim_after_s.
        self.tick_s = min(1.0, reclaim_after_s / 4)
        host = socket.gethostname()
        self.id = worker_id or f"{host}-{os.getpid()}-{secrets.token_hex(2)}"
        self.info = WorkerInfo(id=self.id, host=host, pid=os.getpid(), device=device, state=IDLE, job=None,
                               beat_at=time.time(), started_at=time.time())
        self._redis = connect(url)
        self._finish = self._redis.register_script(scripts.FINISH)
        self._keepalive = self._redis.register_script(scripts.KEEPALIVE)
        self._handback = self._redis.register_script(scripts.HANDBACK)
        self._current: tuple[str, threading.Event] | None = None
        self._group_ready = False

    # -- life cycle --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; a running job is then interrupted and handed back."""
        log.info("worker %s on %s: Redis at %s (prefix %r)", self.id, self.info.device, masked(self.url),
                 self.keys.prefix)
        self.engine.start()
        helpers = [asyncio.create_task(self._heartbeats(), name="stylebot-worker-beat"),
                   asyncio.create_task(self._cancel_listener(), name="stylebot-worker-cancel")]
        try:
            await self._serve(stop)
        finally:
            self._set(state=STOPPING, job=None)
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._goodbye()
            await asyncio.to_thread(self.engine.stop)
            await self._redis.aclose()
            log.info("worker %s stopped", self.id)

    async def _goodbye(self) -> None:
        """Leave the roll at once, rather than when the heartbeat expires."""
        with contextlib.suppress(*DOWN_ERRORS):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self.keys.worker(self.id))
                pipe.zrem(self.keys.workers, self.id)
                await asyncio.wait_for(pipe.execute(), 2.0)
        self._write_file()

    async def _serve(self, stop: asyncio.Event) -> None:
        backoff = Backoff(log, f"worker {self.id}", cap_s=self.backoff_cap_s)
        while not stop.is_set():
            try:
                await self._ensure_group()
                claim = await self._next()
                backoff.succeeded()
                self._set(redis_connected=True)
                if claim is not None:
                    await self._run(claim, stop)
            except DOWN_ERRORS as exc:
                self._group_ready = False
                self._set(redis_connected=False)
                await _sleep_or_stop(stop, backoff.failed(exc))
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self._group_ready = False  # the stream was lost (Redis without persistence restarted)

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self.keys.jobs, WORKERS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    # -- taking a job ------------------------------------------------------------------------------

    async def _next(self) -> Claim | None:
        """A job whose worker stopped responding first (it waited longest), else a new one."""
        reply: Any = await self._redis.xautoclaim(self.keys.jobs, WORKERS_GROUP, self.id,
                                             min_idle_time=int(self.reclaim_after_s * 1000), start_id="0-0",
                                             count=1)
        for entry_id, fields in reply[1]:
            if not fields:
                await self._redis.xack(self.keys.jobs, WORKERS_GROUP, entry_id)  # deleted: nothing to run
                continue
            pending = await self._redis.xpending_range(self.keys.jobs, WORKERS_GROUP, min=entry_id, max=entry_id,
                                                       count=1)
            deliveries = int(pending[0]["times_delivered"]) if pending else 1
            job_id = fields[b"job"].decode()
            log.warning("job %s: taken over from a worker that stopped responding (delivery %d)", job_id, deliveries)
            return Claim(entry_id, job_id, deliveries)
        read: Any = await self._redis.xreadgroup(WORKERS_GROUP, self.id, {self.keys.jobs: ">"}, count=1,
                                            block=self.block_ms)
        if not read or not read[0][1]:
            return None
        entry_id, fields = read[0][1][0]
        return Claim(entry_id, fields[b"job"].decode(), 1)

    async def _run(self, claim: Claim, stop: asyncio.Event) -> None:
        job_id = claim.job_id
        if claim.deliveries > self.max_deliveries:
            log.error("job %s: handed out %d times, its workers stopped each time; failing it", job_id,
                      claim.deliveries - 1)
            await self._store(claim, WorkFailed(
                f"The job stopped its worker {claim.deliveries - 1} times in a row, so it was not run again. "
                "Try a smaller size or other images."), attempt=0, stop=stop)
            return
        data, cancelled = await self._job_data(job_id)
        if cancelled:
            # Cancelled while it waited: it never starts, and the bot, which finished it itself, hears nothing.
            await self._store(claim, WorkCancelled(), attempt=0, stop=stop, announce=False)
            return
        try:
            inputs = wire.job_inputs(data)
        except wire.WireError as exc:
            log.error("job %s: its inputs in Redis are missing or unreadable (%s)", job_id, exc)
            await self._store(claim, WorkFailed("The job's images expired or were lost before a worker could run "
                                                "it. Please submit it again."), attempt=0, stop=stop)
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(self.keys.job(job_id), "attempts", 1)
            pipe.hset(self.keys.job(job_id), mapping={b"status": b"running", b"worker": self.info.name.encode()})
            attempt = int((await pipe.execute())[0])
        self._set(state=BUSY, job=job_id)
        await self._beat()
        await self._send(wire.envelope(wire.STARTED, job_id, self.info.name, attempt))
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"stylebot-{job_id}-") as folder:
            item = await asyncio.to_thread(inputs.work_item, Path(folder))
            outcome, fate = await self._execute(claim, item, attempt, stop)
        elapsed = time.monotonic() - started
        self._set(busy_s=self.info.busy_s + elapsed, last_job_s=elapsed)
        if fate == "lost":
            log.warning("job %s: another worker took it over while this one was unresponsive; dropped here", job_id)
        elif fate == "stopping":
            await self._hand_back(claim)
        else:
            assert outcome is not None
            failed = isinstance(outcome, WorkFailed)
            self._set(state=IDLE, job=None, jobs_done=self.info.jobs_done + 1,
                      jobs_failed=self.info.jobs_failed + int(failed))
            # Idle before the result is stored: the bot may hand over the next job while this one's
            # finish is on its way, so the worker does not wait a round trip between jobs.
            with contextlib.suppress(*DOWN_ERRORS):
                await self._beat()
            await self._store(claim, outcome, attempt=attempt, stop=stop)
        self._set(state=IDLE, job=None)

    async def _job_data(self, job_id: str) -> tuple[dict[bytes, bytes], bool]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.job(job_id))
            pipe.exists(self.keys.cancel(job_id))
            data, cancelled = await pipe.execute()
        return data, bool(cancelled)

    # -- running it --------------------------------------------------------------------------------

    async def _execute(self, claim: Claim, item: Any, attempt: int,
                       stop: asyncio.Event) -> tuple[Outcome | None, str]:
        """Run `item` on the engine thread; returns its outcome and "done", "lost" or "stopping"."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[WorkUpdate | _Done] = asyncio.Queue()

        def send(message: WorkUpdate | _Done) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed while the engine finished
                loop.call_soon_threadsafe(inbox.put_nowait, message)

        cancel = threading.Event()
        self._current = (claim.job_id, cancel)
        fate = "done"
        stop_deadline: float | None = None
        next_tick = time.monotonic() + self.tick_s
        self.engine.submit(item, cancel=cancel, on_update=send, on_done=lambda outcome: send(_Done(outcome)))
        try:
            while True:
                timeout = max(0.0, next_tick - time.monotonic())
                if stop_deadline is not None:
                    timeout = min(timeout, max(0.0, stop_deadline - time.monotonic()))
                try:
                    message: WorkUpdate | _Done | None = await asyncio.wait_for(inbox.get(), timeout)
                except TimeoutError:
                    message = None
                if isinstance(message, _Done):
                    return message.outcome, fate
                if stop.is_set() and fate == "done":
                    fate, stop_deadline = "stopping", time.monotonic() + STOP_GRACE_S
                    cancel.set()
                if stop_deadline is not None and time.monotonic() >= stop_deadline:
                    log.warning("job %s: the engine did not stop within %.0f s; handing it back anyway",
                                claim.job_id, STOP_GRACE_S)
                    return None, fate
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.tick_s
                    if fate == "done" and not await self._still_mine(claim, cancel):
                        fate = "lost"
                        cancel.set()
                if message is not None and fate == "done":
                    if isinstance(message, WorkProgress):
                        self._set(iterations=self.info.iterations + 1)
                    kind = wire.PROGRESS if isinstance(message, WorkProgress) else wire.RETRY
                    await self._send(wire.envelope(kind, claim.job_id, self.info.name, attempt, message))
        finally:
            self._current = None

    async def _still_mine(self, claim: Claim, cancel: threading.Event) -> bool:
        """Keep the entry from looking idle; also the cancel key, in case its pub/sub message was missed."""
        try:
            owned = await self._keepalive(keys=[self.keys.jobs], args=[WORKERS_GROUP, self.id, claim.entry_id])
            if await self._redis.exists(self.keys.cancel(claim.job_id)):
                cancel.set()
        except DOWN_ERRORS:
            return True  # cannot tell while Redis is away: keep going; the result is stored once it is back
        return bool(owned)

    async def _send(self, env: wire.Envelope) -> None:
        """Progress is best effort: one lost while Redis is away is superseded by the next."""
        try:
            entry: dict[Any, Any] = {**env.to_fields(), b"wid": self.id.encode()}
            await self._redis.xadd(self.keys.events, entry)
        except DOWN_ERRORS as exc:
            log.warning("job %s: %s event not sent, Redis unreachable (%s)", env.job_id, env.kind,
                        str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)

    async def _store(self, claim: Claim, outcome: Outcome, *, attempt: int, stop: asyncio.Event,
                     announce: bool = True) -> None:
        """Store the outcome and acknowledge the entry (atomically); retried until Redis takes it."""
        result = [part for pair in wire.outcome_fields(outcome).items() for part in pair]
        event = wire.envelope(wire.FINISHED, claim.job_id, self.info.name, attempt).to_fields()
        event[b"wid"] = self.id.encode()
        args: list[Any] = [claim.entry_id, WORKERS_GROUP, self.result_ttl_s, "1" if announce else "0", len(result),
                           *result, *(part for pair in event.items() for part in pair)]
        keys = [self.keys.result(claim.job_id), self.keys.jobs, self.keys.events, self.keys.job(claim.job_id)]
        backoff = Backoff(log, f"job {claim.job_id}: storing its result", cap_s=self.backoff_cap_s)
        while True:
            try:
                first = await self._finish(keys=keys, args=args)
                break
            except DOWN_ERRORS as exc:
                if stop.is_set() and backoff.attempt >= 2:
                    log.warning("job %s: result not stored before stopping; another worker will run it again",
                                claim.job_id)
                    return
                await asyncio.sleep(backoff.failed(exc))
        if not first:
            log.info("job %s: another worker had already stored its result; this one is dropped", claim.job_id)
        else:
            log.info("job %s: %s", claim.job_id, _describe(outcome))

    async def _hand_back(self, claim: Claim) -> None:
        try:
            await self._handback(keys=[self.keys.jobs], args=[WORKERS_GROUP, self.id, claim.entry_id,
                                                              int(self.reclaim_after_s * 1000) + 1000])
            log.info("job %s: handed back for another worker (stopping)", claim.job_id)
        except DOWN_ERRORS:
            log.warning("job %s: could not hand it back (Redis unreachable); it is reclaimed after %.0f s",
                        claim.job_id, self.reclaim_after_s)

    # -- cancel and heartbeats ---------------------------------------------------------------------

    def _on_cancel(self, job_id: str) -> None:
        current = self._current
        if current is not None and current[0] == job_id and not current[1].is_set():
            log.info("job %s: cancelled", job_id)
            current[1].set()

    async def _cancel_listener(self) -> None:
        backoff = Backoff(log, f"worker {self.id}: cancel channel", cap_s=self.backoff_cap_s)
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.keys.cancel_channel)
                backoff.succeeded()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._on_cancel(bytes(message["data"]).decode())
            except DOWN_ERRORS as exc:
                await asyncio.sleep(backoff.failed(exc))
            finally:
                with contextlib.suppress(*DOWN_ERRORS):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves PubSub.aclose unannotated

    async def _heartbeats(self) -> None:
        while True:
            try:
                await self._beat()
                if not self.info.redis_connected:
                    self._set(redis_connected=True)
            except DOWN_ERRORS:
                self._set(redis_connected=False)  # the serving loop logs the outage
            self._write_file()
            await asyncio.sleep(self.heartbeat_s)

    async def _beat(self) -> None:
        self._set(beat_at=time.time())
        ttl_ms = int(max(3.0, 3 * self.heartbeat_s) * 1000)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.worker(self.id), self.info.to_json(), px=ttl_ms)
            pipe.zadd(self.keys.workers, {self.id: self.info.beat_at})
            await pipe.execute()

    def _write_file(self) -> None:
        if self.heartbeat_path is not None:
            try:
                write_worker_heartbeat(self.heartbeat_path, self.info, engine_last_beat=self.engine.last_beat)
            except OSError as exc:
                log.warning("cannot write the heartbeat file %s: %s", self.heartbeat_path, exc)

    def _set(self, **changes: Any) -> None:
        self.info = replace(self.info, **changes)


async def _sleep_or_stop(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)


def _describe(outcome: Outcome) -> str:
    if isinstance(outcome, WorkResult):
        return f"done in {outcome.elapsed:.1f} s ({outcome.iterations} iterations)"
    if isinstance(outcome, WorkFailed):
        return f"failed: {outcome.message}"
    return "cancelled"


__all__ = ["Claim", "RedisWorker"]
