"""The Redis backend when the bot cannot save a finished job's result (a full disk): the finished event stays
pending in the events stream, with the result, until the ledger has saved it; a restarted bot reads it again;
the job ends Done exactly once, with its image, and runs once."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from redis_helpers import png

from bot.config import Config
from bot.core.job import JobState, NewJob, Snapshot
from bot.core.ledger import Ledger
from bot.core.params import EngineSettings, JobParams
from bot.ops.metrics import Metrics
from bot.queue.redis.bot_side.redis_queue import RedisQueue
from bot.queue.redis.wire.keys import BOT_GROUP
from tests.full_disk import Disk, FullDiskStore

if TYPE_CHECKING:
    from pathlib import Path

    from redis_helpers import LocalWorkers
    from redis_server import RedisServer

ENGINE = EngineSettings.of(Config())
PARAMS = JobParams(
    size=32, iterations=3, style_strength=1.0, optimizer="lbfgs", learning_rate=None, preserve_colors="none", seed=7
)


class Listener:
    def __init__(self) -> None:
        self.ended: list[Snapshot] = []

    async def job_announced(self, job_id: str) -> None: ...

    def job_changed(self, job_id: str) -> None: ...

    def job_ended(self, final: Snapshot) -> None:
        self.ended.append(final)


class Bot:
    """The bot's side without Discord: a store on the (shared) full disk, the ledger, the Redis queue."""

    def __init__(self, folder: Path, server: RedisServer, prefix: str, disk: Disk) -> None:
        self.store = FullDiskStore(folder, "bot.sqlite3", disk=disk)
        self.queue = RedisQueue(server.url, key_prefix=prefix, poll_s=0.1, backoff_cap_s=0.5, reclaim_after_s=2.0)
        self.ledger = Ledger(ENGINE, self.store, self.queue, Metrics(), clock=time.time)
        self.listener = Listener()
        self.ledger.listeners.append(self.listener)

    async def start(self) -> None:
        # In the bot's order (StyleBot.setup_hook): what the last run left, then the queue's events.
        await self.store.open()
        await self.ledger.resume()
        await self.queue.start(self.ledger)

    async def stop(self) -> None:
        await self.queue.close()
        await self.store.close()


async def wait_until(condition, limit_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def submit(bot: Bot) -> str:
    new = NewJob(
        owner_id=1,
        guild_id=10,
        channel_id=20,
        params=PARAMS,
        options=ENGINE.options(PARAMS),
        content=png(48, 32),
        content_name="cat.png",
        styles=(png(20, 20, (20, 40, 180)),),
        style_names=("s.png",),
        filesize_limit=10**6,
    )
    job = await bot.ledger.accept(new)
    await bot.ledger.announce(job.id)
    await bot.ledger.enqueue(job.id)
    return job.id


def pending_events(server: RedisServer, bot: Bot) -> int:
    return int(server.client().xpending(bot.queue.keys.events, BOT_GROUP)["pending"])


async def test_a_result_the_bot_cannot_save_stays_pending_in_redis_and_is_taken_once_the_disk_has_room(
    tmp_path: Path, server: RedisServer, prefix: str, local_workers: LocalWorkers, caplog
) -> None:
    disk = Disk(failures=10**6)
    bot = Bot(tmp_path / "bot", server, prefix, disk)
    await bot.start()
    try:
        worker = local_workers.spawn()
        job_id = await submit(bot)
        await wait_until(lambda: "could not take its JobFinished event" in caplog.text, what="a failed save")

        # Not acknowledged: the event waits in the group, the result (with its image) in Redis.
        assert pending_events(server, bot) >= 1
        result = server.client().hgetall(bot.queue.keys.result(job_id))
        assert b"image" in result and b"reported" not in result
        assert bot.listener.ended == [] and bot.ledger.snapshot(job_id).job.state is JobState.RUNNING

        disk.failures = 0
        await wait_until(lambda: bot.listener.ended, what="the job to end")

        [final] = bot.listener.ended
        assert final.job.state is JobState.DONE and final.result is not None and final.result.startswith(b"\x89PNG")
        assert (await bot.store.job(job_id)).state is JobState.DONE
        await wait_until(lambda: pending_events(server, bot) == 0, what="the event to be acknowledged")
        assert server.client().hget(bot.queue.keys.result(job_id), b"reported") == b"1"
        assert worker.engine.engine.jobs == 1
    finally:
        await bot.stop()


async def test_a_bot_restarted_while_the_save_fails_reads_the_event_again_and_the_job_runs_once(
    tmp_path: Path, server: RedisServer, prefix: str, local_workers: LocalWorkers, caplog
) -> None:
    disk = Disk(failures=10**6)
    first = Bot(tmp_path / "bot", server, prefix, disk)
    await first.start()
    worker = local_workers.spawn()
    job_id = await submit(first)
    await wait_until(lambda: "could not take its JobFinished event" in caplog.text, what="a failed save")
    await first.stop()  # the bot stops while the disk is still full
    assert pending_events(server, first) >= 1

    second = Bot(tmp_path / "bot", server, prefix, disk)
    caplog.clear()
    await second.start()
    try:
        await wait_until(lambda: "could not take its JobFinished event" in caplog.text, what="the event read again")
        assert second.listener.ended == []
        disk.failures = 0
        await wait_until(lambda: second.listener.ended, what="the job to end")

        [final] = second.listener.ended
        assert final.job.id == job_id and final.job.state is JobState.DONE and final.result is not None
        assert first.listener.ended == []
        assert worker.engine.engine.jobs == 1  # the result came from the first run: nothing ran twice
        await wait_until(lambda: pending_events(server, second) == 0, what="the event to be acknowledged")
    finally:
        await second.stop()
