"""The Redis backend when things go wrong between the bot and its workers: a job too large to carry."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING

import pytest
from redis_helpers import Jobs, Recorder, png

from bot.broker.queue import RedisQueue
from bot.queue import PayloadTooLarge

if TYPE_CHECKING:
    from collections.abc import Callable

    from redis_server import RedisServer


async def wait_until(condition: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_put_refuses_an_image_larger_than_the_queue_carries_and_writes_nothing(
    server: RedisServer,
    prefix: str,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    queue = RedisQueue(server.url, key_prefix=prefix, poll_s=0.1, max_image_bytes=4096)
    await queue.start(recorder)
    try:
        await wait_until(lambda: queue.connected, 10, "Redis")
        big = jobs.folder / "big.png"
        big.write_bytes(png(64, 64) + os.urandom(5000))  # trailing bytes: only the size matters here
        item = jobs.item()
        item = type(item)(**{**item.__dict__, "styles": (item.styles[0], big)})

        with pytest.raises(PayloadTooLarge) as refused:
            await queue.put(item)

        assert str(refused.value).startswith("The image style 2 (big.png) is ")
        assert "more than the 4 KiB the job queue carries to its workers" in str(refused.value)
        assert queue.waiting() == []
        client = server.client()
        assert client.exists(queue.keys.job(item.job_id)) == 0 and client.xlen(queue.keys.jobs) == 0
        await queue.put(jobs.item())  # a job within the cap is taken
        assert len(queue.waiting()) == 1
    finally:
        await queue.close()
