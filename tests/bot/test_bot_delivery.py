"""Cards against Discord's limits: the 15-minute interaction token, rate limits and failed edits."""

from __future__ import annotations

import re

import pytest
from bot_fakes import png, settle_until

from bot.core.job import JobState
from bot.queue import ENGINE_WAIT, IDLE_WAIT

BLOCKING = pytest.mark.bot(engine={"block": True}, external=(IDLE_WAIT, ENGINE_WAIT))
CARD_EDITS = "/webhooks/*/*/messages/[0-9]*"  # edits of cards, not of the ephemeral replies


async def submit(world, member=None):
    result = await (member or world.alice).slash(
        world.channel, "stylize", content=("cat.png", png()), style=("s.png", png(20, 20))
    )
    [card] = result.followups
    return card


def card_now(world, card):
    return world.env.backend.get_message(card.channel_id, card.id)


def bot_messages(world, channel):
    """Messages the bot sent with its own token (interaction replies and follow-ups excluded)."""
    return [
        message
        for message in channel.history()
        if message.author.id == world.bot.user.id and message.interaction_metadata is None
    ]


def job_of(card) -> str:
    return card.embeds[0].footer.text.removeprefix("Job ")


@BLOCKING
@pytest.mark.parametrize(("status", "code"), [(401, 50027), (404, 10015)])
async def test_an_expired_token_moves_the_card_to_a_channel_message_and_the_result_arrives(world, status, code):
    card = await submit(world)
    world.env.inject_error("PATCH", CARD_EDITS, status=status, code=code, message="Invalid Webhook Token", times=None)

    world.engine.release()
    await settle_until(
        world, lambda: any(m.embeds and m.embeds[0].title == "Done" for m in bot_messages(world, world.channel))
    )

    [moved] = bot_messages(world, world.channel)
    assert moved.attachments[0].filename == f"stylized-{job_of(card)}.png"
    assert moved.embeds[0].footer.text == f"Job {job_of(card)}"
    job = await world.bot.store.job(job_of(card))
    assert job.state is JobState.DONE and job.delivered
    assert job.card.moved_message_id == moved.id


@BLOCKING
async def test_before_the_token_expires_the_card_moves_and_keeps_working(world):
    card = await submit(world)

    await world.env.advance_time(14 * 60)  # housekeeping moves cards at 13 minutes

    old = card_now(world, card)
    assert old.embeds[0]["title"] == "Continued below"
    assert old.components == []
    [moved] = bot_messages(world, world.channel)
    assert moved.jump_url in old.embeds[0]["description"]
    assert moved.embeds[0].title == "Stylizing"
    await world.env.advance_time(5 * 60)  # the interaction token is long dead now
    reply = await world.alice.click(moved, label="Cancel")  # the button on the new message works
    assert reply.response.content.startswith("Cancelled job")
    assert world.env.backend.get_message(world.channel.id, moved.id).embeds[0]["title"] == "Cancelled"


@BLOCKING
async def test_a_job_that_waited_past_the_token_gets_its_result_in_the_channel(world):
    await submit(world)  # running
    waiting = await submit(world, world.bob)

    await world.env.advance_time(20 * 60)
    world.engine.release()
    await settle_until(
        world,
        lambda: sum(1 for m in bot_messages(world, world.channel) if m.embeds and m.embeds[0].title == "Done") == 2,
    )

    bobs = [m for m in bot_messages(world, world.channel) if m.embeds[0].footer.text == f"Job {job_of(waiting)}"]
    assert len(bobs) == 1 and bobs[0].attachments


@BLOCKING
async def test_when_the_channel_refuses_the_card_goes_to_the_owners_dms(world):
    card = await submit(world)
    world.env.inject_error("PATCH", CARD_EDITS, status=401, code=50027, times=None)
    world.env.inject_error(
        "POST",
        f"/channels/{world.channel.id}/messages",
        status=403,
        code=50013,
        message="Missing Permissions",
        times=None,
    )

    world.engine.release()
    dm = world.alice.user.dm_channel
    await settle_until(world, lambda: any(m.embeds and m.embeds[0].title == "Done" for m in dm.history()))

    [result] = [m for m in dm.history() if m.embeds]
    assert result.attachments[0].filename == f"stylized-{job_of(card)}.png"


@pytest.mark.parametrize(("status", "code"), [(429, 0), (500, 0)])
async def test_a_failed_progress_edit_never_fails_the_job(world, status, code):
    world.env.inject_error("PATCH", CARD_EDITS, status=status, code=code, times=1)

    card = await submit(world)

    assert card_now(world, card).embeds[0]["title"] == "Done"
    assert card_now(world, card).attachments
    assert world.env.errors == []


@pytest.mark.bot(config={"bot": {"progress_interval": 30.0}})
async def test_progress_edits_are_throttled_but_the_first_preview_is_not_held_back(world):
    card = await submit(world)  # ten progress reports with previews arrive within the same instant

    edits = [
        (edit["embeds"][0]["title"], edit["embeds"][0]["description"].splitlines()[0], edit["attachments"])
        for edit in world.edits(card.id)
    ]

    assert [title for title, _, _ in edits] == ["Stylizing", "Stylizing", "Done"]
    assert edits[0][1] == "Starting…" and edits[0][2] == []
    assert re.fullmatch(r"Iteration \*\*\d+/10\*\* · scale 1/1 \(64×43\)", edits[1][1])
    assert edits[1][2] == [{"id": 0, "filename": f"preview-{job_of(card)}.jpg"}]


@BLOCKING
async def test_cards_are_not_edited_when_nothing_changed(world):
    await submit(world)
    waiting = await submit(world, world.bob)
    before = len(world.edits(waiting.id))

    await submit(world, world.admin)  # the queue changed, but not bob's place in it

    assert len(world.edits(waiting.id)) == before
