"""The ledger: every live job's state; each change persisted, counted, and told to listeners.

Jobs enter through `accept` (from intake), go to the queue through `enqueue`, and change as the
queue's events arrive (`on_event`, in `ledger_events`). Listeners (the publisher) then read what
they need through the read-only queries (`snapshot`, `position`, `eta`). A finished job leaves the
ledger as a final snapshot handed to the listeners. No Discord here.
"""

from __future__ import annotations

import asyncio
import logging

from bot.config import Config
from bot.core.eta import job_eta
from bot.core.job import Clock, Job, JobState, NewJob, Snapshot, new_job_id
from bot.core.ledger_events import LedgerEvents
from bot.core.live import LiveJob
from bot.core.store import Store
from bot.ops.metrics import Metrics
from bot.queue.interface import JobQueue, QueueRefused
from bot.queue.messages import WorkItem
from bot.queue.payload import new_job_payload
from stylecore.errors import OptionsError

log = logging.getLogger("stylebot.ledger")

#: How long a cancel waits for a running job to stop before answering anyway.
CANCEL_WAIT_S = 60.0


class Ledger(LedgerEvents):
    def __init__(self, config: Config, store: Store, queue: JobQueue, metrics: Metrics, *, clock: Clock) -> None:
        super().__init__(store, queue, metrics, clock=clock)
        self.config = config

    async def job(self, job_id: str) -> Job | None:
        live = self._live.get(job_id)
        return live.job if live else await self.store.job(job_id)

    def snapshot(self, job_id: str) -> Snapshot | None:
        live = self._live.get(job_id)
        return live.snapshot(position=self.position(job_id), eta=self.eta(job_id)) if live else None

    def active_jobs(self) -> list[Job]:
        """Queued and running jobs, oldest first."""
        return sorted((live.job for live in self._live.values()), key=lambda job: job.seq or 0)

    def user_jobs(self, user_id: int) -> list[Job]:
        return [job for job in self.active_jobs() if job.owner_id == user_id]

    def position(self, job_id: str) -> int | None:
        waiting = self.queue.waiting()
        return waiting.index(job_id) + 1 if job_id in waiting else None

    def waiting_count(self) -> int:
        return sum(1 for live in self._live.values() if live.job.state is JobState.QUEUED)

    def running_count(self) -> int:
        return len(self.queue.running())

    def workers_online(self) -> int:
        return self.queue.workers_online()

    def queue_available(self) -> bool:
        return self.queue.available()

    def eta(self, job_id: str) -> float | None:
        """Seconds until the job should be done; None while there is nothing to estimate from."""
        return job_eta(job_id, self._live, self.queue, self.durations, self.clock())

    # -- accepting jobs --------------------------------------------------------------------------

    async def accept(self, new: NewJob) -> Job:
        """Persist the job and its inputs. Then `announce` it once its owner is answered, and `enqueue` it."""
        # QueueRefused before anything is kept: intake tells only the member.
        self.queue.check_payload(await asyncio.to_thread(new_job_payload, new))
        job = Job(
            id=new_job_id(),
            owner_id=new.owner_id,
            guild_id=new.guild_id,
            channel_id=new.channel_id,
            params=new.params,
            content_name=new.content_name,
            style_names=new.style_names,
            created_at=self.clock(),
            filesize_limit=new.filesize_limit,
            parent_id=new.parent_id,
            variant=new.variant,
            card=new.card,
        )
        # Counted from here on, before the awaits below, so concurrent submissions see it.
        self._live[job.id] = LiveJob(job)
        try:
            await self.store.add_job(job, new.content, list(new.styles), new.init)
        except BaseException:
            del self._live[job.id]
            raise
        self.metrics.job_queued()
        log.info("job %s accepted for user %s (%s)", job.id, job.owner_id, job.params)
        return job

    async def enqueue(self, job: Job) -> None:
        """Hand an accepted job to the queue; if the queue refuses it (unreachable, too large), it fails with why."""
        live = self._live.get(job.id)
        if live is None or job.state is not JobState.QUEUED:
            return  # cancelled in the meantime
        limits = self.config.limits
        try:
            options = job.params.style_options(
                multiscale=self.config.engine.multiscale, max_seconds=limits.max_job_seconds
            )
        except OptionsError as exc:  # checked at intake; a job resumed under a newer engine may still fail
            await self._finish(live, JobState.FAILED, error=f"The job's options are not valid: {exc}.")
            return
        files = self.store.files
        item = WorkItem(
            job.id,
            files.content_path(job),
            files.style_paths(job),
            options,
            job.filesize_limit,
            limits.max_pixels,
            guild_id=job.guild_id,
            owner_id=job.owner_id,
            init=files.init_path(job) if job.params.upscale_from else None,
        )
        try:
            await self.queue.put(item)
        except QueueRefused as exc:
            await self._finish(live, JobState.FAILED, error=str(exc))
            return
        self._waiting_changed()

    async def announce(self, job_id: str) -> None:
        """The owner has been answered: show the job's card (before it is queued, so it starts as "Queued")."""
        live = self._live.get(job_id)
        if live is not None and not live.announced:
            live.announced = True
            for listener in self.listeners:
                await listener.job_announced(job_id)

    def restore(self, jobs: list[Job]) -> None:
        """After a restart: hold again the jobs the last run left queued (they are then enqueued)."""
        for job in jobs:
            self._live[job.id] = LiveJob(job, announced=True, restarted=True)
        # Before enqueueing: once queued, a job may start (and leave the gauge) at the next await.
        self.metrics.set_queue_depth(self.waiting_count())

    async def cancel(self, job_id: str, by: int) -> JobState | None:
        """Cancel a queued or running job; its state afterwards (None: unknown or already ended)."""
        live = self._live.get(job_id)
        if live is None:
            return None
        live.job.cancelled_by = by
        was_waiting = job_id in self.queue.waiting()
        found = await self.queue.cancel(job_id)
        if was_waiting or not found:
            await self._finish(live, JobState.CANCELLED)
            return JobState.CANCELLED
        try:
            return await asyncio.wait_for(asyncio.shield(live.finished), CANCEL_WAIT_S)
        except TimeoutError:
            return live.job.state
