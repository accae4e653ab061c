"""Building the bot: `create_bot(config)` makes every part and hands each its dependencies.

A job flows one way through the parts: commands -> intake -> ledger -> queue -> worker -> queue
-> ledger -> publisher -> Discord. Only read-only queries go back up (a snapshot, a position).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord
from discord.ext import commands, tasks

from bot.config import Config
from bot.core.ledger import Ledger
from bot.core.params import EngineSettings
from bot.core.store import Store
from bot.discord_ui.cards.buttons import ButtonActions, CardButtons
from bot.discord_ui.command_tree import StyleTree
from bot.discord_ui.commands.help import HelpCog
from bot.discord_ui.commands.queue_status import QueueStatusCog
from bot.discord_ui.commands.stylepreset import StylePresetCog
from bot.discord_ui.commands.styles import StylesCog
from bot.discord_ui.commands.stylesettings import StyleSettingsCog
from bot.discord_ui.commands.stylize import StylizeCog
from bot.discord_ui.cooldowns import Cooldowns
from bot.discord_ui.intake import Intake
from bot.discord_ui.publisher import Publisher
from bot.discord_ui.style_picker import StylePicker
from bot.housekeeping import HOUSEKEEPING_S, Housekeeping
from bot.ops.health import heartbeat_writer
from bot.ops.metrics import Metrics
from bot.queue.engine.thread import EngineThread, StyleEngine
from bot.queue.in_process import InProcessQueue
from bot.queue.interface import JobQueue
from bot.styles.server_styles import ServerStyles
from bot.styles.sheets import StyleSheets

log = logging.getLogger("stylebot")

T = TypeVar("T")


def discord_clock() -> float:
    """Wall-clock epoch seconds as Discord sees them (simcord's virtual clock in tests)."""
    return discord.utils.utcnow().timestamp()


class StyleBot(commands.Bot):
    """The Discord bot. Built by `create_bot`; `start(token)` runs it."""

    def __init__(self, config: Config, *, engine: StyleEngine | None, store: Store, metrics: Metrics) -> None:
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
        self.queue = self._make_queue(engine)
        engine_settings = EngineSettings.of(config)
        self.ledger = Ledger(engine_settings, store, self.queue, metrics, clock=discord_clock)
        self.styles = ServerStyles(store, config)
        self.sheets = StyleSheets()
        self.intake = Intake(
            config, engine_settings, store, self.ledger, Cooldowns(config.limits.cooldown_s), self.styles
        )
        self.picker = StylePicker(config, store, self.intake, self.styles, self.sheets)
        self.buttons = CardButtons(
            ButtonActions(self.ledger, self.intake, store.files, retention_hours=config.storage.retention_hours)
        )
        self.publisher = Publisher(
            self,
            self.ledger,
            store,
            self.buttons.view,
            progress_interval=config.bot.progress_interval,
            clock=discord_clock,
        )
        self.ledger.listeners.append(self.publisher)
        self.housekeeping = Housekeeping(
            self.ledger, self.publisher, store, clock=discord_clock, retention_hours=config.storage.retention_hours
        )
        self._housekeeping = tasks.loop(seconds=HOUSEKEEPING_S)(self._housekeep)
        self._heartbeat = tasks.loop(seconds=config.health.interval_s)(self._beat)

    def _make_queue(self, engine: StyleEngine | None) -> JobQueue:
        settings = self.config.queue
        if settings.backend == "redis":  # the jobs run on `stylebot worker` processes: no engine here
            from bot.queue.redis.bot_side.redis_queue import RedisQueue
            from bot.queue.redis.wire.connection import redis_url

            remote = RedisQueue(
                redis_url(settings),
                key_prefix=settings.key_prefix,
                wait_hook=self._wait,
                reclaim_after_s=settings.reclaim_after_s,
                max_image_bytes=self.config.limits.max_attachment_bytes,
            )
            self.metrics.watch_workers(remote.workers_online, remote.workers)
            return remote
        if engine is None:
            from stylecore import Engine  # here: importing PyTorch takes seconds

            engine = Engine(
                weights=self.config.engine.weights,
                device=self.config.engine.device,
                precision=self.config.engine.precision,
            )
        local = InProcessQueue(EngineThread(engine, warm_up=self.config.engine.warm_up), wait_hook=self._wait)
        self.metrics.watch_workers(local.workers_online, None)
        return local

    @property
    def gateway_connected(self) -> bool:
        # is_ready() stays true while discord.py reconnects after the connection dropped: ask the socket.
        return self.is_ready() and not self.is_closed() and self.ws is not None and self.ws.open

    @property
    def worker_last_beat(self) -> float:
        """Wall-clock time the worker(s) last showed signs of life."""
        return self.queue.worker_last_beat

    async def _wait(self, awaitable: Awaitable[T], *, reason: str) -> T:
        hook = self.external_wait
        return await (hook(awaitable, reason=reason) if hook is not None else awaitable)

    async def setup_hook(self) -> None:
        self._serve_metrics()  # first: a port already taken should stop the bot before it touches Discord
        await self.store.open()
        self.add_dynamic_items(*self.buttons.item_types(), *self.picker.item_types())
        for cog in (
            StylizeCog(self.tree, self.intake, self.picker, self.styles),
            StylesCog(self.styles, self.sheets),
            QueueStatusCog(self.ledger, self.publisher),
            StyleSettingsCog(self.store, self.config, self.styles),
            StylePresetCog(self.styles, self.sheets, self.config, discord_clock),
            HelpCog(),
        ):
            await self.add_cog(cog)
        await self._sync_commands()
        # What the last run left first: the queue's first events may be about those jobs (a result a
        # worker finished while the bot was away), and the ledger ignores events of jobs it does not hold.
        await self.housekeeping.resume()
        await self.queue.start(self.ledger)
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
            await self.housekeeping.run()
        except Exception:  # the loop must survive a bad round
            log.exception("housekeeping failed")

    async def _beat(self) -> None:
        try:
            await self.heartbeat_hook(self)
        except Exception:
            log.exception("the heartbeat hook failed")

    async def stop_parts(self) -> None:
        """Stop everything the bot started besides discord.py's client: loops, queue (joining the
        engine thread), publisher, store, metrics endpoint. `close` calls it; so can a test harness
        that detaches the client itself (simcord)."""
        self._housekeeping.cancel()
        self._heartbeat.cancel()
        await self.queue.close()
        await self.publisher.close()
        await self.store.close()
        # In a thread: stopping waits for the HTTP server's poll loop (up to half a second).
        await asyncio.to_thread(self.metrics.stop)

    async def close(self) -> None:
        await self.stop_parts()
        await super().close()


def create_bot(
    config: Config,
    *,
    engine: StyleEngine | None = None,
    store: Store | None = None,
    metrics: Metrics | None = None,
) -> StyleBot:
    """An unstarted bot. The engine and store default to the real ones the config describes, metrics to a fresh set."""
    if store is None:
        store = Store(config.data_dir, config.storage.database)
    return StyleBot(config, engine=engine, store=store, metrics=metrics if metrics is not None else Metrics())
