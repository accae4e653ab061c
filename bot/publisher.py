"""The publisher: keeps each job's card on Discord up to date, whatever Discord answers.

It listens to the ledger. On a change it takes a snapshot, renders it (`cards.render`) and sends
it; it records where each card lives and which results were delivered, itself. A card starts as
a follow-up of the user's interaction, edited with the interaction token. That token dies 15
minutes after the interaction, so before then (or as soon as Discord says it is gone: 401/50027
or 404/10015) the card moves to a message the bot sends with its own token, in the channel or,
failing that, in the owner's DMs. Progress edits that fail are dropped; a final card that cannot
be shown is kept and retried (`retry_finals`), so a result always arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from typing import Protocol

import discord
from discord.utils import MISSING

from .card_messages import HANDOVER_AFTER_S, NO_MENTIONS, TOKEN_LIFETIME_S, send_own, token_expired, view_of
from .cards import Card, moved_card, render
from .jobs import CardRef, Clock, Job, JobState, Snapshot
from .store import Store

log = logging.getLogger("stylebot.publisher")


class SnapshotSource(Protocol):
    """The ledger, as the publisher sees it: read-only."""

    def snapshot(self, job_id: str) -> Snapshot | None: ...


class Publisher:
    """Coalesces update requests per job and sends at most one edit at a time per card."""

    def __init__(
        self, client: discord.Client, source: SnapshotSource, store: Store, *, progress_interval: float, clock: Clock
    ) -> None:
        self.client = client
        self.source = source
        self.store = store
        self.progress_interval = progress_interval
        self.clock = clock
        self._refs: dict[str, CardRef | None] = {}
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
        return self._refs.get(job.id, job.card)

    def busy(self, job_id: str) -> bool:
        return job_id in self._tasks

    def holds(self, job_id: str) -> bool:
        """A final card of this job is still waiting to be shown."""
        return job_id in self._finals

    def hand_over_due(self, jobs: list[Job]) -> None:
        """Move the cards of these (active) jobs whose interaction token is about to expire."""
        for job in jobs:
            ref = self.card_ref(job)
            if (
                not self.busy(job.id)
                and ref is not None
                and ref.token
                and not ref.moved
                and self._token_age(ref) >= HANDOVER_AFTER_S
            ):
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
        if not await self._show(job, card, final=final):
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
        for table in (self._last_key, self._last_progress_at, self._finals, self._refs):
            table.pop(job.id, None)
        self._previewed.discard(job.id)
        if job.state is JobState.DONE:  # its files stay until retention, for Upscale ×2 and Timelapse
            await self.store.mark_delivered(job.id)

    async def _show(self, job: Job, card: Card, *, final: bool) -> bool:
        """Put `card` on Discord; False if that failed this time (the caller decides about retrying)."""
        before = ref = self.card_ref(job)
        try:
            if ref is None:
                await self._move(job, card)
            elif ref.moved:
                await self._edit_own(job, ref, card)
            elif ref.message_id is None:
                await self._post_follow_up(job, ref, card)
            elif self._token_age(ref) >= HANDOVER_AFTER_S:
                await self._move(job, card)
            else:
                try:
                    await self._edit_interaction(job, ref, card)
                except discord.HTTPException as exc:
                    # An expired token always moves the card; any other failure only for a final card,
                    # whose result must arrive (a progress edit is simply dropped).
                    if not (token_expired(exc) or final):
                        raise
                    log.info("job %s: card edit failed (%s %s); moving the card", job.id, exc.status, exc.code)
                    await self._move(job, card)
            return True
        except discord.HTTPException as exc:
            log.warning("job %s: card not updated: %s %s %s", job.id, exc.status, exc.code, exc.text)
            return False
        finally:
            after = self.card_ref(job)
            if after != before and after is not None:
                await self.store.save_card(job.id, after)

    def _token_age(self, ref: CardRef) -> float:
        return self.clock() - ref.token_issued_at

    def _webhook(self, ref: CardRef) -> discord.Webhook:
        assert ref.token is not None
        return discord.Webhook.partial(ref.application_id, ref.token, client=self.client)

    async def _post_follow_up(self, job: Job, ref: CardRef, card: Card) -> None:
        """The first card: a public follow-up of the user's interaction."""
        try:
            message = await self._webhook(ref).send(
                content=card.content or MISSING,
                embed=card.embed,
                files=card.files(),
                allowed_mentions=NO_MENTIONS,
                view=view_of(job, card) or MISSING,
                wait=True,
            )
        except discord.HTTPException as exc:
            log.warning("could not post the card of job %s as a reply (%s); posting it in the channel", job.id, exc)
            self._refs[job.id] = None
            await self._move(job, card)
            return
        self._refs[job.id] = replace(ref, message_id=message.id)

    async def _edit_interaction(self, job: Job, ref: CardRef, card: Card) -> None:
        assert ref.message_id is not None
        # attachments= replaces the old preview (or removes it); view=None removes old buttons.
        await self._webhook(ref).edit_message(
            ref.message_id,
            content=card.content,
            embed=card.embed,
            attachments=card.files(),
            view=view_of(job, card),
            allowed_mentions=NO_MENTIONS,
        )

    async def _edit_own(self, job: Job, ref: CardRef, card: Card) -> None:
        assert ref.moved_channel_id is not None and ref.moved_message_id is not None
        message = self.client.get_partial_messageable(ref.moved_channel_id).get_partial_message(ref.moved_message_id)
        try:
            await message.edit(
                content=card.content,
                embed=card.embed,
                attachments=card.files(),
                view=view_of(job, card),
                allowed_mentions=NO_MENTIONS,
            )
        except discord.NotFound:
            await self._move(job, card)  # someone deleted the card: post a fresh one

    async def _move(self, job: Job, card: Card) -> None:
        """Continue the card in a message sent with the bot's own token (channel first, then DMs)."""
        message = await send_own(self.client, job, card)
        old = self.card_ref(job)
        if old is None or old.message_id is None:
            self._refs[job.id] = CardRef(0, None, None, 0.0, message.channel.id, message.id)
            return
        self._refs[job.id] = replace(old, moved_channel_id=message.channel.id, moved_message_id=message.id)
        if old.token and not old.moved and self._token_age(old) < TOKEN_LIFETIME_S:
            # Best effort: point the old card at the new message, and take its buttons away.
            with contextlib.suppress(discord.HTTPException):
                await self._edit_interaction(job, old, moved_card(job, message.jump_url))
