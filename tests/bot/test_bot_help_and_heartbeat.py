"""/help, and the periodic hook the health check plugs into."""

from __future__ import annotations

import time


async def test_help_is_short_and_private(world):
    result = await world.alice.slash(world.channel, "help")

    assert result.ephemeral
    text = result.response.content
    for command in ("/stylize", "/queue", "/stylepreset", "/stylesettings", "Stylize"):
        assert command in text
    assert len(text) < 2000


async def test_help_works_in_dms(world):
    result = await world.env.create_user("dora").slash("help")

    assert result.response.content.startswith("**/stylize**")


async def test_the_heartbeat_hook_runs_every_interval_with_the_bots_state(world):
    beats = []

    async def hook(bot):
        beats.append((bot.gateway_connected, bot.worker_last_beat))

    world.bot.heartbeat_hook = hook
    await world.env.advance_time(world.config.health.interval_s * 3)

    assert len(beats) == 3
    connected, worker_beat = beats[-1]
    assert connected is True
    assert time.time() - worker_beat < 30  # the engine thread reports while idle


async def test_a_failing_heartbeat_hook_does_not_stop_the_beat(world):
    calls = []

    async def hook(bot):
        calls.append(1)
        raise OSError("disk full")

    world.bot.heartbeat_hook = hook
    await world.env.advance_time(world.config.health.interval_s * 2)

    assert len(calls) == 2
