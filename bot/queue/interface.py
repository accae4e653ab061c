"""The job queue's interface: the seam between the bot and whatever runs jobs.

The bot only uses `JobQueue`: put a job, cancel one, ask for the waiting order, and hear what
happens to jobs as `JobEvent`s through `JobEvents` (handed over by `delivery.EventOutbox`). Behind it,
`in_process.InProcessQueue`
runs jobs on this machine's engine thread, and `redis.bot_side.redis_queue.RedisQueue` on `stylebot worker`
processes elsewhere. Also here: the reasons its long waits give the wait hook, and why it may refuse a job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar

from bot.queue.messages import JobEvent, WorkItem

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
