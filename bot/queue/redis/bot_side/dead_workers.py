"""What a dead worker leaves in the jobs stream: the jobs it read but never started, handed back as soon
as its heartbeat is gone, and its name among the group's consumers, removed once it holds no entry.

XREADGROUP makes the worker that read an entry its owner: no other worker reads it again, and without
this the job would wait `reclaim_after_s` for XAUTOCLAIM while other workers sit idle (and the
dispatcher, counting it as in the stream, sends them nothing). The roster calls `hand_back` with the
workers whose heartbeat expired; `scripts.RESCUE` checks in one step that the heartbeat is still gone and
the job still 'dispatched', then makes the entry reclaimable at once, its delivery not counted (the job
never ran, so it cannot be what killed the worker). A started job keeps the reclaim rule.

Redis keeps a consumer in its group until told otherwise, so without `forget` every worker that ever
ran would stay listed (XINFO CONSUMERS) for good. Deleting one drops the entries it still holds, so a
dead worker is deleted only once another worker has taken them over (`scripts.FORGET`, one step).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from bot.queue.redis.wire import scripts
from bot.queue.redis.wire.keys import WORKERS_GROUP

if TYPE_CHECKING:
    from bot.queue.redis.bot_side.queue_link import QueueLink

log = logging.getLogger("stylebot.broker")

#: Entries looked at per dead worker: a worker reads one job at a time, so one is the usual case.
PENDING_COUNT = 10


class DeadWorkers:
    def __init__(self, link: QueueLink, *, reclaim_after_s: float) -> None:
        self.link = link
        self.idle_ms = scripts.reclaimable_now_ms(reclaim_after_s)
        self._rescue = link.redis.register_script(scripts.RESCUE)
        self._forget = link.redis.register_script(scripts.FORGET)
        self.leaving: set[str] = set()
        """Dead workers still among the group's consumers: tried again by every `forget`."""

    async def hand_back(self, worker_ids: list[str]) -> None:
        self.leaving.update(worker_ids)
        for worker_id in worker_ids:
            try:
                await self._hand_back(worker_id)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                return  # Redis lost the stream: the audit puts its jobs back

    async def forget(self) -> None:
        """Take out of the group the dead workers that hold no entry any more."""
        keys = self.link.keys
        for worker_id in list(self.leaving):
            try:
                done = await self.link.io(
                    self._forget(keys=[keys.jobs, keys.worker(worker_id)], args=[WORKERS_GROUP, worker_id])
                )
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                done = 1  # Redis lost the group, and its consumers with it
            if done != 0:
                self.leaving.discard(worker_id)

    async def _hand_back(self, worker_id: str) -> None:
        redis, keys = self.link.redis, self.link.keys
        pending: list[dict[str, Any]] = await self.link.io(
            redis.xpending_range(
                keys.jobs, WORKERS_GROUP, min="-", max="+", count=PENDING_COUNT, consumername=worker_id
            )
        )
        for row in pending:
            entry_id = row["message_id"]
            found: list[tuple[bytes, dict[bytes, bytes]]] = await self.link.io(
                redis.xrange(keys.jobs, entry_id, entry_id)
            )
            if not found or b"job" not in found[0][1]:
                continue  # deleted meanwhile: finished
            job_id = found[0][1][b"job"].decode()
            args = [WORKERS_GROUP, worker_id, entry_id, self.idle_ms]
            if await self.link.io(self._rescue(keys=[keys.jobs, keys.job(job_id), keys.worker(worker_id)], args=args)):
                log.warning(
                    "job %s: worker %s stopped before starting it; handed to the next free worker", job_id, worker_id
                )
