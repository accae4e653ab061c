"""A result the bot cannot save (a full disk) is not lost: the card says it waits, and once the disk has room the
job ends Done exactly once with its image; past the bound it ends Failed and frees its owner's slot."""

from __future__ import annotations

import functools

import pytest
from bot_fakes import png, settle_until

from bot.core.job import JobState
from bot.core.ledger import SAVE_BOUND_S, SAVE_DELAYED_NOTE
from tests.full_disk import Disk, FullDiskStore

DELAYED = SAVE_DELAYED_NOTE.format(problem="No space left on device")


def full_disk(failures: int):
    return functools.partial(FullDiskStore, disk=Disk(failures))


async def stylize(world):
    result = await world.alice.slash(world.channel, "stylize", content=("cat.png", png()), style=("s.png", png(20, 20)))
    [card] = result.followups
    return card


def embed_now(world, card) -> dict:
    return world.env.backend.get_message(card.channel_id, card.id).embeds[0]


def attachments_now(world, card) -> list:
    return world.env.backend.get_message(card.channel_id, card.id).attachments


def dones(world, card) -> int:
    return sum(1 for edit in world.edits(card.id) if edit.get("embeds") and edit["embeds"][0].get("title") == "Done")


def descriptions(world, card) -> list[str]:
    return [edit["embeds"][0].get("description", "") for edit in world.edits(card.id) if edit.get("embeds")]


@pytest.mark.bot(store=full_disk(3))
async def test_a_result_that_cannot_be_saved_waits_on_its_card_and_is_shown_once_the_disk_has_room(world, caplog):
    card = await stylize(world)
    await settle_until(world, lambda: embed_now(world, card)["title"] != "Stylizing", timeout=30)

    assert embed_now(world, card)["title"] == "Done" and len(attachments_now(world, card)) == 1
    assert any(DELAYED in text for text in descriptions(world, card)), "the card said why it waited"
    assert DELAYED not in embed_now(world, card).get("description", "")
    assert world.bot.store.disk.failures == 0
    [job] = await world.bot.store.finished_before(10**12)
    assert job.state is JobState.DONE and world.bot.ledger.user_jobs(world.alice.id) == []
    assert dones(world, card) == 1
    assert caplog.text.count("could not take its JobFinished event") == 3


def bot_cards(world) -> list:
    """Cards the bot sent with its own token: the job's card moves there before the interaction token expires."""
    return [m for m in world.channel.history() if m.author.id == world.bot.user.id and m.interaction_metadata is None]


@pytest.mark.bot(store=full_disk(10**6))
async def test_a_save_failing_past_the_bound_ends_the_job_failed_and_frees_the_slot(world):
    card = await stylize(world)
    await settle_until(world, lambda: DELAYED in embed_now(world, card).get("description", ""))
    [job] = world.bot.ledger.user_jobs(world.alice.id)
    assert job.state is JobState.RUNNING

    for _ in range(SAVE_BOUND_S // 60 + 2):
        await world.env.advance_time(60)
        if not world.bot.ledger.user_jobs(world.alice.id):
            break

    assert world.bot.ledger.user_jobs(world.alice.id) == []  # the owner may start another job
    [moved] = bot_cards(world)  # past 15 minutes the card lives in a message of the bot's own
    final = moved.embeds[0]
    assert final.title == "Failed"
    assert "could not save it for 30 minutes (No space left on device)" in final.description


@pytest.mark.bot(store=full_disk(10**6))
async def test_a_restart_while_the_save_fails_runs_the_job_again_and_it_ends_done_once(world):
    card = await stylize(world)
    await settle_until(world, lambda: DELAYED in embed_now(world, card).get("description", ""))
    disk = world.bot.store.disk
    assert len(world.engine.calls) == 1

    # The in-process backend keeps a result it could not save in memory only: the job is still running in
    # the database, so the next start runs it again; by then the disk has room.
    disk.failures = 2
    config = world.config
    await world.restart(store=FullDiskStore(config.data_dir, config.storage.database, disk=disk))
    await settle_until(world, lambda: embed_now(world, card)["title"] == "Done", timeout=30)

    assert len(world.engine.calls) == 1 and disk.failures == 0  # the new bot's engine ran it once
    assert len(attachments_now(world, card)) == 1
    [job] = await world.bot.store.finished_before(10**12)
    assert job.state is JobState.DONE
    assert dones(world, card) == 1
