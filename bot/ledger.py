"""The ledger: every live job's state, each change persisted and counted, and told to listeners.

Jobs enter through `accept` (from intake), go to the queue through `enqueue`, and change as the
queue's events arrive (`on_event`). Each change is saved to the store and recorded in the
metrics at the moment it happens, then listeners (the publisher) hear that the job changed; they
read what they need through the read-only queries (`snapshot`, `position`, `eta`). A finished
job leaves the ledger with a final snapshot handed to the listeners. No Discord here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from stylecore.errors import OptionsError

from .config import Config
from .errors import UserError
from .eta import EtaModel, queue_eta
from .jobs import (
    CardRef,
    Job,
    JobEvent,
    JobFinished,
    JobParams,
    JobStarted,
    JobState,
    JobUpdated,
    Rerun,
    ResultInfo,
    WorkCancelled,
    WorkFailed,
    WorkItem,
    WorkProgress,
    WorkResult,
    WorkRetry,
    new_job_id,
)
from .metrics import Metrics
from .queue import JobQueue, QueueUnavailable
from .store import Store

log = logging.getLogger("stylebot.ledger")

#: How long a cancel waits for a running job to stop before answering anyway.
CANCEL_WAIT_S = 60.0

Clock = Callable[[], float]
"""Wall-clock epoch seconds, as Discord sees them (simcord's virtual clock in tests)."""


@dataclass(frozen=True)
class Snapshot:
    """Everything a job's card shows, as of one moment."""

    job: Job
    position: int | None = None
    """1-based place in the waiting line; None when not waiting."""
    eta: float | None = None
    """Seconds until the job is expected to finish."""
    progress: WorkProgress | None = None
    preview: bytes | None = None
    note: str | None = None
    """Something the owner should know: a retry at a smaller size, a move to another worker."""
    result: bytes | None = None
    restarted: bool = False


class LedgerListener(Protocol):
    async def job_announced(self, job_id: str) -> None:
        """A new job's card may appear: show it now (the ledger waits, so it comes before the job starts)."""

    def job_changed(self, job_id: str, *, force: bool = False) -> None:
        """The job's card is out of date (`force`: show it even if throttled)."""

    def job_ended(self, final: Snapshot) -> None:
        """The job finished, failed or was cancelled; the ledger forgets it."""


@dataclass(frozen=True)
class NewJob:
    """A job about to be accepted: who asked, where, with what. Inputs are bytes (uploads) or paths (re-runs)."""

    owner_id: int
    guild_id: int | None
    channel_id: int
    params: JobParams
    content: bytes | Path
    content_name: str
    styles: tuple[bytes | Path, ...]
    style_names: tuple[str, ...]
    filesize_limit: int
    card: CardRef | None = None
    parent_id: str | None = None
    variant: Rerun | None = None


@dataclass(eq=False)
class _Live:
    job: Job
    finished: asyncio.Future[JobState] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    announced: bool = False
    """Its card may be shown: until then changes are not told (the owner's private reply comes first)."""
    progress: WorkProgress | None = None
    preview: bytes | None = None
    note: str | None = None
    worker: str | None = None
    restarted: bool = False
    counted_iterations: int = 0
    """Iterations of the current attempt already added to the metrics."""
    counted_seconds: float = 0.0


class Ledger:
    def __init__(self, config: Config, store: Store, queue: JobQueue, metrics: Metrics, *, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.queue = queue
        self.metrics = metrics
        self.clock = clock
        self.durations = EtaModel()
        self.listeners: list[LedgerListener] = []
        self._live: dict[str, _Live] = {}

    # -- queries ---------------------------------------------------------------------------------

    async def job(self, job_id: str) -> Job | None:
        live = self._live.get(job_id)
        return live.job if live else await self.store.job(job_id)

    def snapshot(self, job_id: str) -> Snapshot | None:
        live = self._live.get(job_id)
        if live is None:
            return None
        # A copy: the live job keeps changing while the publisher renders this moment.
        return Snapshot(job=replace(live.job), position=self.position(job_id), eta=self.eta(job_id),
                        progress=live.progress, preview=live.preview, note=live.note, restarted=live.restarted)

    def active_jobs(self) -> list[Job]:
        """Queued and running jobs, oldest first."""
        return sorted((live.job for live in self._live.values()), key=lambda job: job.seq or 0)

    def user_jobs(self, user_id: int) -> list[Job]:
        return [job for job in self.active_jobs() if job.owner_id == user_id]

    def progress(self, job_id: str) -> WorkProgress | None:
        live = self._live.get(job_id)
        return live.progress if live else None

    def position(self, job_id: str) -> int | None:
        waiting = self.queue.waiting()
        return waiting.index(job_id) + 1 if job_id in waiting else None

    def waiting_count(self) -> int:
        return sum(1 for live in self._live.values() if live.job.state is JobState.QUEUED)

    def running_count(self) -> int:
        return len(self.queue.running())

    def workers_online(self) -> int:
        return self.queue.workers_online()

    def eta(self, job_id: str) -> float | None:
        """Seconds until the job should be done; None while there is nothing to estimate from."""
        live = self._live.get(job_id)
        if live is None:
            return None
        if live.job.state is JobState.RUNNING:
            return self._remaining(job_id)
        return queue_eta(job_id, self.queue.running(), self.queue.waiting(), self.queue.workers_online(),
                         self._remaining)

    def _remaining(self, job_id: str) -> float | None:
        live = self._live.get(job_id)
        if live is None:
            return None
        if live.progress is not None and live.progress.eta is not None:
            return live.progress.eta
        estimate = self.durations.estimate(live.job.params)
        if estimate is None or live.job.started_at is None:
            return estimate
        return max(0.0, estimate - (self.clock() - live.job.started_at))

    # -- accepting jobs --------------------------------------------------------------------------

    def check_capacity(self, user_id: int, jobs_per_user: int) -> None:
        """UserError if the queue is full or the user has too many jobs, QueueUnavailable if the queue is
        unreachable. Cheap: call before downloading."""
        if not self.queue.available():
            raise QueueUnavailable("The job queue is unavailable right now; please try again in a minute.")
        waiting = self.waiting_count()
        if waiting >= self.config.limits.queue_max:
            raise UserError(f"The queue is full ({waiting} jobs waiting). Please try again in a few minutes.")
        mine = len(self.user_jobs(user_id))
        if mine >= jobs_per_user:
            raise UserError(f"You already have {mine} job(s) queued or running; the limit is {jobs_per_user}. "
                            "Wait for one to finish, or cancel one (see /queue).")

    async def accept(self, new: NewJob, *, jobs_per_user: int) -> Job:
        """Check capacity again (downloads took time), then persist the job and its inputs.

        Then `announce` it once its owner is answered, and `enqueue` it.
        """
        self.check_capacity(new.owner_id, jobs_per_user)
        job = Job(
            id=new_job_id(), owner_id=new.owner_id, guild_id=new.guild_id, channel_id=new.channel_id,
            params=new.params, content_name=new.content_name, style_names=new.style_names, created_at=self.clock(),
            filesize_limit=new.filesize_limit, parent_id=new.parent_id, variant=new.variant, card=new.card,
        )
        # Counted from here on, before the awaits below, so concurrent submissions see it.
        self._live[job.id] = _Live(job)
        try:
            await self.store.add_job(job, new.content, list(new.styles))
        except BaseException:
            del self._live[job.id]
            raise
        self.metrics.job_queued()
        log.info("job %s accepted for user %s (%s)", job.id, job.owner_id, job.params)
        return job

    async def enqueue(self, job: Job) -> None:
        """Hand an accepted job to the queue. If the queue refuses it (unreachable), it fails with the reason."""
        live = self._live.get(job.id)
        if live is None or job.state is not JobState.QUEUED:
            return  # cancelled in the meantime
        try:
            item = self._work_item(job)
        except OptionsError as exc:
            await self._finish(live, JobState.FAILED, error=f"The job's options are not valid: {exc}.")
            return
        try:
            await self.queue.put(item)
        except QueueUnavailable as exc:
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

    def _work_item(self, job: Job) -> WorkItem:
        limits = self.config.limits
        return WorkItem(
            job_id=job.id,
            content=self.store.content_path(job),
            styles=self.store.style_paths(job),
            options=job.params.style_options(multiscale=self.config.engine.multiscale,
                                             max_seconds=limits.max_job_seconds),
            max_result_bytes=job.filesize_limit,
            max_pixels=limits.max_pixels,
            guild_id=job.guild_id,
            owner_id=job.owner_id,
        )

    async def resume(self) -> int:
        """After a restart: queue the jobs the last run left, an interrupted one first. Returns how many."""
        active = await self.store.active_jobs()
        active.sort(key=lambda job: (job.state is not JobState.RUNNING, job.seq or 0))
        for job in active:
            if job.state is JobState.RUNNING:
                job.state, job.started_at = JobState.QUEUED, None
                await self.store.save_job(job)
            self._live[job.id] = _Live(job, announced=True, restarted=True)
        # Before enqueueing: once queued, a job may start (and leave the gauge) at the next await.
        self.metrics.set_queue_depth(self.waiting_count())
        for job in active:
            await self.enqueue(job)
        if active:
            log.info("resumed %d queued job(s) after a restart", len(active))
        return len(active)

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
                live.note = retry.message
                # The job runs again from zero: that attempt counts its iterations and time afresh.
                live.counted_iterations, live.counted_seconds = 0, 0.0
                self._changed(live.job.id)
            case JobUpdated(update=WorkProgress() as progress):
                self._count_iterations(live, progress)
                live.progress = progress
                if progress.preview is not None:
                    live.preview = progress.preview
                self._changed(live.job.id)
            case JobFinished(outcome=outcome):
                await self._finished(live, outcome)

    async def _started(self, live: _Live, worker: str) -> None:
        job = live.job
        if job.state is JobState.RUNNING:  # handed to another worker: the first one stopped responding
            live.note = "Moved to another worker (the first one stopped responding); started again."
            live.progress, live.counted_iterations, live.counted_seconds = None, 0, 0.0
        else:
            job.state, job.started_at = JobState.RUNNING, self.clock()
            self.metrics.job_started(wait_s=job.started_at - job.created_at)
            await self.store.save_job(job)
        live.worker = worker
        self._changed(job.id)
        self._waiting_changed()

    async def _finished(self, live: _Live, outcome: WorkResult | WorkFailed | WorkCancelled) -> None:
        job = live.job
        if isinstance(outcome, WorkResult):
            job.result = ResultInfo(
                seed=outcome.options.seed or job.params.seed, iterations=outcome.iterations, elapsed=outcome.elapsed,
                width=outcome.width, height=outcome.height, stopped=outcome.stopped, device=outcome.device,
                file_name=f"stylized-{job.id}.{outcome.extension}", size=outcome.options.size,
            )
            # On disk first: if the bot stops before the card is shown, the next start delivers it.
            await self.store.write_result(job, outcome.image)
            self.durations.learn(iterations=outcome.iterations, size=outcome.options.size, elapsed=outcome.elapsed)
            await self._finish(live, JobState.DONE, result=outcome.image)
        elif isinstance(outcome, WorkCancelled):
            await self._finish(live, JobState.CANCELLED)
        else:
            await self._finish(live, JobState.FAILED, error=outcome.message)

    def _count_iterations(self, live: _Live, progress: WorkProgress) -> None:
        done = progress.iteration - live.counted_iterations
        if done > 0:  # a Counter cannot go down; a repeated report adds nothing
            self.metrics.iterations(done, progress.elapsed - live.counted_seconds)
            live.counted_iterations, live.counted_seconds = progress.iteration, progress.elapsed

    async def _finish(self, live: _Live, state: JobState, *, error: str | None = None,
                      result: bytes | None = None) -> None:
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
        final = Snapshot(job=job, progress=live.progress, preview=live.preview, note=live.note, result=result,
                         restarted=live.restarted)
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
