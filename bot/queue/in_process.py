"""The in-process backend of the job queue: a fair waiting line in front of this process's one engine thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from bot.queue.delivery import EventOutbox
from bot.queue.engine.bridge import EngineRun
from bot.queue.engine.thread import EngineThread
from bot.queue.fairness import FairLine
from bot.queue.interface import ENGINE_WAIT, IDLE_WAIT, JobEvents, Payload, WaitHook, plain_wait
from bot.queue.messages import JobFinished, JobStarted, JobUpdated, Outcome, WorkItem


class InProcessQueue:
    """A fair waiting line in front of the one local engine thread."""

    def __init__(self, engine: EngineThread, *, wait_hook: WaitHook = plain_wait) -> None:
        self.engine = engine
        self.wait_hook = wait_hook
        self.name = f"{socket.gethostname()} (this process)"
        self._line: FairLine[WorkItem] = FairLine()
        self._wakeup = asyncio.Event()
        self._running: EngineRun | None = None
        self._task: asyncio.Task[None] | None = None
        self._outbox: EventOutbox | None = None

    @property
    def worker_last_beat(self) -> float:
        return self.engine.last_beat

    def waiting(self) -> list[str]:
        return [item.job_id for item in self._line]

    def running(self) -> list[str]:
        return [self._running.job_id] if self._running else []

    def workers_online(self) -> int:
        return 1

    def available(self) -> bool:
        return True

    def check_payload(self, images: Payload) -> None:
        """Nothing to check: the engine reads the images from this machine's disk."""

    async def start(self, events: JobEvents) -> None:
        self.engine.start()
        self._outbox = EventOutbox(events)
        self._task = asyncio.create_task(self._serve(self._outbox), name="stylebot-queue")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._outbox is not None:
            # A finished job whose result the bot could not save yet is forgotten here; still running in
            # the database, it runs again at the next start.
            await self._outbox.close()
        # Joins the engine thread: the interpreter must not exit while it is inside PyTorch.
        await asyncio.to_thread(self.engine.stop)

    async def put(self, item: WorkItem) -> None:
        self._line.push(item.job_id, item, guild_id=item.guild_id, user_id=item.owner_id)
        self._wakeup.set()

    async def cancel(self, job_id: str) -> bool:
        if self._running and self._running.job_id == job_id:
            self._running.cancel()
            return True
        return self._line.remove(job_id) is not None

    async def _serve(self, outbox: EventOutbox) -> None:
        while True:
            item = self._line.pop()
            while item is None:
                self._wakeup.clear()
                await self.wait_hook(self._wakeup.wait(), reason=IDLE_WAIT)
                item = self._line.pop()
            run = self._running = EngineRun(self.engine, item)
            try:
                await outbox.deliver(JobStarted(item.job_id, self.name))
                run.start()
                outcome = await self._follow(run, outbox)
            except asyncio.CancelledError:
                run.cancel()  # shutting down: stop the engine; the job is resumed at the next start-up
                raise
            finally:
                self._running = None
            # An outcome the bot cannot take yet waits in the outbox, offered again there; the next job starts.
            await outbox.deliver(JobFinished(item.job_id, outcome))

    async def _follow(self, run: EngineRun, outbox: EventOutbox) -> Outcome:
        """Relay the engine's reports to the bot until the job is done."""
        while (update := await self.wait_hook(run.next_update(), reason=ENGINE_WAIT)) is not None:
            await outbox.deliver(JobUpdated(run.job_id, update))
        assert run.outcome is not None
        return run.outcome
