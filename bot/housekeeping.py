"""Housekeeping: resume after a restart (the ledger's), keep cards alive and results on their way, apply retention,
forget expired style pickers.

It changes no job: what happens to jobs is the ledger's (`resume`, `redeliver`); here are only the
times at which the bot asks for it, and the publisher's and the store's own upkeep.
"""

from __future__ import annotations

import logging

from bot.core.job import Clock
from bot.core.ledger import Ledger
from bot.core.store import Store
from bot.discord_ui.publisher import Publisher
from bot.discord_ui.style_picker import PICK_LIFETIME_S

log = logging.getLogger("stylebot.housekeeping")

#: How often cards near the interaction-token limit are moved and undelivered results retried.
HOUSEKEEPING_S = 30.0
#: How often finished jobs past their retention, and expired style pickers, are looked for.
RETENTION_SWEEP_S = 600.0


class Housekeeping:
    def __init__(
        self, ledger: Ledger, publisher: Publisher, store: Store, *, clock: Clock, retention_hours: float
    ) -> None:
        self.ledger = ledger
        self.publisher = publisher
        self.store = store
        self.clock = clock
        self.retention_s = retention_hours * 3600
        self._last_sweep: float | None = None

    def _cutoff(self) -> float:
        return self.clock() - self.retention_s

    async def resume(self) -> None:
        """What the last run left, through the ledger: queued jobs go back in the queue (an interrupted one
        first), and results not older than the retention time that never reached Discord are delivered."""
        await self.ledger.resume()
        await self.ledger.redeliver(since=self._cutoff())

    async def run(self) -> None:
        """One round: move cards before their token expires, retry final cards; now and then, delete expired
        pickers' requests and sweep old jobs' files."""
        cutoff = self._cutoff()
        self.publisher.hand_over_due(self.ledger.active_jobs())
        self.publisher.retry_finals(give_up_before=cutoff)
        now = self.clock()
        if self._last_sweep is not None and now - self._last_sweep < RETENTION_SWEEP_S:
            return
        self._last_sweep = now
        if expired := await self.store.delete_picks_before(now - PICK_LIFETIME_S):
            log.info("%d expired style picker(s) deleted with their photos", expired)
        for job in await self.store.finished_before(cutoff):
            if not self.publisher.holds(job.id):
                await self.store.delete_job(job.id)
                log.info("job %s: inputs deleted after the retention time", job.id)
