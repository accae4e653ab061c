"""The ledger: every live job's state; each change persisted, counted, and told to listeners.

Jobs enter through `accept` (from intake), go to the queue through `enqueue`, and change as the
queue's events arrive (`on_event`). Listeners (the publisher) then read what they need through
the read-only queries (`snapshot`, `position`, `eta`). A finished job leaves the ledger as a final
snapshot handed to the listeners. No Discord here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from stylecore.errors import OptionsError

from .config import Config
from .eta import EtaModel, job_eta
from .jobs import Clock, Job, JobState, NewJob, ResultInfo, Snapshot, new_job_id
from .live import LiveJob
from .messages import (
    JobEvent,
    JobFinished,
    JobStarted,
    JobUpdated,
    Outcome,
    WorkCancelled,
    WorkItem,
    WorkProgress,
    WorkResult,
    WorkRetry,
)
from .metrics import Metrics
from .payload import new_job_payload
from .queue import JobQueue, QueueRefused
from .store import Store

log = logging.getLogger("stylebot.ledger")

#: How long a cancel waits for a running job to stop before answering anyway.
CANCEL_WAIT_S = 60.0


class LedgerListener(Protocol):
    async def job_announced(self, job_id: str) -> None:
        """A new job's card may appear: show it now (the ledger waits, so it comes before the job starts)."""

    def job_changed(self, job_id: str, *, force: bool = False) -> None:
        """The job's card is out of date (`force`: show it even if throttled)."""

    def job_ended(self, final: Snapshot) -> None:
        """The job finished, failed or was cancelled; the ledger forgets it."""


class Ledger:
    def __init__(self, config: Config, store: Store, queue: JobQueue, metrics: Metrics, *, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.queue = queue
        self.metrics = metrics
        self.clock = clock
        self.durations = EtaModel()
        self.listeners: list[LedgerListener] = []
        self._live: dict[str, LiveJob] = {}

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
        item = WorkItem(
            job.id,
            self.store.files.content_path(job),
            self.store.files.style_paths(job),
            options,
            job.filesize_limit,
            limits.max_pixels,
            guild_id=job.guild_id,
            owner_id=job.owner_id,
            init=self.store.files.init_path(job) if job.params.upscale_from else None,
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

    # -- the queue's events ----------------------------------------------------------------------

    async def on_event(self, event: JobEvent) -> None:
        live = self._live.get(event.job_id)
        if live is None or not live.job.state.active:
            return  # already ended here (e.g. cancelled while the worker reported)
        match event:
            case JobStarted(worker=worker):
                await self._started(live, worker)
            case JobUpdated(update=WorkRetry() as retry):
                live.retrying(retry)
                self._changed(live.job.id)
            case JobUpdated(update=WorkProgress() as progress):
                iterations, seconds = live.progressed(progress)
                if iterations:
                    self.metrics.iterations(iterations, seconds)
                self._changed(live.job.id)
            case JobFinished(outcome=outcome):
                await self._finished(live, outcome)

    async def _started(self, live: LiveJob, worker: str) -> None:
        job = live.job
        if job.state is JobState.RUNNING:  # handed to another worker: the first one stopped responding
            live.moved()
        else:
            job.state, job.started_at = JobState.RUNNING, self.clock()
            self.metrics.job_started(wait_s=job.started_at - job.created_at)
            await self.store.save_job(job)
        self._changed(job.id)
        self._waiting_changed()

    async def _finished(self, live: LiveJob, outcome: Outcome) -> None:
        job = live.job
        if isinstance(outcome, WorkResult):
            job.result = ResultInfo.of(job, outcome)
            # On disk first: if the bot stops before the card is shown, the next start delivers it.
            await self.store.files.write_output(self.store.files.result_path(job), outcome.image)
            if outcome.timelapse:
                await self.store.files.write_output(self.store.files.timelapse_path(job), outcome.timelapse[0])
            self.durations.learn(iterations=outcome.iterations, size=outcome.options.size, elapsed=outcome.elapsed)
            await self._finish(live, JobState.DONE, result=outcome.image)
        elif isinstance(outcome, WorkCancelled):
            await self._finish(live, JobState.CANCELLED)
        else:
            await self._finish(live, JobState.FAILED, error=outcome.message)

    async def _finish(
        self, live: LiveJob, state: JobState, *, error: str | None = None, result: bytes | None = None
    ) -> None:
        job = live.job
        previous, finished_at = job.state, self.clock()
        job.state, job.finished_at, job.error = state, finished_at, error
        # Before any await: a snapshot taken meanwhile would show a final card without its result.
        del self._live[job.id]
        if previous is JobState.RUNNING:
            self.metrics.job_finished(state.value, finished_at - (job.started_at or finished_at))
        elif previous is JobState.QUEUED:  # cancelled, or refused, before it started
            self.metrics.job_dropped(state.value)
        await self.store.save_job(job)
        if not live.finished.done():
            live.finished.set_result(state)
        log.info("job %s %s%s", job.id, state.value, f": {error}" if error else "")
        final = live.snapshot(result=result)
        if live.announced:
            for listener in self.listeners:
                listener.job_ended(final)
        self._waiting_changed()  # their positions and ETAs moved

    def _changed(self, job_id: str, *, force: bool = False) -> None:
        live = self._live.get(job_id)
        if live is None or not live.announced:
            return
        for listener in self.listeners:
            listener.job_changed(job_id, force=force)

    def _waiting_changed(self) -> None:
        for job_id in self.queue.waiting():
            self._changed(job_id)
