"""The waiting line: positions on cards and in /queue, and the Cancel button."""

from __future__ import annotations

import pytest
from bot_fakes import png, settle_until

from bot.core.job import JobState
from bot.queue import ENGINE_WAIT, IDLE_WAIT

# The engine holds each job until the test releases it or it is cancelled, so jobs stay
# running while the test acts: that wait is declared to simcord as intentional.
pytestmark = pytest.mark.bot(engine={"block": True}, external=(IDLE_WAIT, ENGINE_WAIT))


async def submit(world, member):
    result = await member.slash(world.channel, "stylize", content=("cat.png", png()), style=("s.png", png(20, 20)))
    [card] = result.followups
    return card


def card_now(world, card):
    """The card's current state (ResponseMessage snapshots do not refresh)."""
    return world.env.backend.get_message(card.channel_id, card.id)


def title(world, card) -> str:
    return card_now(world, card).embeds[0]["title"]


def description(world, card) -> str:
    return card_now(world, card).embeds[0]["description"]


async def test_cards_show_their_place_in_the_queue_and_move_up(world):
    first = await submit(world, world.alice)
    second = await submit(world, world.bob)
    third = await submit(world, world.admin)

    assert title(world, first) == "Stylizing"
    assert title(world, second) == "Queued" and description(world, second).startswith("**#1** in queue")
    assert description(world, third).startswith("**#2** in queue")

    await world.alice.click(first, label="Cancel")

    assert title(world, second) == "Stylizing"
    assert description(world, third).startswith("**#1** in queue")


async def test_queue_lists_the_callers_jobs_and_the_queue_length(world):
    await submit(world, world.alice)
    waiting = await submit(world, world.bob)
    job_id = waiting.embeds[0].footer.text.removeprefix("Job ")

    result = await world.bob.slash(world.channel, "queue")

    assert result.ephemeral
    lines = result.response.content.splitlines()
    assert lines[0].startswith(f"`{job_id}` #1 in queue")
    assert lines[-1] == "Queue: 1 waiting, 1 running; 1 worker online."
    nothing = await world.moderator.slash(world.channel, "queue")
    assert nothing.response.content.splitlines() == [
        "You have no jobs in the queue.",
        "Queue: 1 waiting, 1 running; 1 worker online.",
    ]


async def test_the_owner_cancels_a_running_job_and_the_engine_stops(world):
    card = await submit(world, world.alice)

    reply = await world.alice.click(card, label="Cancel")

    assert reply.ephemeral and reply.response.content.startswith("Cancelled job")
    assert title(world, card) == "Cancelled"
    assert description(world, card) == f"Cancelled by <@{world.alice.id}>."
    assert card_now(world, card).components == []  # no buttons left on a cancelled card
    job = await world.bot.store.active_jobs()
    assert job == []
    assert len(world.engine.calls) == 1  # it reached the engine, which stopped on the cancel event


async def test_the_owner_cancels_a_queued_job_before_it_reaches_the_engine(world):
    await submit(world, world.bob)
    card = await submit(world, world.alice)

    await world.alice.click(card, label="Cancel")

    assert title(world, card) == "Cancelled"
    assert len(world.engine.calls) == 1  # only bob's job ever ran
    result = await world.alice.slash(world.channel, "queue")
    assert result.response.content.splitlines()[-1] == "Queue: 0 waiting, 1 running; 1 worker online."


async def test_another_member_cannot_cancel_someone_elses_job(world):
    card = await submit(world, world.alice)

    reply = await world.bob.click(card, label="Cancel")

    assert reply.ephemeral
    assert reply.response.content.startswith(f"Only <@{world.alice.id}> or someone with the Manage Messages")
    assert title(world, card) == "Stylizing"
    [job] = await world.bot.store.active_jobs()
    assert job.state is JobState.RUNNING


async def test_a_member_with_manage_messages_can_cancel_anyones_job(world):
    await submit(world, world.bob)
    card = await submit(world, world.alice)

    await world.moderator.click(card, label="Cancel")

    assert title(world, card) == "Cancelled"
    assert description(world, card) == f"Cancelled by <@{world.moderator.id}>."


async def test_when_the_running_job_finishes_the_next_one_runs(world):
    first = await submit(world, world.alice)
    second = await submit(world, world.bob)

    world.engine.release()
    await settle_until(world, lambda: title(world, first) == title(world, second) == "Done")

    assert card_now(world, first).attachments[0]["filename"].startswith("stylized-")
    assert len(world.engine.calls) == 2


async def test_once_a_job_has_finished_waiting_cards_show_an_eta(world):
    world.engine.block = False
    first = await submit(world, world.alice)  # the bot learns how long jobs take
    await settle_until(world, lambda: title(world, first) == "Done")
    world.engine.block = True
    await submit(world, world.bob)
    waiting = await submit(world, world.admin)

    lines = description(world, waiting).splitlines()

    assert lines[0] == "**#1** in queue"
    assert lines[-1].startswith("ETA ~") and lines[-1].endswith(" s")
