"""Building the bot: `create_bot(config)` wires the engine, store, queue, metrics and commands together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord
from discord.ext import commands, tasks

from stylecore import Engine

from .commands import ALL_COGS
from .config import Config
from .cooldowns import Cooldowns
from .health import heartbeat_writer
from .metrics import Metrics
from .queue import InProcessQueue
from .service import JobService
from .store import Store
from .submission import Submissions
from .tree import StyleTree
from .views import CancelButton, RerunButton
from .worker import EngineWorker, StyleEngine

log = logging.getLogger("stylebot")

T = TypeVar("T")

#: How often cards near the interaction-token limit are moved and undelivered results retried.
HOUSEKEEPING_S = 30.0


class StyleBot(commands.Bot):
    """The Discord bot. Built by `create_bot`; `start(token)` runs it."""

    def __init__(self, config: Config, *, engine: StyleEngine, store: Store, metrics: Metrics) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channel and permission data for allowed channels and card links
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=StyleTree,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.config = config
        self.store = store
        self.metrics = metrics
        self.external_wait: Callable[..., Awaitable[Any]] | None = None
        """Set by a test harness (simcord's `env.external_wait`) to be told about the queue's long waits."""
        self.heartbeat_hook: Callable[[StyleBot], Awaitable[None]] = heartbeat_writer(config.heartbeat_path)
        """Called every `health.interval_s` seconds; writes the file `stylebot healthcheck` reads."""
        self.cooldowns = Cooldowns(config.limits.cooldown_s)
        self.queue = InProcessQueue(EngineWorker(engine, warm_up=config.engine.warm_up), wait_hook=self._wait)
        self.service = JobService(self, config, store, self.queue, metrics)
        self.submissions = Submissions(self)
        self._housekeeping = tasks.loop(seconds=HOUSEKEEPING_S)(self._housekeep)
        self._heartbeat = tasks.loop(seconds=config.health.interval_s)(self._beat)

    @property
    def gateway_connected(self) -> bool:
        # is_ready() stays true while discord.py reconnects after the connection dropped: ask the socket.
        return self.is_ready() and not self.is_closed() and self.ws is not None and self.ws.open

    @property
    def worker_last_beat(self) -> float:
        """Wall-clock time the engine thread last showed signs of life."""
        return self.queue.worker_last_beat

    async def _wait(self, awaitable: Awaitable[T], *, reason: str) -> T:
        hook = self.external_wait
        return await (hook(awaitable, reason=reason) if hook is not None else awaitable)

    async def setup_hook(self) -> None:
        self._serve_metrics()  # first: a port already taken should stop the bot before it touches Discord
        await self.store.open()
        self.add_dynamic_items(CancelButton, RerunButton)
        for cog in ALL_COGS:
            await self.add_cog(cog(self))
        await self._sync_commands()
        await self.service.start()
        self._housekeeping.start()
        self._heartbeat.start()

    def _serve_metrics(self) -> None:
        settings = self.config.metrics
        if settings.enabled:
            port = self.metrics.serve(settings.host, settings.port)
            log.info("Prometheus metrics on http://%s:%d/metrics", settings.host, port)

    async def _sync_commands(self) -> None:
        guild_ids = self.config.bot.sync_guild_ids
        if not guild_ids:
            await self.tree.sync()
            return
        for guild_id in guild_ids:  # development: guild commands update instantly
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)

    async def _housekeep(self) -> None:
        try:
            await self.service.housekeeping()
        except Exception:  # the loop must survive a bad round
            log.exception("housekeeping failed")

    async def _beat(self) -> None:
        try:
            await self.heartbeat_hook(self)
        except Exception:
            log.exception("the heartbeat hook failed")

    async def close(self) -> None:
        self._housekeeping.cancel()
        self._heartbeat.cancel()
        await self.service.close()
        await self.store.close()
        # In a thread: stopping waits for the HTTP server's poll loop (up to half a second).
        await asyncio.to_thread(self.metrics.stop)
        await super().close()


def create_bot(
    config: Config,
    *,
    engine: StyleEngine | None = None,
    store: Store | None = None,
    metrics: Metrics | None = None,
) -> StyleBot:
    """An unstarted bot. The engine and store default to the real ones the config describes, metrics to a fresh set."""
    if engine is None:
        engine = Engine(weights=config.engine.weights, device=config.engine.device, precision=config.engine.precision)
    if store is None:
        store = Store(config.data_dir, config.storage.database)
    return StyleBot(config, engine=engine, store=store, metrics=metrics if metrics is not None else Metrics())
