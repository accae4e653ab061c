"""RedisWorker: a `stylebot worker` process's loop: take jobs from the jobs stream, run them on the
one engine thread (`bot.queue.engine`, the same code as the in-process backend), report back.

Delivery is at least once: a job's entry is acknowledged only in the same atomic step that stores
its result (`scripts.FINISH`). A worker that dies leaves the entry pending; its heartbeat stops and,
once the entry has been idle for `reclaim_after_s`, another worker claims it (XAUTOCLAIM) and runs it
again. A live worker resets its entry's idle time every tick (`scripts.KEEPALIVE`), so a long job is
never taken from it. The bot sees each job once: the first stored result wins (NX), events carry the
attempt number, and the bot drops stale or repeated ones.

This module is the life cycle and the serving loop; `job_claims` takes a job, `job_runner` runs it,
`outcome_store` stores how it ended and `worker_status` beats the worker's heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from typing import TYPE_CHECKING

from redis.exceptions import ResponseError

from bot.queue.redis.wire.connection import DOWN_ERRORS, Backoff, connect, masked
from bot.queue.redis.wire.keys import JOB_TTL_S, Keys
from bot.queue.redis.wire.worker_info import IDLE, STOPPING, WorkerInfo
from bot.queue.redis.worker_side.job_claims import JobClaims
from bot.queue.redis.worker_side.job_runner import JobRunner
from bot.queue.redis.worker_side.outcome_store import OutcomeStore
from bot.queue.redis.worker_side.worker_status import WorkerStatus

if TYPE_CHECKING:
    from pathlib import Path

    from bot.queue.engine.thread import EngineThread

log = logging.getLogger("stylebot.broker.worker")


class RedisWorker:
    """One engine, one job at a time, any number of these on any machines that reach the Redis server."""

    def __init__(
        self,
        url: str,
        engine: EngineThread,
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
        self.backoff_cap_s = backoff_cap_s
        host = socket.gethostname()
        self.id = worker_id or f"{host}-{os.getpid()}-{secrets.token_hex(2)}"
        info = WorkerInfo(
            id=self.id,
            host=host,
            pid=os.getpid(),
            device=device,
            state=IDLE,
            job=None,
            beat_at=time.time(),
            started_at=time.time(),
        )
        self._redis = connect(url)
        self._status = WorkerStatus(
            self._redis, self.keys, info, engine, heartbeat_s=heartbeat_s, heartbeat_path=heartbeat_path
        )
        self._claims = JobClaims(self._redis, self.keys, self.id, reclaim_after_s=reclaim_after_s, block_ms=block_ms)
        outcomes = OutcomeStore(
            self._redis,
            self.keys,
            info,
            result_ttl_s=int(result_ttl_s),
            reclaim_after_s=reclaim_after_s,
            backoff_cap_s=backoff_cap_s,
        )
        self._runner = JobRunner(
            self._redis,
            self.keys,
            engine,
            self._status,
            outcomes,
            reclaim_after_s=reclaim_after_s,
            max_deliveries=max_deliveries,
        )

    @property
    def info(self) -> WorkerInfo:
        """The worker's status as of now: what its next heartbeat says."""
        return self._status.info

    # -- life cycle --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; a running job is then interrupted and handed back."""
        log.info(
            "worker %s on %s: Redis at %s (prefix %r)", self.id, self.info.device, masked(self.url), self.keys.prefix
        )
        self.engine.start()
        helpers = [
            asyncio.create_task(self._status.keep_beating(), name="stylebot-worker-beat"),
            asyncio.create_task(self._cancel_listener(), name="stylebot-worker-cancel"),
        ]
        try:
            await self._serve(stop)
        finally:
            self._status.set(state=STOPPING, job=None)
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._status.leave()
            await asyncio.to_thread(self.engine.stop)
            await self._redis.aclose()
            log.info("worker %s stopped", self.id)

    async def _serve(self, stop: asyncio.Event) -> None:
        backoff = Backoff(log, f"worker {self.id}", cap_s=self.backoff_cap_s)
        while not stop.is_set():
            try:
                await self._claims.ensure_group()
                claim = await self._claims.next()
                backoff.succeeded()
                self._status.set(redis_connected=True)
                if claim is not None:
                    await self._runner.run(claim, stop)
            except DOWN_ERRORS as exc:
                self._claims.group_ready = False
                self._status.set(redis_connected=False)
                await _sleep_or_stop(stop, backoff.failed(exc))
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self._claims.group_ready = False  # the stream was lost (Redis without persistence restarted)

    async def _cancel_listener(self) -> None:
        """Every worker hears every cancel; the runner stops the job if it is the one running here."""
        backoff = Backoff(log, f"worker {self.id}: cancel channel", cap_s=self.backoff_cap_s)
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.keys.cancel_channel)
                backoff.succeeded()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._runner.cancel(bytes(message["data"]).decode())
            except DOWN_ERRORS as exc:
                await asyncio.sleep(backoff.failed(exc))
            finally:
                with contextlib.suppress(*DOWN_ERRORS):
                    await pubsub.aclose()


async def _sleep_or_stop(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
