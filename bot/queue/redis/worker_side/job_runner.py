"""One claimed job's run on a worker: its inputs from Redis, the engine thread, its events back to the
bot, a clip's finished frames kept in Redis, the keepalive that keeps its entry from being reclaimed,
cancels; `outcome_store` stores how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from bot.queue.engine.bridge import EngineRun
from bot.queue.messages import Outcome, WorkCancelled, WorkFailed, WorkFrame, WorkItem, WorkProgress, WorkUpdate
from bot.queue.redis.wire import envelopes, records, scripts
from bot.queue.redis.wire.connection import DOWN_ERRORS, first_line
from bot.queue.redis.wire.keys import JOB_TTL_S, WORKERS_GROUP
from bot.queue.redis.wire.worker_info import BUSY, IDLE

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from bot.queue.engine.thread import EngineThread
    from bot.queue.redis.wire.keys import Keys
    from bot.queue.redis.worker_side.job_claims import Claim
    from bot.queue.redis.worker_side.outcome_store import OutcomeStore
    from bot.queue.redis.worker_side.worker_status import WorkerStatus

log = logging.getLogger("stylebot.broker.worker")

#: How long a clean stop waits for the engine to give up the running job before handing it back anyway.
STOP_GRACE_S = 10.0


class JobRunner:
    """Runs claimed jobs, one at a time, on the worker's one engine thread."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        engine: EngineThread,
        status: WorkerStatus,
        outcomes: OutcomeStore,
        *,
        reclaim_after_s: float,
        max_deliveries: int,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.engine = engine
        self.status = status
        self.outcomes = outcomes
        self.max_deliveries = max_deliveries
        #: Keepalive and cancel-key checks this often while a job runs: well inside reclaim_after_s.
        self.tick_s = min(1.0, reclaim_after_s / 4)
        self.worker_id = status.info.id
        self._keepalive = redis.register_script(scripts.KEEPALIVE)
        self._current: EngineRun | None = None
        """The running job: the cancel listener runs on the loop, not in `run`."""

    def cancel(self, job_id: str) -> None:
        """Stop `job_id` if it is the one running here (every worker hears every cancel)."""
        current = self._current
        if current is not None and current.job_id == job_id and not current.cancelled:
            log.info("job %s: cancelled", job_id)
            current.cancel()

    async def run(self, claim: Claim, stop: asyncio.Event) -> None:
        job_id = claim.job_id
        if claim.deliveries > self.max_deliveries:
            log.error(
                "job %s: handed out %d times, its workers stopped each time; failing it", job_id, claim.deliveries - 1
            )
            await self.outcomes.store(
                claim,
                WorkFailed(
                    f"The job stopped its worker {claim.deliveries - 1} times in a row, so it was not run again. "
                    "Try a smaller size or other images."
                ),
                attempt=0,
                stop=stop,
            )
            return
        data, cancelled = await self._job_data(job_id)
        if cancelled:
            # Cancelled while it waited: it never starts, and the bot, which finished it itself, hears nothing.
            await self.outcomes.store(claim, WorkCancelled(), attempt=0, stop=stop, announce=False)
            return
        try:
            inputs = records.job_inputs(data)
        except records.WireError as exc:
            log.error("job %s: its inputs in Redis are missing or unreadable (%s)", job_id, exc)
            await self.outcomes.store(
                claim,
                WorkFailed(
                    "The job's images expired or were lost before a worker could run it. Please submit it again."
                ),
                attempt=0,
                stop=stop,
            )
            return
        status = self.status
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(self.keys.job(job_id), "attempts", 1)
            pipe.hset(self.keys.job(job_id), mapping={b"status": b"running", b"worker": status.info.name.encode()})
            attempt = int((await pipe.execute())[0])
        status.set(state=BUSY, job=job_id)
        await status.beat()
        await self._send(envelopes.envelope(envelopes.STARTED, job_id, status.info.name, attempt))
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"stylebot-{job_id}-") as folder:
            item = await asyncio.to_thread(inputs.work_item, Path(folder))
            outcome, fate = await self._execute(claim, item, attempt, stop)
        elapsed = time.monotonic() - started
        status.set(busy_s=status.info.busy_s + elapsed, last_job_s=elapsed)
        if fate == "lost":
            log.warning("job %s: no longer this worker's (taken over, or lost by Redis); dropped here", job_id)
        elif fate == "stopping":
            await self.outcomes.hand_back(claim)
        else:
            assert outcome is not None
            failed = isinstance(outcome, WorkFailed)
            status.set(
                state=IDLE,
                job=None,
                jobs_done=status.info.jobs_done + 1,
                jobs_failed=status.info.jobs_failed + int(failed),
            )
            # Idle before the result is stored: the bot may hand over the next job while this one's
            # finish is on its way, so the worker does not wait a round trip between jobs.
            with contextlib.suppress(*DOWN_ERRORS):
                await status.beat()
            await self.outcomes.store(claim, outcome, attempt=attempt, stop=stop)
        status.set(state=IDLE, job=None)

    async def _job_data(self, job_id: str) -> tuple[dict[bytes, bytes], bool]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.job(job_id))
            pipe.exists(self.keys.cancel(job_id))
            data, cancelled = await pipe.execute()
        return data, bool(cancelled)

    async def _execute(
        self, claim: Claim, item: WorkItem, attempt: int, stop: asyncio.Event
    ) -> tuple[Outcome | None, str]:
        """Run `item` on the engine thread; returns its outcome and "done", "lost" or "stopping"."""
        run = self._current = EngineRun(self.engine, item)
        fate = "done"
        stop_deadline: float | None = None
        next_tick = time.monotonic() + self.tick_s
        run.start()
        try:
            while True:
                timeout = max(0.0, next_tick - time.monotonic())
                if stop_deadline is not None:
                    timeout = min(timeout, max(0.0, stop_deadline - time.monotonic()))
                try:
                    update = await asyncio.wait_for(run.next_update(), timeout)
                except TimeoutError:
                    update = None
                if run.outcome is not None:
                    return run.outcome, fate
                if stop.is_set() and fate == "done":
                    fate, stop_deadline = "stopping", time.monotonic() + STOP_GRACE_S
                    run.cancel()
                if stop_deadline is not None and time.monotonic() >= stop_deadline:
                    log.warning(
                        "job %s: the engine did not stop within %.0f s; handing it back anyway",
                        claim.job_id,
                        STOP_GRACE_S,
                    )
                    return None, fate
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.tick_s
                    if fate == "done" and not await self._still_mine(claim, run):
                        fate = "lost"
                        run.cancel()
                if update is not None and fate == "done":
                    await self._relay(item, attempt, update)
        finally:
            self._current = None

    async def _relay(self, item: WorkItem, attempt: int, update: WorkUpdate) -> None:
        """A clip's finished frame is kept in Redis; progress and retries go to the bot."""
        if isinstance(update, WorkFrame):
            await self._keep_frame(item.job_id, update)
            return
        if isinstance(update, WorkProgress):
            self.status.set(iterations=self.status.info.iterations + 1)
        else:  # the job runs again at a smaller size: the frames kept are of the size that did not fit
            await self._drop_frames(item)
        kind = envelopes.PROGRESS if isinstance(update, WorkProgress) else envelopes.RETRY
        await self._send(envelopes.envelope(kind, item.job_id, self.status.info.name, attempt, update))

    async def _keep_frame(self, job_id: str, frame: WorkFrame) -> None:
        """Into the job's hash, where a worker that takes the job over after this one dies finds it (`done`).
        Best effort: a frame not kept only costs its time again."""
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.keys.job(job_id), records.frame_field(frame.index), frame.image)
                pipe.expire(self.keys.job(job_id), JOB_TTL_S)  # never a hash without a TTL, had it expired
                await pipe.execute()
        except DOWN_ERRORS as exc:
            log.warning(
                "job %s: finished frame %d not kept, Redis unreachable (%s)", job_id, frame.index, first_line(exc)
            )

    async def _drop_frames(self, item: WorkItem) -> None:
        with contextlib.suppress(*DOWN_ERRORS):  # if they stay, the next run sees they are of another size
            await self.redis.hdel(self.keys.job(item.job_id), *(records.frame_field(i) for i in range(item.max_frames)))

    async def _still_mine(self, claim: Claim, run: EngineRun) -> bool:
        """Keep the entry from looking idle; also the cancel key, in case its pub/sub message was missed."""
        try:
            owned = await self._keepalive(keys=[self.keys.jobs], args=[WORKERS_GROUP, self.worker_id, claim.entry_id])
            if await self.redis.exists(self.keys.cancel(claim.job_id)):
                run.cancel()
        except DOWN_ERRORS:
            return True  # cannot tell while Redis is away: keep going; the result is stored once it is back
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            return False  # Redis lost the stream (restarted without its data): the bot sends the job again
        return bool(owned)

    async def _send(self, env: envelopes.Envelope) -> None:
        """Progress is best effort: one lost while Redis is away is superseded by the next."""
        try:
            entry: dict[Any, Any] = {**env.to_fields(), b"wid": self.worker_id.encode()}
            await self.redis.xadd(self.keys.events, entry)
        except DOWN_ERRORS as exc:
            log.warning("job %s: %s event not sent, Redis unreachable (%s)", env.job_id, env.kind, first_line(exc))
