"""The job service: each job's life from acceptance to its final card, persisted at every step.

It implements the queue's `JobEvents` (started, progress, finished) and the publisher's
`CardSource` (what a card shows now). Jobs that are queued, running, or finished but not yet
shown are kept in memory; everything is also in the store, so a restart resumes them. Every
change of a job's state is recorded in the metrics at the moment it happens, so the queued and
running gauges always equal the jobs in those states.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Union

import discord

from stylecore.errors import OptionsError

from .cards import Card, CardState, render
from .config import Config
from .delivery import HANDOVER_AFTER_S, CardPublisher, token_age
from .errors import UserError
from .eta import EtaModel
from .jobs import Job, JobParams, JobState, Rerun, ResultInfo, new_job_id
from .metrics import Metrics
from .queue import JobQueue
from .settings import ServerSettings
from .store import Store
from .worker import Outcome, WorkCancelled, WorkFailed, WorkItem, WorkProgress, WorkResult

if TYPE_CHECKING:
    from .inputs import ImageInput

log = logging.getLogger("stylebot.jobs")

#: How long a Cancel click waits for a running job to stop before answering anyway.
CANCEL_WAIT_S = 60.0
#: How often finished jobs past their retention are looked for.
RETENTION_SWEEP_S = 600.0


def now() -> float:
    """Wall-clock epoch seconds, as Discord sees them (simcord's virtual clock in tests)."""
    return discord.utils.utcnow().timestamp()


@dataclass(eq=False)
class LiveJob:
    job: Job
    finished: asyncio.Future[JobState] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    progress: WorkProgress | None = None
    preview: bytes | None = None
    note: str | None = None
    result: bytes | None = None
    restarted: bool = False
    counted_iterations: int = 0
    """Iterations of the current attempt already added to the metrics."""
    counted_seconds: float = 0.0
    """Engine seconds of the current attempt already added to the metrics."""


StyleSource = Union["ImageInput", Path, bytes]
"""A style image: checked upload, a parent job's file (re-runs), or a preset's bytes."""


@dataclass(frozen=True)
class NewJob:
    """A job about to be accepted: who asked, where, and with what."""

    owner_id: int
    guild_id: int | None
    channel_id: int
    params: JobParams
    content: ImageInput | Path
    content_name: str
    styles: list[StyleSource]
    style_names: tuple[str, ...]
    filesize_limit: int
    parent_id: str | None = None
    variant: Rerun | None = None


class JobService:
    def __init__(self, bot: discord.Client, config: Config, store: Store, queue: JobQueue, metrics: Metrics) -> None:
        self.config = config
        self.store = store
        self.queue = queue
        self.metrics = metrics
        self.cards = CardPublisher(bot, self, progress_interval=config.bot.progress_interval)
        self.durations = EtaModel()
        self._live: dict[str, LiveJob] = {}
        self._last_retention_sweep: float | None = None

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume what the last run left: queued jobs in order (an interrupted one first), undelivered results."""
        await self.queue.start(self)
        active = await self.store.active_jobs()
        # The job that was running was the oldest started one; it goes back to the front.
        active.sort(key=lambda job: (job.state is not JobState.RUNNING, job.seq or 0))
        for job in active:
            if job.state is JobState.RUNNING:
                job.state, job.started_at = JobState.QUEUED, None
                await self.store.save_job(job)
            self._live[job.id] = LiveJob(job, restarted=True)
            # Before enqueueing: once queued, the job may start (and leave the gauge) at the next await.
            self.metrics.set_queue_depth(self.waiting_count())
            await self.enqueue(job)
        for job in await self.store.undelivered_results():
            if (job.finished_at or 0) >= self._retention_cutoff():  # older ones are given up (and swept)
                self._live[job.id] = LiveJob(job, result=await self.store.read_result(job))
                self.cards.request(job.id, force=True)
        if active:
            log.info("resumed %d queued job(s) after a restart", len(active))

    async def close(self) -> None:
        await self.queue.close()
        await self.cards.close()

    # -- queries ---------------------------------------------------------------------------------

    async def job(self, job_id: str) -> Job | None:
        live = self._live.get(job_id)
        return live.job if live else await self.store.job(job_id)

    def progress(self, job_id: str) -> WorkProgress | None:
        live = self._live.get(job_id)
        return live.progress if live else None

    def position(self, job_id: str) -> int | None:
        waiting = self.queue.waiting()
        return waiting.index(job_id) + 1 if job_id in waiting else None

    def user_jobs(self, user_id: int) -> list[Job]:
        """The user's queued and running jobs, oldest first."""
        jobs = [live.job for live in self._live.values() if live.job.owner_id == user_id and live.job.state.active]
        return sorted(jobs, key=lambda job: job.seq or 0)

    def waiting_count(self) -> int:
        return sum(1 for live in self._live.values() if live.job.state is JobState.QUEUED)

    def running_count(self) -> int:
        return len(self.queue.running())

    def eta(self, job_id: str) -> float | None:
        """Seconds until the job should be done; None while there is nothing to estimate from."""
        live = self._live.get(job_id)
        if live is None:
            return None
        if live.job.state is JobState.RUNNING:
            return self._remaining(live)
        waiting = self.queue.waiting()
        if job_id not in waiting:
            return None
        total = 0.0
        for other in [*self.queue.running(), *waiting[: waiting.index(job_id) + 1]]:
            other_live = self._live.get(other)
            part = self._remaining(other_live) if other_live else None
            if part is None:
                return None
            total += part
        return total

    def _remaining(self, live: LiveJob) -> float | None:
        if live.progress is not None and live.progress.eta is not None:
            return live.progress.eta
        estimate = self.durations.estimate(live.job.params)
        if estimate is None or live.job.started_at is None:
            return estimate
        return max(0.0, estimate - (now() - live.job.started_at))

    # -- accepting jobs --------------------------------------------------------------------------

    def check_capacity(self, user_id: int, settings: ServerSettings) -> None:
        """UserError if the queue is full or the user has too many jobs. Cheap: call before downloading."""
        waiting = self.waiting_count()
        if waiting >= self.config.limits.queue_max:
            raise UserError(f"The queue is full ({waiting} jobs waiting). Please try again in a few minutes.")
        mine = sum(1 for live in self._live.values() if live.job.owner_id == user_id and live.job.state.active)
        if mine >= settings.jobs_per_user:
            raise UserError(f"You already have {mine} job(s) queued or running; the limit is {settings.jobs_per_user}. "
                            "Wait for one to finish, or cancel one (see /queue).")

    async def create_job(self, new: NewJob, settings: ServerSettings) -> Job:
        """Check capacity again (downloads took time), then persist the job and its inputs."""
        self.check_capacity(new.owner_id, settings)
        job = Job(
            id=new_job_id(), owner_id=new.owner_id, guild_id=new.guild_id, channel_id=new.channel_id,
            params=new.params, content_name=new.content_name, style_names=new.style_names, created_at=now(),
            filesize_limit=new.filesize_limit, parent_id=new.parent_id, variant=new.variant,
        )
        # Counted from here on, before the awaits below, so concurrent submissions see it.
        self._live[job.id] = LiveJob(job)
        try:
            await self.store.add_job(job, _data(new.content), [_data(style) for style in new.styles])
        except BaseException:
            del self._live[job.id]
            raise
        self.metrics.job_queued()
        log.info("job %s accepted for user %s (%s)", job.id, job.owner_id, job.params)
        return job

    async def post_card(self, interaction: discord.Interaction, job: Job) -> None:
        state = self._card_state(job.id)
        if state is not None:
            await self.cards.post(interaction, job, render(state))

    async def enqueue(self, job: Job) -> None:
        live = self._live.get(job.id)
        if live is None or job.state is not JobState.QUEUED:
            return  # cancelled between its card and here
        try:
            item = self._work_item(job)
        except OptionsError as exc:
            await self._finish(live, JobState.FAILED, error=f"The job's options are not valid: {exc}.")
            return
        await self.queue.put(item)

    def _work_item(self, job: Job) -> WorkItem:
        return WorkItem(
            job_id=job.id,
            content=self.store.content_path(job),
            styles=self.store.style_paths(job),
            options=job.params.style_options(multiscale=self.config.engine.multiscale,
                                             max_seconds=self.config.limits.max_job_seconds),
            max_result_bytes=job.filesize_limit,
            max_pixels=self.config.limits.max_pixels,
        )

    async def cancel(self, job_id: str, by: int) -> JobState | None:
        """Cancel a queued or running job; returns its state afterwards (None: unknown or finished)."""
        live = self._live.get(job_id)
        if live is None or not live.job.state.active:
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

    # -- JobEvents -------------------------------------------------------------------------------

    async def job_started(self, job_id: str) -> None:
        live = self._live[job_id]
        live.job.state, live.job.started_at = JobState.RUNNING, now()
        self.metrics.job_started(wait_s=live.job.started_at - live.job.created_at)
        await self.store.save_job(live.job)
        self.cards.request(job_id)

    async def job_progress(self, job_id: str, progress: WorkProgress) -> None:
        live = self._live[job_id]
        if progress.note is not None:
            live.note = progress.note
            # The worker sends a note before it runs the job again (out-of-memory retry): that
            # attempt counts its iterations and time from zero.
            live.counted_iterations, live.counted_seconds = 0, 0.0
        else:
            self._count_iterations(live, progress)
            live.progress = progress
        if progress.preview is not None:
            live.preview = progress.preview
        self.cards.request(job_id)

    async def job_finished(self, job_id: str, outcome: Outcome) -> None:
        live = self._live[job_id]
        job = live.job
        if isinstance(outcome, WorkResult):
            job.result = ResultInfo(
                seed=outcome.options.seed or job.params.seed, iterations=outcome.iterations, elapsed=outcome.elapsed,
                width=outcome.width, height=outcome.height, stopped=outcome.stopped, device=outcome.device,
                file_name=f"stylized-{job.id}.{outcome.extension}", size=outcome.options.size,
            )
            # On disk first: if the bot stops before the card is shown, the next start delivers it.
            await self.store.write_result(job, outcome.image)
            live.result = outcome.image
            self.durations.learn(iterations=outcome.iterations, size=outcome.options.size, elapsed=outcome.elapsed)
            await self._finish(live, JobState.DONE)
        elif isinstance(outcome, WorkCancelled):
            await self._finish(live, JobState.CANCELLED)
        else:
            assert isinstance(outcome, WorkFailed)
            await self._finish(live, JobState.FAILED, error=str(outcome))
        await self.queue_changed()  # the ETAs of the waiting jobs moved

    def _count_iterations(self, live: LiveJob, progress: WorkProgress) -> None:
        done = progress.iteration - live.counted_iterations
        if done > 0:  # a Counter cannot go down; a repeated report adds nothing
            self.metrics.iterations(done, progress.elapsed - live.counted_seconds)
            live.counted_iterations, live.counted_seconds = progress.iteration, progress.elapsed

    async def queue_changed(self) -> None:
        for job_id in self.queue.waiting():
            self.cards.request(job_id)

    async def _finish(self, live: LiveJob, state: JobState, *, error: str | None = None) -> None:
        job = live.job
        previous, finished_at = job.state, now()
        job.state, job.finished_at, job.error = state, finished_at, error
        if previous is JobState.RUNNING:
            self.metrics.job_finished(state.value, finished_at - (job.started_at or finished_at))
        elif previous is JobState.QUEUED:  # cancelled, or its options were refused, before it started
            self.metrics.job_dropped(state.value)
        await self.store.save_job(job)
        if not live.finished.done():
            live.finished.set_result(state)
        log.info("job %s %s%s", job.id, state.value, f": {error}" if error else "")
        self.cards.request(job.id, force=True)

    # -- CardSource ------------------------------------------------------------------------------

    def _card_state(self, job_id: str) -> CardState | None:
        live = self._live.get(job_id)
        if live is None:
            return None
        return CardState(job=live.job, position=self.position(job_id), eta=self.eta(job_id), progress=live.progress,
                         preview=live.preview, note=live.note, result=live.result, restarted=live.restarted)

    def render_card(self, job_id: str) -> tuple[Job, Card] | None:
        state = self._card_state(job_id)
        return (state.job, render(state)) if state else None

    async def card_moved(self, job: Job) -> None:
        await self.store.save_job(job)

    async def card_shown(self, job: Job, card: Card) -> None:
        if job.state is JobState.DONE:
            job.delivered = True
            await self.store.save_job(job)
            await self.store.drop_result(job)
        self._live.pop(job.id, None)

    # -- housekeeping ----------------------------------------------------------------------------

    def _retention_cutoff(self) -> float:
        return now() - self.config.storage.retention_hours * 3600

    async def housekeeping(self) -> None:
        """Periodic: move cards whose interaction token is about to expire, retry final cards, apply retention."""
        cutoff = self._retention_cutoff()
        for live in list(self._live.values()):
            job, ref = live.job, live.job.card
            if self.cards.busy(job.id):
                continue
            if not job.state.active:
                if (job.finished_at or 0) < cutoff:
                    log.warning("job %s: giving up showing its final card (channel and DMs kept failing)", job.id)
                    del self._live[job.id]
                else:
                    self.cards.request(job.id, force=True)  # a final card that did not reach Discord yet
            elif ref is not None and ref.token and not ref.moved and token_age(ref) >= HANDOVER_AFTER_S:
                self.cards.request(job.id, force=True)
        current = now()
        if self._last_retention_sweep is None or current - self._last_retention_sweep >= RETENTION_SWEEP_S:
            self._last_retention_sweep = current
            for job in await self.store.finished_before(cutoff):
                if job.id not in self._live:
                    await self.store.delete_job(job.id)
                    log.info("job %s: inputs deleted after the retention time", job.id)


def _data(source: StyleSource) -> bytes | Path:
    return source if isinstance(source, (Path, bytes)) else source.data
