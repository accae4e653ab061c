"""Handing the queue's events to the bot: in order for each job, and acknowledged only once the bot took them.

Both backends report through an `EventOutbox`. The bot's side of an event can fail: the ledger could
not save what a finished job means (its result, on a full disk). Such an event is not dropped and not
acknowledged. It waits, with the job's later events behind it, and is offered again with capped
backoff, one log line per attempt, until the bot takes it; other jobs' events go on meanwhile. The
bot decides when trying is pointless (the ledger's `DELIVERY_BOUND_S`): past that it ends the job
itself and takes the event.

What "acknowledged" means is the backend's: the Redis event reader passes a callback that
acknowledges the stream entry (so an event the bot never took is read again after a restart); the
in-process queue has nothing to acknowledge, and what it holds here is gone with the process (the
job, still running in the database, then runs again at the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from bot.queue.interface import JobEvents
from bot.queue.messages import JobEvent

log = logging.getLogger("stylebot.queue")

#: The first wait before an event the bot could not take is offered again; it doubles up to the cap.
RETRY_FIRST_S = 1.0
RETRY_CAP_S = 60.0

Acknowledge = Callable[[], Awaitable[None]]
"""Tells the event's source that the bot has it (e.g. XACK); must not raise for a source that went away."""


class EventOutbox:
    def __init__(self, events: JobEvents, *, first_s: float = RETRY_FIRST_S, cap_s: float = RETRY_CAP_S) -> None:
        self.events = events
        self.first_s = first_s
        self.cap_s = cap_s
        self._waiting: dict[str, deque[tuple[JobEvent, Acknowledge | None]]] = {}
        """Per job, the events the bot has not taken yet, oldest first (the first one failed)."""
        self._retries: dict[str, asyncio.Task[None]] = {}

    def holds(self, job_id: str) -> bool:
        """Whether some of the job's events wait to be offered again."""
        return job_id in self._waiting

    async def deliver(self, event: JobEvent, acknowledge: Acknowledge | None = None) -> bool:
        """Offer `event` to the bot now, after the job's waiting events. True if the bot took it (then it is
        acknowledged); False if it waits to be offered again (acknowledged once the bot takes it)."""
        waiting = self._waiting.get(event.job_id)
        if waiting is not None:
            waiting.append((event, acknowledge))
            return False
        if await self._offer(event, attempt=1):
            if acknowledge is not None:
                await acknowledge()
            return True
        self._waiting[event.job_id] = deque([(event, acknowledge)])
        self._retries[event.job_id] = asyncio.create_task(
            self._retry(event.job_id), name=f"stylebot-event-retry-{event.job_id}"
        )
        return False

    async def close(self) -> None:
        """Stop retrying. What still waits is not acknowledged (a Redis event is read again after a restart)."""
        tasks = list(self._retries.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._retries.clear()
        self._waiting.clear()

    async def _retry(self, job_id: str) -> None:
        waiting = self._waiting[job_id]
        failures = 1  # of the first waiting event
        while waiting:
            await asyncio.sleep(self._delay(failures))
            while waiting:  # in order: the first, then the ones behind it, until one fails
                event, acknowledge = waiting[0]
                if not await self._offer(event, attempt=failures + 1):
                    failures += 1
                    break
                waiting.popleft()
                failures = 0
                if acknowledge is not None:
                    await acknowledge()
        del self._waiting[job_id]
        del self._retries[job_id]

    def _delay(self, attempt: int) -> float:
        delay: float = min(self.cap_s, self.first_s * 2 ** (attempt - 1))
        return delay

    async def _offer(self, event: JobEvent, *, attempt: int) -> bool:
        """Whether the bot took `event`; `attempt` counts this event's offers (for the log line)."""
        try:
            await self.events.on_event(event)
        except Exception as exc:  # noqa: BLE001  # the bot's side failing must never stop the queue: offered again
            log.warning(
                "job %s: the bot could not take its %s event (attempt %d: %s: %s); trying again in %.0f s",
                event.job_id,
                type(event).__name__,
                attempt,
                type(exc).__name__,
                exc,
                self._delay(attempt),
            )
            return False
        return True
