"""How a job's run ends in Redis: its outcome stored with its entry acknowledged, in one atomic step
(`scripts.FINISH`: the first stored outcome wins), or the job handed back (`scripts.HANDBACK`)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from bot.queue.messages import Outcome, WorkFailed, WorkResult
from bot.queue.redis.wire import envelopes, records, scripts
from bot.queue.redis.wire.connection import DOWN_ERRORS, Backoff
from bot.queue.redis.wire.keys import WORKERS_GROUP

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from bot.queue.redis.wire.keys import Keys
    from bot.queue.redis.wire.worker_info import WorkerInfo
    from bot.queue.redis.worker_side.job_claims import Claim

log = logging.getLogger("stylebot.broker.worker")


class OutcomeStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        worker: WorkerInfo,
        *,
        result_ttl_s: int,
        reclaim_after_s: float,
        backoff_cap_s: float,
    ) -> None:
        """`worker`: the worker's first status, for its id and name (neither ever changes)."""
        self.keys = keys
        self.worker_id = worker.id
        self.worker_name = worker.name
        self.result_ttl_s = result_ttl_s
        self.reclaim_after_s = reclaim_after_s
        self.backoff_cap_s = backoff_cap_s
        self._finish = redis.register_script(scripts.FINISH)
        self._handback = redis.register_script(scripts.HANDBACK)

    async def store(
        self, claim: Claim, outcome: Outcome, *, attempt: int, stop: asyncio.Event, announce: bool = True
    ) -> None:
        """Store the outcome and acknowledge the entry (atomically); retried until Redis takes it.

        `announce`: also add the finished event for the bot (not for a job it finished itself)."""
        result = [part for pair in records.outcome_fields(outcome).items() for part in pair]
        event = envelopes.envelope(envelopes.FINISHED, claim.job_id, self.worker_name, attempt).to_fields()
        event[b"wid"] = self.worker_id.encode()
        args: list[Any] = [
            claim.entry_id,
            WORKERS_GROUP,
            self.result_ttl_s,
            "1" if announce else "0",
            len(result),
            *result,
            *(part for pair in event.items() for part in pair),
        ]
        keys = [self.keys.result(claim.job_id), self.keys.jobs, self.keys.events, self.keys.job(claim.job_id)]
        backoff = Backoff(log, f"job {claim.job_id}: storing its result", cap_s=self.backoff_cap_s)
        while True:
            try:
                first = await self._finish(keys=keys, args=args)
                break
            except DOWN_ERRORS as exc:
                if stop.is_set() and backoff.attempt >= 2:
                    log.warning(
                        "job %s: result not stored before stopping; another worker will run it again", claim.job_id
                    )
                    return
                await asyncio.sleep(backoff.failed(exc))
        if not first:
            log.info("job %s: another worker had already stored its result; this one is dropped", claim.job_id)
        else:
            log.info("job %s: %s", claim.job_id, _describe(outcome))

    async def hand_back(self, claim: Claim) -> None:
        """Make the entry reclaimable at once, without counting this delivery (a stop is not the job's fault)."""
        try:
            await self._handback(
                keys=[self.keys.jobs],
                args=[WORKERS_GROUP, self.worker_id, claim.entry_id, scripts.reclaimable_now_ms(self.reclaim_after_s)],
            )
            log.info("job %s: handed back for another worker (stopping)", claim.job_id)
        except DOWN_ERRORS:
            log.warning(
                "job %s: could not hand it back (Redis unreachable); it is reclaimed after %.0f s",
                claim.job_id,
                self.reclaim_after_s,
            )


def _describe(outcome: Outcome) -> str:
    if isinstance(outcome, WorkResult):
        return f"done in {outcome.elapsed:.1f} s ({outcome.iterations} iterations)"
    if isinstance(outcome, WorkFailed):
        return f"failed: {outcome.message}"
    return "cancelled"
