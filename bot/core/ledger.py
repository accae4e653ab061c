"""The ledger: the one owner of every live job's state; each change persisted, counted, and told to listeners.

Jobs enter through `accept` (from intake) or `resume` (after a restart), go to the queue through
`enqueue`, and change as the queue's events arrive (`on_event`): started, progress, an out-of-memory
retry, a move to another worker, the end. Nothing else assigns a job's state. Listeners (the
publisher) are told that a job changed and read what they need through the read-only queries
(`snapshot`, `position`, `eta`), which hand out copies. A finished job leaves the ledger as a final
snapshot handed to the listeners; `redeliver` hands them again, after a restart, the results that
never reached Discord. No Discord here.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from bot.core.eta import EtaModel
from bot.core.job import Clock, Job, JobState, NewJob, ResultInfo, Snapshot, new_job_id
from bot.core.params import EngineSettings
from bot.core.store import Store
from bot.ops.metrics import Metrics
from bot.queue.interface import JobQueue, Payload, PayloadImage, QueueRefused
from bot.queue.messages import (
    JobEvent,
    JobFinished,
    JobStarted,
    JobUpdated,
    Outcome,
    WorkCancelled,
    WorkFrame,
    WorkItem,
    WorkProgress,
    WorkResult,
    WorkRetry,
)
from stylecore.errors import OptionsError
from stylecore.options import StyleOptions

log = logging.getLogger("stylebot.ledger")

#: How long a cancel waits for a running job to stop before answering anyway.
CANCEL_WAIT_S = 60.0
MOVED_NOTE = "Moved to another worker (the first one stopped responding); started again."
#: How long the ledger keeps failing to save what a queue's event means (a finished job's result on a
#: full disk, say) before it gives up: the job then ends Failed, which frees its owner's slot. Until
#: then the event is offered again (`bot.queue.delivery`) and the card says why it waits. Well under a
#: day, so a Redis worker's stored result (kept a day) is still there when the disk has room again.
SAVE_BOUND_S = 30 * 60
SAVE_DELAYED_NOTE = "Finished, but the result could not be saved yet ({problem}); trying again."
SAVE_GAVE_UP = (
    "The result was made, but the bot could not save it for {minutes} minutes ({problem}), so the job was "
    "stopped. Please try again later."
)


class LedgerListener(Protocol):
    async def job_announced(self, job_id: str) -> None:
        """A new job's card may appear: show it now (the ledger waits, so it comes before the job starts)."""

    def job_changed(self, job_id: str) -> None:
        """The job's card is out of date."""

    def job_ended(self, final: Snapshot) -> None:
        """The job finished, failed or was cancelled (the ledger forgets it), or its result is due again."""


@dataclass(eq=False)
class LiveJob:
    """A job while the ledger holds it: its record, plus what only matters while it is queued or running."""

    job: Job
    finished: asyncio.Future[JobState] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    announced: bool = False
    """Its card may be shown: until then changes are not told (the owner's private reply comes first)."""
    progress: WorkProgress | None = None
    preview: bytes | None = None
    note: str | None = None
    """Something the owner should know: a retry at a smaller size, a move to another worker."""
    unsaved_since: float | None = None
    """When saving what the queue reported first failed (cleared when a save succeeds): the bound starts there."""
    unsaved_note: str | None = None
    """Why the card waits while that save keeps failing; shown instead of `note` meanwhile."""
    restarted: bool = False
    options: StyleOptions | None = None
    """The engine's options, from intake's check; made by `enqueue` for a job resumed after a restart."""
    counted_iterations: int = 0
    """Iterations of the current attempt (of its current frame, in a clip) already added to the metrics."""
    counted_frame: int = 0
    counted_seconds: float = 0.0

    def snapshot(
        self, *, position: int | None = None, eta: float | None = None, result: bytes | None = None
    ) -> Snapshot:
        # The job is copied: the live one keeps changing while the publisher renders this moment.
        return Snapshot(
            job=replace(self.job),
            position=position,
            eta=eta,
            progress=self.progress,
            preview=self.preview,
            note=self.unsaved_note or self.note,
            result=result,
            restarted=self.restarted,
        )

    def progressed(self, progress: WorkProgress) -> tuple[int, float]:
        """Take a report; the iterations and seconds it adds to the metrics (a repeated report adds none)."""
        if progress.frame != self.counted_frame:  # a clip's next frame: its iterations count from zero
            self.counted_frame, self.counted_iterations = progress.frame, 0
        done = progress.iteration - self.counted_iterations
        seconds = progress.elapsed - self.counted_seconds
        self.progress = progress
        if progress.preview is not None:
            self.preview = progress.preview
        if done <= 0:
            return 0, 0.0
        self.counted_iterations, self.counted_seconds = progress.iteration, progress.elapsed
        return done, seconds

    def restarting(self, note: str) -> None:
        """The job runs again from zero (smaller, or on another worker): that attempt counts afresh."""
        self.note = note
        self.counted_iterations, self.counted_frame, self.counted_seconds = 0, 0, 0.0

    def moved(self) -> None:
        self.restarting(MOVED_NOTE)
        self.progress = None


