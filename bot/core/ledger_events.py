"""The ledger's side that the queue talks to: the jobs it holds, changed as the queue's events arrive.

Each change (started, progress, an out-of-memory retry, a move to another worker, the end) is
persisted, counted, and told to the listeners (the publisher); a job that ends leaves as a final
snapshot. `Ledger` builds on it with the way in (accept, enqueue, cancel) and the read-only
queries. No Discord here.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.core.eta import EtaModel
from bot.core.job import Clock, JobState, ResultInfo, Snapshot
from bot.core.live import LiveJob
from bot.core.store import Store
from bot.ops.metrics import Metrics
from bot.queue.interface import JobQueue
from bot.queue.messages import (
    JobEvent,
    JobFinished,
    JobStarted,
    JobUpdated,
    Outcome,
    WorkCancelled,
    WorkProgress,
    WorkResult,
    WorkRetry,
)

log = logging.getLogger("stylebot.ledger")


class LedgerListener(Protocol):
    async def job_announced(self, job_id: str) -> None:
        """A new job's card may appear: show it now (the ledger waits, so it comes before the job starts)."""

    def job_changed(self, job_id: str, *, force: bool = False) -> None:
        """The job's card is out of date (`force`: show it even if throttled)."""

    def job_ended(self, final: Snapshot) -> None:
        """The job finished, failed or was cancelled; the ledger forgets it."""


class LedgerEvents:
    """The jobs held while queued or running, and their listeners; `Ledger` is what the bot builds."""

    def __init__(self, store: Store, queue: JobQueue, metrics: Metrics, *, clock: Clock) -> None:
        self.store = store
        self.queue = queue
        self.metrics = metrics
        self.clock = clock
        self.durations = EtaModel()
        """Learned from finished jobs, for the ETAs."""
        self.listeners: list[LedgerListener] = []
        self._live: dict[str, LiveJob] = {}

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
            files = self.store.files
            job.result = ResultInfo.of(job, outcome)
            # On disk first: if the bot stops before the card is shown, the next start delivers it.
            await files.write_output(files.result_path(job), outcome.image)
            if outcome.timelapse:
                await files.write_output(files.timelapse_path(job), outcome.timelapse[0])
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
