"""The heartbeat a running bot writes, as `stylebot healthcheck` (Docker's HEALTHCHECK) judges it."""

from __future__ import annotations

import asyncio

import pytest
from bot_fakes import FakeEngine, png, settle_until

from bot.__main__ import main
from bot.app import create_bot
from bot.config import Config
from bot.ops.health import check
from bot.queue import ENGINE_WAIT, IDLE_WAIT


def health(world) -> tuple[bool, str]:
    return check(world.config.heartbeat_path, max_age_s=world.config.health.max_age_s)


async def test_a_running_bot_writes_a_heartbeat_that_the_healthcheck_accepts(world, tmp_path, capsys):
    await world.env.advance_time(world.config.health.interval_s)

    healthy, reason = health(world)
    assert healthy, reason
    # The command Docker runs, reading the same config, finds the bot healthy too.
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[storage]\ndata_dir = "{world.config.data_dir}"\n', encoding="utf-8")
    assert main(["healthcheck", "--config", str(config_file)], environ={}) == 0
    assert capsys.readouterr().out == "healthy: gateway connected, worker reporting\n"


async def test_before_the_gateway_is_ready_the_first_heartbeat_says_unhealthy(tmp_path):
    # setup_hook starts the beat before discord.py connects: the healthcheck must not pass yet.
    config = Config().with_values(storage={"data_dir": str(tmp_path / "data")})
    bot = create_bot(config, engine=FakeEngine())
    await bot.heartbeat_hook(bot)

    healthy, reason = check(config.heartbeat_path, max_age_s=config.health.max_age_s)
    assert not healthy
    assert reason == "unhealthy: the Discord gateway connection is down"


@pytest.mark.bot(
    engine={"block": True}, external=(IDLE_WAIT, ENGINE_WAIT), config={"health": {"interval_s": 1.0, "max_age_s": 2.0}}
)
async def test_a_worker_that_stopped_reporting_fails_the_healthcheck_until_it_reports_again(world):
    await world.alice.slash(world.channel, "stylize", content=("cat.png", png()), style=("s.png", png(20, 20)))
    # Inside the engine, on a job that never reports: the worker thread cannot beat from here on.
    await settle_until(world, lambda: len(world.engine.calls) == 1)
    await asyncio.sleep(world.config.health.max_age_s + 0.5)  # the real clock: the healthcheck reads it

    await world.env.advance_time(world.config.health.interval_s)

    healthy, reason = health(world)
    assert not healthy
    assert reason.startswith("unhealthy: the worker last reported")

    world.engine.release()
    await settle_until(world, lambda: not world.bot.queue.running())
    await world.env.advance_time(world.config.health.interval_s)

    healthy, reason = health(world)
    assert healthy, reason


async def test_a_dropped_gateway_connection_fails_the_healthcheck(world):
    await world.env.advance_time(world.config.health.interval_s)
    assert health(world)[0]

    # discord.py now retries in the background, and is_ready() stays true meanwhile.
    await world.bot.ws.close()
    await world.env.advance_time(world.config.health.interval_s)

    assert world.bot.is_ready()
    assert health(world) == (False, "unhealthy: the Discord gateway connection is down")
