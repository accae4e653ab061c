"""The job queue: the seam between the bot and whatever runs jobs.

The bot only uses `JobQueue`: put a job, cancel one, ask for positions, and receive events through
`JobEvents`. `InProcessQueue` runs jobs on this machine's `EngineWorker`; a queue backed by Redis
with GPU workers elsewhere implements the same two protocols and the bot stays as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from .worker import EngineWorker, Outcome, WorkItem, WorkProgress

log = logging.getLogger("stylebot.queue")

T = TypeVar("T")

#: Reasons given to the wait hook; tests declare these waits to simcord as intentional.
IDLE_WAIT = "job queue idle: waiting for the next job"
ENGINE_WAIT = "job running: waiting for the engine's next report"


class JobEvents(Protocol):
    """What a queue tells the bot. Called on the event loop, one call at a time per job."""

    async def job_started(self, job_id: str) -> None: ...

    async def job_progress(self, job_id: str, progress: WorkProgress) -> None: ...

    async def job_finished(self, job_id: str, outcome: Outcome) -> None: ...

    async def queue_changed(self) -> None:
        """Jobs joined or left the waiting line: positions may have moved."""


class JobQueue(Protocol):
    async def start(self, events: JobEvents) -> None:
        """Begin running jobs and reporting to `events`."""

    async def close(self) -> None:
        """Stop; a running job is interrupted (not cancelled) and stays in the bot's records."""

    async def put(self, item: WorkItem) -> None: ...

    async def cancel(self, job_id: str) -> bool:
        """Remove a waiting job or stop a running one; False if the queue does not hold it."""

    def waiting(self) -> list[str]:
        """Waiting job ids, next first."""

    def running(self) -> list[str]: ...

    @property
    def worker_last_beat(self) -> float:
        """Wall-clock time the worker(s) last showed signs of life."""


async def plain_wait(awaitable: Awaitable[T], *, reason: str) -> T:
    """The default wait hook. A hook awaits `awaitable`; a test harness's hook also records why."""
    return await awaitable


class InProcessQueue:
    """An asyncio waiting line in front of the one local engine thread."""

    def __init__(self, worker: EngineWorker, *, wait_hook: Callable[..., Awaitable[Any]] = plain_wait) -> None:
        self.worker = worker
        self.wait_hook = wait_hook
        self._waiting: deque[WorkItem] = deque()
        self._wakeup = asyncio.Event()
        self._running: tuple[WorkItem, threading.Event] | None = None
        self._task: asyncio.Task[None] | None = None
        self._events: JobEvents | None = None

    @property
    def worker_last_beat(self) -> float:
        return self.worker.last_beat

    def waiting(self) -> list[str]:
        return [item.job_id for item in self._waiting]

    def running(self) -> list[str]:
        return [self._running[0].job_id] if self._running else []

    async def start(self, events: JobEvents) -> None:
        self._events = events
        self.worker.start()
        self._task = asyncio.create_task(self._serve(), name="stylebot-queue")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.worker.stop()

    async def put(self, item: WorkItem) -> None:
        self._waiting.append(item)
        self._wakeup.set()
        await self._notify_changed()

    async def cancel(self, job_id: str) -> bool:
        if self._running and self._running[0].job_id == job_id:
            self._running[1].set()
            return True
        for item in self._waiting:
            if item.job_id == job_id:
                self._waiting.remove(item)
                await self._notify_changed()
                return True
        return False

    async def _notify_changed(self) -> None:
        if self._events is not None:
            await self._events.queue_changed()

    async def _serve(self) -> None:
        assert self._events is not None
        while True:
            while not self._waiting:
                self._wakeup.clear()
                await self.wait_hook(self._wakeup.wait(), reason=IDLE_WAIT)
            item = self._waiting.popleft()
            cancel = threading.Event()
            self._running = (item, cancel)
            try:
                await _report(self._events.job_started, item.job_id)
                await _report(self._events.queue_changed)
                outcome = await self._run(item, cancel)
            except asyncio.CancelledError:
                cancel.set()  # shutting down: stop the engine; the job is resumed at the next start-up
                raise
            finally:
                self._running = None
            await _report(self._events.job_finished, item.job_id, outcome)

    async def _run(self, item: WorkItem, cancel: threading.Event) -> Outcome:
        """Hand `item` to the engine thread; relay its reports to the loop until it is done."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[WorkProgress | _Done] = asyncio.Queue()

        def send(message: WorkProgress | _Done) -> None:
            # RuntimeError: the loop closed while the engine was still finishing; nobody is listening.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(inbox.put_nowait, message)

        self.worker.submit(item, cancel=cancel, on_progress=send, on_done=lambda outcome: send(_Done(outcome)))
        assert self._events is not None
        while True:
            message = await self.wait_hook(inbox.get(), reason=ENGINE_WAIT)
            if isinstance(message, _Done):
                return message.outcome
            await _report(self._events.job_progress, item.job_id, message)


async def _report(handler: Callable[..., Awaitable[None]], *args: Any) -> None:
    """Call an event handler; the bot's bookkeeping failing must never stop the queue or fail a job."""
    try:
        await handler(*args)
    except Exception:
        log.exception("%s%r failed", getattr(handler, "__name__", handler), args)


class _Done:
    __slots__ = ("outcome",)

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
