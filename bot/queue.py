"""The job queue: the seam between the bot and whatever runs jobs.

The bot only uses `JobQueue`: put a job, cancel one, ask for the waiting order, and hear what
happens to jobs as `JobEvent`s through `JobEvents`. `InProcessQueue` runs jobs on this machine's
`EngineWorker`; the Redis queue runs them on worker processes elsewhere, behind the same protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar

from bot.fairness import FairLine
from bot.messages import JobEvent, JobFinished, JobStarted, JobUpdated, Outcome, WorkItem, WorkUpdate
from bot.worker import EngineWorker

log = logging.getLogger("stylebot.queue")

T = TypeVar("T")

#: Reasons given to the wait hook; tests declare these waits to simcord as intentional.
IDLE_WAIT = "job queue idle: waiting for the next job"
ENGINE_WAIT = "job running: waiting for the engine's next report"

WaitHook = Callable[..., Awaitable[Any]]
"""`await hook(awaitable, reason=...)`: awaits `awaitable`; a test harness's hook also records why."""


class QueueRefused(Exception):
    """The queue will not take this job; `str()` is a complete sentence for the user."""


class QueueUnavailable(QueueRefused):
    """The queue cannot take jobs now (its server is unreachable)."""


class PayloadTooLarge(QueueRefused):
    """One of the job's images is larger than the queue carries to its workers."""


class PayloadImage(NamedTuple):
    """One of a job's images: the name its member knows it by, and its size in bytes."""

    name: str
    size: int
    upscale_start: bool = False
    """The parent's result an upscale starts from (its refusal says so, not "use a smaller image")."""


Payload = Sequence[PayloadImage]


class JobEvents(Protocol):
    """What a queue tells the bot. Called on the event loop, in order for each job."""

    async def on_event(self, event: JobEvent) -> None: ...


class JobQueue(Protocol):
    async def start(self, events: JobEvents) -> None:
        """Begin running jobs and reporting to `events`."""

    async def close(self) -> None:
        """Stop; a running job is interrupted (not cancelled) and stays in the bot's records."""

    def check_payload(self, images: Payload) -> None:
        """PayloadTooLarge if the queue would refuse a job with these images (asked before it is accepted)."""

    async def put(self, item: WorkItem) -> None:
        """Add a job to the waiting line; QueueRefused (unavailable, too large) if that cannot be done now.

        Idempotent on `item.job_id`: after a bot restart the ledger puts its active jobs again,
        and a queue whose workers still hold one of them keeps following it instead.
        """

    async def cancel(self, job_id: str) -> bool:
        """Remove a waiting job or stop a running one; False if the queue does not hold it."""

    def waiting(self) -> list[str]:
        """Waiting job ids, in the order they will start."""

    def running(self) -> list[str]: ...

    def workers_online(self) -> int: ...

    def available(self) -> bool:
        """Whether `put` can be expected to work now (False while the queue's server is unreachable)."""

    @property
    def worker_last_beat(self) -> float:
        """Wall-clock time the worker(s) last showed signs of life."""


async def plain_wait(awaitable: Awaitable[T], *, reason: str) -> T:
    """The default wait hook."""
    return await awaitable


class InProcessQueue:
    """A fair waiting line in front of the one local engine thread."""

    def __init__(self, worker: EngineWorker, *, wait_hook: WaitHook = plain_wait) -> None:
        self.worker = worker
        self.wait_hook = wait_hook
        self.name = f"{socket.gethostname()} (this process)"
        self._line: FairLine[WorkItem] = FairLine()
        self._wakeup = asyncio.Event()
        self._running: tuple[WorkItem, threading.Event] | None = None
        self._task: asyncio.Task[None] | None = None
        self._events: JobEvents | None = None

    @property
    def worker_last_beat(self) -> float:
        return self.worker.last_beat

    def waiting(self) -> list[str]:
        return [item.job_id for item in self._line]

    def running(self) -> list[str]:
        return [self._running[0].job_id] if self._running else []

    def workers_online(self) -> int:
        return 1

    def available(self) -> bool:
        return True

    def check_payload(self, images: Payload) -> None:
        """Nothing to check: the engine reads the images from this machine's disk."""

    async def start(self, events: JobEvents) -> None:
        self._events = events
        self.worker.start()
        self._task = asyncio.create_task(self._serve(events), name="stylebot-queue")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Joins the engine thread: the interpreter must not exit while it is inside PyTorch.
        await asyncio.to_thread(self.worker.stop)

    async def put(self, item: WorkItem) -> None:
        self._line.push(item.job_id, item, guild_id=item.guild_id, user_id=item.owner_id)
        self._wakeup.set()

    async def cancel(self, job_id: str) -> bool:
        if self._running and self._running[0].job_id == job_id:
            self._running[1].set()
            return True
        return self._line.remove(job_id) is not None

    async def _serve(self, events: JobEvents) -> None:
        while True:
            item = self._line.pop()
            while item is None:
                self._wakeup.clear()
                await self.wait_hook(self._wakeup.wait(), reason=IDLE_WAIT)
                item = self._line.pop()
            cancel = threading.Event()
            self._running = (item, cancel)
            try:
                await report_event(events, JobStarted(item.job_id, self.name))
                outcome = await self._run(item, cancel, events)
            except asyncio.CancelledError:
                cancel.set()  # shutting down: stop the engine; the job is resumed at the next start-up
                raise
            finally:
                self._running = None
            await report_event(events, JobFinished(item.job_id, outcome))

    async def _run(self, item: WorkItem, cancel: threading.Event, events: JobEvents) -> Outcome:
        """Hand `item` to the engine thread; relay its reports to the loop until it is done."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[WorkUpdate | _Done] = asyncio.Queue()

        def send(message: WorkUpdate | _Done) -> None:
            # RuntimeError: the loop closed while the engine was still finishing; nobody is listening.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(inbox.put_nowait, message)

        self.worker.submit(item, cancel=cancel, on_update=send, on_done=lambda outcome: send(_Done(outcome)))
        while True:
            message = await self.wait_hook(inbox.get(), reason=ENGINE_WAIT)
            if isinstance(message, _Done):
                return message.outcome
            await report_event(events, JobUpdated(item.job_id, message))


async def report_event(events: JobEvents, event: JobEvent) -> None:
    """Tell the bot; its bookkeeping failing must never stop the queue or fail a job."""
    try:
        await events.on_event(event)
    except Exception:
        log.exception("handling %s failed", type(event).__name__)


class _Done:
    __slots__ = ("outcome",)

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