class Ledger:
    """The jobs held while queued or running, and their listeners."""

    def __init__(
        self, engine: EngineSettings, store: Store, queue: JobQueue, metrics: Metrics, *, clock: Clock
    ) -> None:
        self.engine = engine
        self.store = store
        self.queue = queue
        self.metrics = metrics
        self.clock = clock
        self.durations = EtaModel()
        """Learned from finished jobs, for the ETAs."""
        self.listeners: list[LedgerListener] = []
        self._live: dict[str, LiveJob] = {}

    # -- read-only queries: copies, never the live records -----------------------------------------

    async def job(self, job_id: str) -> Job | None:
        live = self._live.get(job_id)
        return replace(live.job) if live else await self.store.job(job_id)

    def snapshot(self, job_id: str) -> Snapshot | None:
        live = self._live.get(job_id)
        return live.snapshot(position=self.position(job_id), eta=self.eta(job_id)) if live else None

    def active_jobs(self) -> list[Job]:
        """Queued and running jobs, oldest first."""
        return [replace(live.job) for live in sorted(self._live.values(), key=lambda live: live.job.seq or 0)]

    def user_jobs(self, user_id: int) -> list[Job]:
        return [job for job in self.active_jobs() if job.owner_id == user_id]

    def user_snapshots(self, user_id: int) -> list[Snapshot]:
        """A member's queued and running jobs, oldest first, as their cards would show them now."""
        return [snapshot for job in self.user_jobs(user_id) if (snapshot := self.snapshot(job.id)) is not None]

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
        """Seconds until a job is done: its own remaining time, plus, while it waits, the running jobs' and
        those ahead of it, shared by the workers. None while any of them has no estimate yet."""
        now = self.clock()

        def remaining(other: str) -> float | None:
            held = self._live.get(other)
            return self.durations.remaining(held.job, held.progress, now) if held else None

        held = self._live.get(job_id)
        if held is None or held.job.state is JobState.RUNNING:
            return remaining(job_id)
        waiting = self.queue.waiting()
        if job_id not in waiting:
            return None
        total = 0.0
        for other in [*self.queue.running(), *waiting[: waiting.index(job_id) + 1]]:
            part = remaining(other)
            if part is None:
                return None
            total += part
        own = remaining(job_id) or 0.0
        # With several workers the work ahead is shared; the job's own run is not.
        return (total - own) / max(1, self.queue.workers_online()) + own

    # -- the way in: accept, announce, enqueue, cancel ---------------------------------------------

    async def accept(self, new: NewJob) -> Job:
        """Persist the job and its inputs. Then `announce` it once its owner is answered, and `enqueue` it."""
        # QueueRefused before anything is kept: intake tells only the member.
        self.queue.check_payload(await asyncio.to_thread(_payload, new))
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
        self._live[job.id] = LiveJob(job, options=new.options)
        try:
            await self.store.add_job(job, new.content, list(new.styles), new.init)
        except BaseException:
            del self._live[job.id]
            raise
        self.metrics.job_queued()
        log.info("job %s accepted for user %s (%s)", job.id, job.owner_id, job.params)
        return replace(job)

    async def announce(self, job_id: str) -> None:
        """The owner has been answered: show the job's card (before it is queued, so it starts as "Queued")."""
        live = self._live.get(job_id)
        if live is not None and not live.announced:
            live.announced = True
            for listener in self.listeners:
                await listener.job_announced(job_id)

    async def enqueue(self, job_id: str) -> None:
        """Hand an accepted job to the queue; if the queue refuses it (unreachable, too large), it fails with why."""
        live = self._live.get(job_id)
        if live is None or live.job.state is not JobState.QUEUED:
            return  # cancelled in the meantime
        job = live.job
        if live.options is None:  # resumed after a restart: made under this run's config and engine
            try:
                live.options = self.engine.options(job.params)
            except OptionsError as exc:  # checked at intake, but a newer engine may have other rules
                await self._finish(
                    live, JobState.FAILED, error=f"The job's options are not valid: {exc}.", must_save=False
                )
                return
        files = self.store.files
        item = WorkItem(
            job.id,
            files.content_path(job),
            files.style_paths(job),
            live.options,
            job.filesize_limit,
            self.engine.max_pixels,
            guild_id=job.guild_id,
            owner_id=job.owner_id,
            init=files.init_path(job) if job.params.upscale_from else None,
            max_frames=job.params.frames,
            # A clip stopped midway (the bot was stopped) goes on from the frames it finished.
            done=await asyncio.to_thread(files.finished_frames, job) if job.params.clip else (),
        )
        try:
            await self.queue.put(item)
        except QueueRefused as exc:
            await self._finish(live, JobState.FAILED, error=str(exc), must_save=False)
            return
        self._waiting_changed()

    async def cancel(self, job_id: str, by: int) -> JobState | None:
        """Cancel a queued or running job; its state afterwards (None: unknown or already ended)."""
        live = self._live.get(job_id)
        if live is None:
            return None
        live.job.cancelled_by = by
        was_waiting = job_id in self.queue.waiting()
        found = await self.queue.cancel(job_id)
        if was_waiting or not found:
            await self._finish(live, JobState.CANCELLED, must_save=False)
            return JobState.CANCELLED
        try:
            return await asyncio.wait_for(asyncio.shield(live.finished), CANCEL_WAIT_S)
        except TimeoutError:
            return live.job.state

    # -- after a restart ---------------------------------------------------------------------------

    async def resume(self) -> None:
        """Hold again the jobs the last run left queued or running, and queue them: an interrupted one first
        (it starts again from the beginning), then the others in their order."""
        active = await self.store.active_jobs()
        active.sort(key=lambda job: (job.state is not JobState.RUNNING, job.seq or 0))
        for job in active:
            if job.state is JobState.RUNNING:
                job.state, job.started_at = JobState.QUEUED, None
                await self.store.save_job(job)
            self._live[job.id] = LiveJob(job, announced=True, restarted=True)
        # Before enqueueing: once queued, a job may start (and leave the gauge) at the next await.
        self.metrics.set_queue_depth(self.waiting_count())
        for job in active:
            await self.enqueue(job.id)
        if active:
            log.info("resumed %d queued job(s) after a restart", len(active))

    async def redeliver(self, *, since: float) -> None:
        """Hand the listeners again the results that finished after `since` but never reached Discord."""
        files = self.store.files
        for job in await self.store.undelivered_results():
            if (job.finished_at or 0) >= since:  # older ones are given up (and swept)
                result = await files.read_output(files.result_path(job))
                for listener in self.listeners:
                    listener.job_ended(Snapshot(job=job, result=result))

    # -- what the queue tells ----------------------------------------------------------------------

    async def on_event(self, event: JobEvent) -> None:
        """Take one of the queue's events. Raises when what it means could not be saved (the queue then keeps
        the event and offers it again), until `SAVE_BOUND_S` has passed: then the job ends Failed here."""
        live = self._live.get(event.job_id)
        if live is None or not live.job.state.active:
            return  # already ended here (e.g. cancelled while the worker reported)
        try:
            match event:
                case JobStarted():
                    await self._started(live)
                case JobUpdated(update=WorkRetry() as retry):
                    live.restarting(retry.message)
                    if live.job.params.clip:  # the frames kept are of the size that ran out of memory
                        await self.store.files.drop_frames(live.job)
                    self._changed(live.job.id)
                case JobUpdated(update=WorkFrame() as frame):
                    await self._keep_frame(live.job, frame)
                case JobUpdated(update=WorkProgress() as progress):
                    iterations, seconds = live.progressed(progress)
                    if iterations:
                        self.metrics.iterations(iterations, seconds)
                    self._changed(live.job.id)
                case JobFinished(outcome=outcome):
                    await self._finished(live, outcome)
        except Exception as exc:
            if not await self._given_up(live, exc):
                raise
        else:
            live.unsaved_since = live.unsaved_note = None

    async def _given_up(self, live: LiveJob, exc: Exception) -> bool:
        """After a failed save: True if the bound has passed and the job ended Failed; else its card says why it
        waits, and False."""
        now = self.clock()
        if live.unsaved_since is None:
            live.unsaved_since = now
        problem = _problem(exc)
        if now - live.unsaved_since < SAVE_BOUND_S:
            live.unsaved_note = SAVE_DELAYED_NOTE.format(problem=problem)
            self._changed(live.job.id)
            return False
        log.error(
            "job %s: saving its end failed for %.0f s (%s); giving up", live.job.id, now - live.unsaved_since, problem
        )
        live.unsaved_note = None
        error = SAVE_GAVE_UP.format(minutes=round(SAVE_BOUND_S / 60), problem=problem)
        await self._finish(live, JobState.FAILED, error=error, must_save=False)
        return True

    async def _keep_frame(self, job: Job, frame: WorkFrame) -> None:
        """Keep a clip's finished frame, so that a stop does not cost the frames done (a frame that cannot be
        written only costs its time again: it is not offered again)."""
        files = self.store.files
        try:
            await files.write_output(files.frame_path(job, frame.index), frame.image)
        except OSError as exc:
            log.warning("job %s: finished frame %d not kept (%s)", job.id, frame.index, _problem(exc))

    async def _started(self, live: LiveJob) -> None:
        job = live.job
        if job.state is JobState.RUNNING:  # handed to another worker: the first one stopped responding
            live.moved()
        else:
            started_at = self.clock()
            # Saved before it is so here: if the save fails, the event is offered again and finds it queued.
            await self.store.save_job(replace(job, state=JobState.RUNNING, started_at=started_at))
            job.state, job.started_at = JobState.RUNNING, started_at
            self.metrics.job_started(wait_s=started_at - job.created_at)
        self._changed(job.id)
        self._waiting_changed()

    async def _finished(self, live: LiveJob, outcome: Outcome) -> None:
        job = live.job
        if isinstance(outcome, WorkResult):
            files, info = self.store.files, ResultInfo.of(job, outcome)
            done = replace(job, result=info)  # where its files go; the job itself changes only once saved
            # On disk first: if the bot stops before the card is shown, the next start delivers it.
            await files.write_output(files.result_path(done), outcome.image)
            if outcome.timelapse:
                await files.write_output(files.timelapse_path(done), outcome.timelapse[0])
            await self._finish(live, JobState.DONE, result=outcome.image, info=info)
            params = job.params
            self.durations.learn(
                # A clip's rate is learned per frame of its first frame's iterations (`EtaModel`).
                iterations=params.iterations if params.clip else outcome.iterations,
                size=outcome.options.size,
                elapsed=outcome.elapsed,
                frames=params.frames,
            )
        elif isinstance(outcome, WorkCancelled):
            await self._finish(live, JobState.CANCELLED)
        else:
            await self._finish(live, JobState.FAILED, error=outcome.message)

    async def _finish(
        self,
        live: LiveJob,
        state: JobState,
        *,
        error: str | None = None,
        result: bytes | None = None,
        info: ResultInfo | None = None,
        must_save: bool = True,
    ) -> None:
        """End the job: saved first, then so here, then told. A failed save raises when `must_save` (an event's
        end: offered again); otherwise (a cancel, a refusal, giving up) the job ends here all the same."""
        job = live.job
        finished_at = self.clock()
        final = replace(job, state=state, finished_at=finished_at, error=error, result=info or job.result)
        try:
            await self.store.save_job(final)
        except Exception:
            if must_save:
                raise
            log.exception("job %s: could not save that it %s; it ends here all the same", job.id, state.value)
        if self._live.get(job.id) is not live:
            return  # ended meanwhile (a cancel while this end was being saved)
        live.unsaved_since = live.unsaved_note = None
        previous = job.state
        job.state, job.finished_at, job.error, job.result = state, finished_at, error, final.result
        # Before any await: a snapshot taken meanwhile would show a final card without its result.
        del self._live[job.id]
        if previous is JobState.RUNNING:
            self.metrics.job_finished(state.value, finished_at - (job.started_at or finished_at))
        elif previous is JobState.QUEUED:  # cancelled, or refused, before it started
            self.metrics.job_dropped(state.value)
        if not live.finished.done():
            live.finished.set_result(state)
        log.info("job %s %s%s", job.id, state.value, f": {error}" if error else "")
        final_snapshot = live.snapshot(result=result)
        if live.announced:
            for listener in self.listeners:
                listener.job_ended(final_snapshot)
        self._waiting_changed()  # their positions and ETAs moved
        if job.params.clip:  # its result is kept (or there is none to make): the frames finished are done with
            await self.store.files.drop_frames(job)

    def _changed(self, job_id: str) -> None:
        live = self._live.get(job_id)
        if live is None or not live.announced:
            return
        for listener in self.listeners:
            listener.job_changed(job_id)

    def _waiting_changed(self) -> None:
        for job_id in self.queue.waiting():
            self._changed(job_id)


def _payload(new: NewJob) -> Payload:
    """The images a queue would carry to a worker for `new` (blocking: a re-run's images are files)."""
    images = [(new.content_name, new.content), *zip(new.style_names, new.styles, strict=True)]
    payload = [PayloadImage(name, _size(data)) for name, data in images]
    if new.init is not None:
        payload.append(PayloadImage("to upscale", _size(new.init), upscale_start=True))
    return payload


def _problem(exc: Exception) -> str:
    """A failed save's cause in a few words for a card: the OS's wording for a disk error ("No space left on
    device"), else the error's first line."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _size(data: bytes | Path) -> int:
    return len(data) if isinstance(data, bytes) else os.path.getsize(data)
