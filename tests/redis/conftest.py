"""Fixtures for the Redis backend: a real redis-server, worker processes, jobs and an event recorder."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest
from bot_world import World, bot_world
from redis_helpers import Jobs, LocalWorkers, Recorder, WorkerProcesses
from redis_server import RedisServer

from bot.queue.redis.bot_side.redis_queue import RedisQueue

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    redis_server = RedisServer(tmp_path / "redis")
    redis_server.start()
    yield redis_server
    redis_server.stop(kill=True)


@pytest.fixture
def prefix() -> str:
    return f"test-{secrets.token_hex(3)}"


@pytest.fixture
def jobs(tmp_path: Path) -> Jobs:
    return Jobs(tmp_path / "store")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def processes(tmp_path: Path, server: RedisServer, prefix: str) -> Iterator[WorkerProcesses]:
    workers = WorkerProcesses(tmp_path / "workers", server.url, prefix)
    yield workers
    workers.stop_all()


@pytest.fixture
async def local_workers(server: RedisServer, prefix: str) -> AsyncIterator[LocalWorkers]:
    workers = LocalWorkers(server.url, prefix)
    yield workers
    await workers.stop_all()


@pytest.fixture
async def queue(server: RedisServer, prefix: str, recorder: Recorder) -> AsyncIterator[RedisQueue]:
    # reclaim_after_s as the workers' in redis_helpers: the bot's audit of lost jobs derives from it.
    redis_queue = RedisQueue(server.url, key_prefix=prefix, poll_s=0.1, backoff_cap_s=0.5, reclaim_after_s=2.0)
    await redis_queue.start(recorder)
    yield redis_queue
    await redis_queue.close()


@pytest.fixture
async def world(tmp_path: Path, server: RedisServer, prefix: str, processes: WorkerProcesses) -> AsyncIterator[World]:
    """The bot under simcord on this Redis, with one sleepy worker process (`bot_world`)."""
    async with bot_world(tmp_path, server, prefix, processes) as world:
        yield world
