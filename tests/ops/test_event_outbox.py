"""The outbox between a queue and the bot: an event the bot could not take is kept, in order, and offered again."""

from __future__ import annotations

import asyncio

from bot.queue.delivery import EventOutbox
from bot.queue.messages import JobEvent, JobFinished, JobStarted, JobUpdated, WorkFailed, WorkProgress


class Bot:
    """A JobEvents whose handling of some events fails a given number of times first."""

    def __init__(self, failures: dict[type, int] | None = None) -> None:
        self.failures = dict(failures or {})
        self.taken: list[JobEvent] = []
        self.offers = 0

    async def on_event(self, event: JobEvent) -> None:
        self.offers += 1
        left = self.failures.get(type(event), 0)
        if left:
            self.failures[type(event)] = left - 1
            raise OSError(28, "No space left on device")
        self.taken.append(event)


def progress(job_id: str, iteration: int) -> JobUpdated:
    return JobUpdated(job_id, WorkProgress(iteration, 10, 0, 1, 64, 64, 1.0, None))


async def wait_for(condition, limit_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_an_event_the_bot_cannot_take_is_offered_again_and_acknowledged_only_then(caplog):
    bot = Bot({JobFinished: 3})
    outbox = EventOutbox(bot, first_s=0.01, cap_s=0.02)
    acks: list[str] = []

    async def ack() -> None:
        acks.append("a")

    finished = JobFinished("a", WorkFailed("x"))
    assert await outbox.deliver(finished, ack) is False
    assert outbox.holds("a") and acks == []
    await wait_for(lambda: not outbox.holds("a"))

    assert bot.taken == [finished] and acks == ["a"] and bot.offers == 4
    lines = [r.getMessage() for r in caplog.records if "could not take" in r.getMessage()]
    assert len(lines) == 3  # one line per failed attempt
    assert "attempt 1: OSError: [Errno 28] No space left on device" in lines[0] and "attempt 3" in lines[2]
    await outbox.close()


async def test_a_jobs_later_events_wait_behind_its_first_and_other_jobs_go_on():
    bot = Bot({JobStarted: 2})
    outbox = EventOutbox(bot, first_s=0.01, cap_s=0.01)

    assert await outbox.deliver(JobStarted("a", "w")) is False
    assert await outbox.deliver(progress("a", 1)) is False  # behind the started event, not offered yet
    assert await outbox.deliver(progress("b", 1)) is True  # another job is not held up
    assert [e.job_id for e in bot.taken] == ["b"]
    await wait_for(lambda: not outbox.holds("a"))

    assert bot.taken == [progress("b", 1), JobStarted("a", "w"), progress("a", 1)]
    # Once the first is taken, the next of the job's events go straight through again.
    assert await outbox.deliver(JobFinished("a", WorkFailed("x"))) is True
    await outbox.close()


async def test_the_wait_between_offers_doubles_up_to_the_cap(monkeypatch):
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    bot = Bot({JobFinished: 6})
    outbox = EventOutbox(bot, first_s=1.0, cap_s=8.0)
    await outbox.deliver(JobFinished("a", WorkFailed("x")))
    await wait_for(lambda: not outbox.holds("a"))
    assert [w for w in waits if w >= 1.0] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    await outbox.close()


async def test_close_stops_offering_and_acknowledges_nothing():
    bot = Bot({JobFinished: 1000})
    outbox = EventOutbox(bot, first_s=0.01, cap_s=0.01)
    acks: list[str] = []

    async def ack() -> None:
        acks.append("a")

    await outbox.deliver(JobFinished("a", WorkFailed("x")), ack)
    await wait_for(lambda: bot.offers >= 3)
    await outbox.close()
    offers = bot.offers
    await asyncio.sleep(0.05)
    assert bot.offers == offers and acks == [] and not outbox.holds("a")
