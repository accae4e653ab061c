"""The bot under simcord: a fresh bot, data dir and virtual Discord per test.

Options per test: `@pytest.mark.bot(config={...}, engine={...}, store=..., external=(...), simcord={...})`
- config: section -> {key: value} changes to the test config;
- engine: FakeEngine keyword arguments, or a callable that returns another engine;
- store: a `Store` subclass to build the bot's store with (e.g. one whose disk is full);
- external: the queue's wait reasons declared to simcord as intentional (default: the idle wait
  only, so a fast job completes within the action that started it; add ENGINE_WAIT when a job
  must stay running while the test acts);
- simcord: keyword arguments for simcord.Env.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio
import simcord
from bot_fakes import FakeEngine, png

from bot.app import StyleBot, create_bot
from bot.config import Config
from bot.core.store import Store
from bot.queue import IDLE_WAIT

TEST_LIMITS = {"cooldown_s": 0.0, "max_pixels": 4_000_000, "max_attachment_bytes": 200_000}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bot(config=, engine=, store=, external=, simcord=): options for the `world` fixture"
    )


def make_config(data_dir: Path, changes: dict[str, dict[str, Any]] | None = None) -> Config:
    sections: dict[str, dict[str, Any]] = {
        "bot": {"progress_interval": 0.0},
        "engine": {"warm_up": False},  # tests count the engine's calls
        "defaults": {"size": 64, "iterations": 10},
        "limits": dict(TEST_LIMITS),
        "storage": {"data_dir": str(data_dir)},
    }
    for section, values in (changes or {}).items():
        sections.setdefault(section, {}).update(values)
    return Config().with_values(**sections)


def wait_hook(env: simcord.Env, declared: tuple[str, ...]) -> Any:
    async def hook(awaitable: Awaitable[Any], *, reason: str) -> Any:
        if reason in declared:
            return await env.external_wait(awaitable, reason=reason)
        return await awaitable

    return hook


@dataclass
class World:
    env: simcord.Env
    bot: StyleBot
    engine: Any
    config: Config
    declared: tuple[str, ...]
    guild: Any = None
    channel: Any = None
    alice: Any = None
    bob: Any = None
    admin: Any = None
    moderator: Any = None
    old_bots: list[StyleBot] = field(default_factory=list)

    async def restart(
        self, *, engine: Any = None, config: Config | None = None, store: Store | None = None
    ) -> StyleBot:
        """Stop this bot and start a new one on the same data dir, as after a crash or an upgrade."""
        self.engine = engine or FakeEngine()
        self.config = config or self.config
        new = create_bot(self.config, engine=self.engine, store=store)
        new.external_wait = wait_hook(self.env, self.declared)
        old = self.bot
        self.old_bots.append(old)
        await self.env.restart_bot(new)
        await old.stop_parts()
        self.bot = new
        return new

    def edits(self, message_id: int) -> list[dict[str, Any]]:
        """The JSON of every edit the bot sent for one message, oldest first (uploads are not logged)."""
        return [
            request.json
            for request in self.env.http_requests
            if request.method == "PATCH" and request.path.endswith(f"/messages/{message_id}")
        ]


@pytest_asyncio.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    marker = request.node.get_closest_marker("bot")
    options = dict(marker.kwargs) if marker else {}
    config = make_config(tmp_path / "data", options.get("config"))
    engine_option = options.get("engine", {})
    # A dict configures the fake engine; a callable builds another engine (the real one) per test.
    engine = FakeEngine(**engine_option) if isinstance(engine_option, dict) else engine_option()
    store_class = options.get("store", Store)
    bot = create_bot(config, engine=engine, store=store_class(config.data_dir, config.storage.database))
    env = simcord.Env(bot, **options.get("simcord", {}))
    declared = tuple(options.get("external", (IDLE_WAIT,)))
    # The queue idles in a wait that never ends by itself: simcord must know before start-up.
    bot.external_wait = wait_hook(env, declared)
    await env.start()
    world = World(env, bot, engine, config, declared)
    world.guild = env.create_guild("Art club")
    world.channel = world.guild.create_text_channel("art")
    world.alice = world.guild.add_member(env.create_user("alice"))
    world.bob = world.guild.add_member(env.create_user("bob"))
    admins = world.guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    world.admin = world.guild.add_member(env.create_user("admin"), roles=[admins])
    mods = world.guild.create_role("Mods", permissions=discord.Permissions(manage_messages=True))
    world.moderator = world.guild.add_member(env.create_user("mod"), roles=[mods])
    try:
        yield world
    finally:
        await env.shutdown()
        # simcord never calls `close`: it detaches discord.py's client itself.
        for old in [*world.old_bots, world.bot]:
            await old.stop_parts()
        if env.check_errors:
            # As simcord's own pytest plugin does: errors the test did not acknowledge fail it.
            env._raise_errors_since(env._errors_acknowledged)


@pytest.fixture
def content_png() -> tuple[str, bytes]:
    return ("cat.png", png(48, 32, (200, 120, 40)))


@pytest.fixture
def style_png() -> tuple[str, bytes]:
    return ("starry.png", png(40, 40, (20, 40, 180)))
