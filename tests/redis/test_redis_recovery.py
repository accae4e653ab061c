"""The Redis backend when things go wrong between the bot and its workers: Redis losing its data,
a worker dying between reading a job and starting it, and a job too large to carry."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING

import pytest
from redis_helpers import Jobs, LocalWorkers, Recorder, WorkerProcesses, png

from bot.queue.interface import PayloadTooLarge
from bot.queue.messages import WorkFailed, WorkResult
from bot.queue.redis.bot_side.dispatcher import UNREADABLE
from bot.queue.redis.bot_side.redis_queue import RedisQueue
from bot.queue.redis.wire.keys import WORKERS_GROUP
from bot.queue.redis.wire.worker_info import WorkerInfo

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from redis_server import RedisServer


async def wait_until(condition: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_jobs_redis_lost_in_a_restart_without_its_data_are_sent_again_and_seen_once(
    server: RedisServer,
    queue: RedisQueue,
    processes: WorkerProcesses,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    processes.spawn(iteration_s=0.05)
    processes.spawn(iteration_s=0.05)
    await wait_until(lambda: queue.workers_online() == 2, 30, "two workers")
    running = jobs.item(owner_id=1, iterations=60)
    doomed = jobs.item(owner_id=2, iterations=60)
    # Its own content file, deleted while it runs: the bot cannot send this one again.
    own = jobs.folder / "doomed.png"
    own.write_bytes(png())
    doomed = type(doomed)(**{**doomed.__dict__, "content": own})
    waiting = jobs.item(owner_id=3, iterations=4)
    for item in (running, doomed, waiting):
        await queue.put(item)
    await recorder.wait(
        lambda: all(len(recorder.updates(item.job_id)) >= 2 for item in (running, doomed)), what="both jobs to run"
    )
    assert queue.waiting() == [waiting.job_id]
    own.unlink()

    server.restart(kill=True, lose_data=True)  # Redis without persistence: every key is gone
    lost_at = time.monotonic()

    # Within reclaim_after_s (2 s) of Redis answering again, plus the time the jobs take.
    await recorder.wait_finished([running.job_id, doomed.job_id, waiting.job_id], limit_s=20)
    await asyncio.sleep(1.0)  # anything late (a duplicate) would arrive now
    finished = recorder.finished()
    assert all(len(events) == 1 for events in finished.values()), finished
    assert isinstance(finished[running.job_id][0].outcome, WorkResult)
    assert isinstance(finished[waiting.job_id][0].outcome, WorkResult), "its images went to Redis at dispatch"
    assert finished[doomed.job_id][0].outcome == WorkFailed(UNREADABLE)
    assert len(recorder.started(running.job_id)) == 2, "it ran again from the start"
    assert time.monotonic() - lost_at < 15
    assert queue.running() == [] and queue.waiting() == []


async def test_a_job_whose_worker_died_before_starting_it_goes_to_the_next_free_worker_at_once(
    server: RedisServer,
    prefix: str,
    local_workers: LocalWorkers,
    recorder: Recorder,
    jobs: Jobs,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="stylebot.broker")
    # reclaim_after_s = 30 s: the job must not wait for it.
    queue = RedisQueue(server.url, key_prefix=prefix, poll_s=0.1, reclaim_after_s=30.0)
    await queue.start(recorder)
    client = server.client()
    ghost = WorkerInfo(
        id="ghost", host="elsewhere", pid=1, device="cpu", state="idle", job=None, beat_at=0.0, started_at=0.0
    )
    try:
        client.set(queue.keys.worker("ghost"), ghost.to_json(), px=30_000)
        client.zadd(queue.keys.workers, {"ghost": time.time()})
        await wait_until(lambda: queue.workers_online() == 1, 10, "the ghost worker")
        item = jobs.item(iterations=4)
        await queue.put(item)
        await wait_until(lambda: client.xlen(queue.keys.jobs) == 1, 10, "the dispatch")
        # The ghost reads the job (now it owns the entry) and dies before starting it.
        assert client.xreadgroup(WORKERS_GROUP, "ghost", {queue.keys.jobs: ">"}, count=1)
        local_workers.spawn(reclaim_s=30.0)
        await wait_until(lambda: queue.workers_online() == 2, 10, "the live worker")
        assert queue.waiting() == [item.job_id], "to the ledger it still waits, first in line"
        client.delete(queue.keys.worker("ghost"))
        died = time.monotonic()

        await recorder.wait_finished([item.job_id], limit_s=10)

        assert time.monotonic() - died < 10, "not after reclaim_after_s"
        [finished] = recorder.finished()[item.job_id]
        assert isinstance(finished.outcome, WorkResult)
        assert len(recorder.started(item.job_id)) == 1
        assert client.hget(queue.keys.job(item.job_id), "attempts") == b"1"
        assert any("stopped before starting it" in r.getMessage() for r in caplog.records)
    finally:
        await queue.close()


async def test_a_started_job_of_a_dead_worker_still_waits_for_reclaim_after_s(
    server: RedisServer,
    prefix: str,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    """The rescue is for jobs never started: a started one may only have a slow worker."""
    queue = RedisQueue(server.url, key_prefix=prefix, poll_s=0.1, reclaim_after_s=30.0)
    await queue.start(recorder)
    client = server.client()
    ghost = WorkerInfo(
        id="ghost", host="elsewhere", pid=1, device="cpu", state="busy", job=None, beat_at=0.0, started_at=0.0
    )
    try:
        client.set(queue.keys.worker("ghost"), ghost.to_json(), px=30_000)
        client.zadd(queue.keys.workers, {"ghost": time.time()})
        item = jobs.item()
        client.hset(queue.keys.job(item.job_id), mapping={"status": "running"})
        client.xgroup_create(queue.keys.jobs, WORKERS_GROUP, id="0", mkstream=True)
        client.xadd(queue.keys.jobs, {"job": item.job_id})
        [[_, [(entry_id, _)]]] = client.xreadgroup(WORKERS_GROUP, "ghost", {queue.keys.jobs: ">"}, count=1)
        client.delete(queue.keys.worker("ghost"))
        await wait_until(lambda: client.zcard(queue.keys.workers) == 0, 10, "the bot to see the ghost gone")
        [pending] = client.xpending_range(queue.keys.jobs, WORKERS_GROUP, min="-", max="+", count=1)
        assert pending["message_id"] == entry_id and pending["time_since_delivered"] < 30_000
    finally:
        await queue.close()


#: A cap small enough for a 64 px PNG with some bytes appended to exceed it.
SMALL_CAP = 4096


@pytest.fixture
async def capped_queue(server: RedisServer, prefix: str, recorder: Recorder) -> AsyncIterator[RedisQueue]:
    queue = RedisQueue(server.url, key_prefix=prefix, poll_s=0.1, max_image_bytes=SMALL_CAP)
    await queue.start(recorder)
    try:
        await wait_until(lambda: queue.connected, 10, "Redis")
        yield queue
    finally:
        await queue.close()


def too_big(jobs: Jobs, name: str) -> Path:
    path = jobs.folder / name
    path.write_bytes(png(64, 64) + os.urandom(SMALL_CAP + 1000))  # trailing bytes: only the size matters here
    return path


async def test_put_refuses_an_image_larger_than_the_queue_carries_and_writes_nothing(
    server: RedisServer, capped_queue: RedisQueue, jobs: Jobs
) -> None:
    item = jobs.item()
    item = type(item)(**{**item.__dict__, "styles": (item.styles[0], too_big(jobs, "big.png"))})

    with pytest.raises(PayloadTooLarge) as refused:
        await capped_queue.put(item)

    assert str(refused.value).startswith("The image style 2 (big.png) is ")
    assert "more than the 4 KiB the job queue carries to its workers" in str(refused.value)
    assert capped_queue.waiting() == []
    client = server.client()
    assert client.exists(capped_queue.keys.job(item.job_id)) == 0 and client.xlen(capped_queue.keys.jobs) == 0
    await capped_queue.put(jobs.item())  # a job within the cap is taken
    assert len(capped_queue.waiting()) == 1


async def test_put_counts_an_upscales_starting_image_in_the_cap(
    server: RedisServer, capped_queue: RedisQueue, jobs: Jobs
) -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        await capped_queue.put(jobs.item(init=too_big(jobs, "init")))

    assert str(refused.value).startswith("This result is ") and "cannot be upscaled" in str(refused.value)
    assert capped_queue.waiting() == [] and server.client().xlen(capped_queue.keys.jobs) == 0
