"""A restart loses nothing: waiting jobs resume in order, an interrupted one restarts, results arrive."""

from __future__ import annotations

import pytest
from bot_fakes import FakeEngine, png, settle_until

from bot.core.job import JobState
from bot.queue import ENGINE_WAIT, IDLE_WAIT


def card_now(world, card):
    return world.env.backend.get_message(card.channel_id, card.id)


@pytest.mark.bot(engine={"block": True}, external=(IDLE_WAIT, ENGINE_WAIT))
async def test_queued_jobs_resume_in_order_and_the_interrupted_one_restarts(world):
    cards = []
    for member, width in ((world.alice, 40), (world.bob, 41), (world.admin, 42)):
        result = await member.slash(
            world.channel, "stylize", content=("c.png", png(width, 30)), style=("s.png", png(20, 20))
        )
        cards.append(result.followups[0])
    assert [card_now(world, card).embeds[0]["title"] for card in cards] == ["Stylizing", "Queued", "Queued"]

    await world.restart(engine=FakeEngine())
    await settle_until(world, lambda: all(card_now(world, c).embeds[0]["title"] == "Done" for c in cards))

    assert [call.content_size[0] for call in world.engine.calls] == [40, 41, 42]
    # The owners saw their cards continue: the same messages, edited after the restart.
    restarted = [
        edit for edit in world.edits(cards[2].id) if "The bot restarted" in edit["embeds"][0].get("description", "")
    ]
    assert restarted, "the waiting job's card did not say it kept its place"
    assert all(
        job.state is JobState.DONE and job.delivered
        for job in [await world.bot.store.job(c.embeds[0].footer.text[4:]) for c in cards]
    )


def discord_fails_every_way_of_showing_a_card(world):
    """The card's edits (not the ephemeral reply's), channel messages and DMs all fail."""
    world.env.inject_error("PATCH", "/webhooks/*/*/messages/[0-9]*", status=503, times=None)
    world.env.inject_error("POST", "/channels/*/messages", status=503, times=None)


async def test_a_result_that_could_not_be_delivered_arrives_after_a_restart(world):
    discord_fails_every_way_of_showing_a_card(world)
    result = await world.alice.slash(world.channel, "stylize", content=("c.png", png()), style=("s.png", png()))
    [card] = result.followups
    job_id = card.embeds[0].footer.text.removeprefix("Job ")
    job = await world.bot.store.job(job_id)
    assert job.state is JobState.DONE and not job.delivered
    assert (world.config.data_dir / "jobs" / job_id / job.result.file_name).exists()

    world.env.backend.faults.clear()  # Discord recovers; the bot restarts (e.g. an upgrade)
    await world.restart()

    shown = card_now(world, card)
    assert shown.embeds[0]["title"] == "Done"
    assert shown.attachments[0]["filename"] == job.result.file_name
    assert (await world.bot.store.job(job_id)).delivered
    assert (world.config.data_dir / "jobs" / job_id / job.result.file_name).exists()  # kept for Upscale ×2
    assert world.engine.calls == []  # not computed again


async def test_a_result_that_could_not_be_delivered_is_retried_while_running(world):
    discord_fails_every_way_of_showing_a_card(world)
    result = await world.alice.slash(world.channel, "stylize", content=("c.png", png()), style=("s.png", png()))
    [card] = result.followups
    assert card_now(world, card).embeds[0]["title"] != "Done"

    world.env.backend.faults.clear()
    await world.env.advance_time(30)  # the next housekeeping round

    assert card_now(world, card).embeds[0]["title"] == "Done"


@pytest.mark.bot(config={"storage": {"retention_hours": 1.0}})
async def test_a_result_that_never_gets_through_is_given_up_after_the_retention_time(world):
    discord_fails_every_way_of_showing_a_card(world)
    result = await world.alice.slash(world.channel, "stylize", content=("c.png", png()), style=("s.png", png()))
    job_id = result.followups[0].embeds[0].footer.text.removeprefix("Job ")

    await world.env.advance_time(3600 + 700)
    tries = len(world.env.http_requests)
    await world.env.advance_time(120)

    assert len(world.env.http_requests) == tries  # no more attempts
    assert await world.bot.store.job(job_id) is None
    assert not (world.config.data_dir / "jobs" / job_id).exists()
