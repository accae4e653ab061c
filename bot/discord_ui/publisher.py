"""The publisher: keeps each job's card on Discord up to date, whatever Discord answers.

It listens to the ledger. On a change it takes a snapshot, renders it (`cards.render`) and has
`CardPlacement` show it where the card lives (moving it before its interaction token expires); it
records which results were delivered, itself. Progress edits are throttled, and dropped when they
fail; a final card that cannot be shown is kept and retried (`retry_finals`), so a result always
arrives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

import discord

from bot.core.job import CardRef, Clock, Job, JobState, Snapshot
from bot.core.store import Store
from bot.discord_ui.cards.placement import CardPlacement, CardView
from bot.discord_ui.cards.render import Card, render

log = logging.getLogger("stylebot.publisher")


class SnapshotSource(Protocol):
    """The ledger, as the publisher sees it: read-only."""

    def snapshot(self, job_id: str) -> Snapshot | None: ...


class Publisher:
    """Coalesces update requests per job and sends at most one edit at a time per card."""

    def __init__(
        self,
        client: discord.Client,
        source: SnapshotSource,
        store: Store,
        card_view: CardView,
        *,
        progress_interval: float,
        clock: Clock,
    ) -> None:
        self.source = source
        self.store = store
        self.progress_interval = progress_interval
        self.cards = CardPlacement(client, store, card_view, clock=clock)
        self._finals: dict[str, Snapshot] = {}
        """Final cards not yet shown: kept until Discord takes them."""
        self._pending: dict[str, bool] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._last_key: dict[str, str] = {}
        self._last_progress_at: dict[str, float] = {}
        self._previewed: set[str] = set()

    # -- the ledger's listener -------------------------------------------------------------------

    async def job_announced(self, job_id: str) -> None:
        self.job_changed(job_id, force=True)
        await asyncio.shield(self._tasks[job_id])  # shielded: a cancelled caller must not cancel the card

    def job_changed(self, job_id: str, *, force: bool = False) -> None:
        self._pending[job_id] = self._pending.get(job_id, False) or force
        if job_id not in self._tasks:
            self._tasks[job_id] = asyncio.create_task(self._drain(job_id), name=f"stylebot-card-{job_id}")

    def job_ended(self, final: Snapshot) -> None:
        self._finals[final.job.id] = final
        self.job_changed(final.job.id, force=True)

    # -- queries and housekeeping ----------------------------------------------------------------

    def card_ref(self, job: Job) -> CardRef | None:
        return self.cards.ref(job)

    def busy(self, job_id: str) -> bool:
        return job_id in self._tasks

    def holds(self, job_id: str) -> bool:
        """A final card of this job is still waiting to be shown."""
        return job_id in self._finals

    def hand_over_due(self, jobs: list[Job]) -> None:
        """Move the cards of these (active) jobs whose interaction token is about to expire."""
        for job in jobs:
            if not self.busy(job.id) and self.cards.hand_over_due(job):
                self.job_changed(job.id, force=True)

    def retry_finals(self, give_up_before: float) -> None:
        """Try the final cards that did not reach Discord again; give up on those finished before the cutoff."""
        for job_id, final in list(self._finals.items()):
            if self.busy(job_id):
                continue
            if (final.job.finished_at or 0) < give_up_before:
                log.warning("job %s: giving up showing its final card (channel and DMs kept failing)", job_id)
                del self._finals[job_id]
            else:
                self.job_changed(job_id, force=True)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- sending ---------------------------------------------------------------------------------

    def _snapshot(self, job_id: str) -> Snapshot | None:
        return self._finals.get(job_id) or self.source.snapshot(job_id)

    async def _drain(self, job_id: str) -> None:
        try:
            while job_id in self._pending:
                force = self._pending.pop(job_id)
                snapshot = self._snapshot(job_id)
                if snapshot is None:
                    break
                await self._refresh(snapshot.job, render(snapshot), force=force)
        finally:
            del self._tasks[job_id]

    async def _refresh(self, job: Job, card: Card, *, force: bool) -> None:
        final = not job.state.active
        now = time.monotonic()
        preview = card.progress and card.file is not None
        if not force and not final:
            if card.key == self._last_key.get(job.id):
                return
            last = self._last_progress_at.get(job.id)
            # The first preview is what the user waits for: it is never held back.
            first_preview = preview and job.id not in self._previewed
            if card.progress and last is not None and now - last < self.progress_interval and not first_preview:
                return
        if not await self.cards.show(job, card, final=final):
            return
        if final:
            await self._delivered(job)
            return
        self._last_key[job.id] = card.key
        if card.progress:
            self._last_progress_at[job.id] = now
        if preview:
            self._previewed.add(job.id)

    async def _delivered(self, job: Job) -> None:
        for table in (self._last_key, self._last_progress_at, self._finals):
            table.pop(job.id, None)
        self._previewed.discard(job.id)
        self.cards.forget(job.id)
        if job.state is JobState.DONE:  # its files stay until retention, for Upscale ×2 and Timelapse
            await self.store.mark_delivered(job.id)
