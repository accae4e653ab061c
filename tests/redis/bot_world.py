"""The bot under simcord with `[queue] backend = "redis"` and a sleepy `stylebot worker` process: the `world`
fixture of the tests that drive the whole bot through Redis (see conftest)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from typing import TYPE_CHECKING, Any

import simcord
from PIL import Image

from bot.app import StyleBot, create_bot
from bot.config import Config
from bot.queue import ENGINE_WAIT, IDLE_WAIT

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from redis_helpers import WorkerProcesses
    from redis_server import RedisServer


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


MAX_IMAGE_BYTES = 64 * 1024

#: Virtual seconds per round of waiting: the queue's poll interval.
POLL_STEP_S = 0.5


class World:
    def __init__(self, env: simcord.Env, bot: StyleBot, config: Config, hook: Callable[..., Any]) -> None:
        self.env = env
        self.bot = bot
        self.config = config
        self.hook = hook
        self.guild = env.create_guild("Art club")
        self.channel = self.guild.create_text_channel("art")
        self.alice = self.guild.add_member(env.create_user("alice"))

    async def settle_until(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        """The jobs run in another process: settle until `condition` holds.

        The queue's pauses between polls of Redis run on simcord's virtual clock: it moves on too.
        """
        deadline = time.monotonic() + timeout
        await self.env.settle()
        while not condition():
            assert time.monotonic() < deadline, "condition not reached in time"
            await asyncio.sleep(0.05)
            await self.env.advance_time(POLL_STEP_S)

    def card(self, message: Any) -> Any:
        return self.env.backend.get_message(message.channel_id, message.id)

    def image(self, message: Any) -> Image.Image:
        """The image attached to a card, as Discord would serve it."""
        data = self.env.backend.cdn.get(self.card(message).attachments[0]["url"])
        assert data is not None
        return Image.open(io.BytesIO(data))


@contextlib.asynccontextmanager
async def bot_world(
    tmp_path: Path, server: RedisServer, prefix: str, processes: WorkerProcesses
) -> AsyncIterator[World]:
    """A bot under simcord on the Redis backend, with one sleepy worker process online."""
    config = Config().with_values(
        bot={"progress_interval": 0.0},
        defaults={"size": 64, "iterations": 20},
        # 64 KiB: the largest image the bot takes, and so the largest the queue carries to a worker.
        limits={"cooldown_s": 0.0, "max_attachment_bytes": MAX_IMAGE_BYTES},
        storage={"data_dir": str(tmp_path / "data")},
        queue={"backend": "redis", "redis_url": server.url, "key_prefix": prefix},
    )
    bot = create_bot(config)
    env = simcord.Env(bot)

    async def hook(awaitable: Awaitable[Any], *, reason: str) -> Any:
        # Every wait on Redis is on another process: declared to simcord as intentional.
        assert reason in (IDLE_WAIT, ENGINE_WAIT)
        return await env.external_wait(awaitable, reason=reason)

    bot.external_wait = hook
    await env.start()
    processes.spawn(engine="sleepy", iteration_s=0.02)
    world = World(env, bot, config, hook)
    try:
        await world.settle_until(lambda: bot.queue.workers_online() == 1)
        yield world
    finally:
        await env.shutdown()
        await world.bot.stop_parts()
