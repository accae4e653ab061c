"""The publisher alone: a bare discord.Client under simcord, snapshots from a test double, a real store.

No bot, no ledger, no queue: what it puts on Discord for the snapshots it is given, and what it
records (card locations, deliveries).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import discord
import pytest
import simcord

from bot.core.job import Job, JobState, ResultInfo, Snapshot
from bot.core.params import JobParams
from bot.core.store import Store
from bot.discord_ui.publisher import Publisher
from bot.queue.messages import WorkProgress

PARAMS = JobParams(
    size=64, iterations=10, style_strength=1.0, optimizer="lbfgs", learning_rate=None, preserve_colors="none", seed=7
)


class Source:
    """What the ledger would answer: one snapshot per job, changed by the test."""

    def __init__(self) -> None:
        self.snapshots: dict[str, Snapshot] = {}

    def snapshot(self, job_id: str) -> Snapshot | None:
        return self.snapshots.get(job_id)


class Client(discord.Client):
    async def setup_hook(self) -> None:
        self.store = Store(self.data_dir, "test.sqlite3")
        await self.store.open()


def no_buttons(job: Job, buttons: str) -> None:
    return None


@pytest.fixture
async def world(tmp_path: Path):
    intents = discord.Intents.none()
    intents.guilds = True
    client = Client(intents=intents)
    client.data_dir = tmp_path
    env = simcord.Env(client)
    await env.start()
    guild = env.create_guild("Art club")
    channel = guild.create_text_channel("art")
    alice = guild.add_member(env.create_user("alice"))
    clock = [1_767_225_600.0]
    source = Source()
    # No buttons: clicks are not this test's subject (the bot's tests click them).
    publisher = Publisher(client, source, client.store, no_buttons, progress_interval=0.0, clock=lambda: clock[0])
    try:
        yield env, client, publisher, source, channel, alice
    finally:
        await publisher.close()
        await env.shutdown()
        await client.store.close()


async def add_job(client: Client, channel, alice) -> Job:
    job = Job(
        id="0badcafe",
        owner_id=alice.id,
        guild_id=None,
        channel_id=channel.id,
        params=PARAMS,
        content_name="cat.png",
        style_names=("s.png",),
        created_at=0.0,
        filesize_limit=10**6,
    )
    await client.store.add_job(job, b"c", [b"s"])
    return job


async def drained(env, publisher: Publisher, job_id: str) -> None:
    """The test, not the client, asked for these cards: wait for the publisher's own task to end too."""
    for _ in range(200):
        await env.settle()
        if not publisher.busy(job_id):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the card of {job_id} is still being sent")


def own_messages(client, channel) -> list:
    return [m for m in channel.history() if m.author.id == client.user.id]


async def test_a_card_without_an_interaction_is_posted_in_the_channel_then_edited_then_delivered(world):
    env, client, publisher, source, channel, alice = world
    job = await add_job(client, channel, alice)
    source.snapshots[job.id] = Snapshot(job=job, position=1, eta=None)

    publisher.job_changed(job.id)
    await drained(env, publisher, job.id)

    [card] = own_messages(client, channel)
    assert card.embeds[0].title == "Queued" and "**#1** in queue" in card.embeds[0].description
    stored = await client.store.job(job.id)
    assert stored.card.moved_message_id == card.id  # where the card lives is recorded

    running = replace(job, state=JobState.RUNNING)
    source.snapshots[job.id] = Snapshot(job=running)
    publisher.job_changed(job.id)
    await drained(env, publisher, job.id)
    assert own_messages(client, channel)[0].embeds[0].title == "Stylizing"

    done = replace(
        job,
        state=JobState.DONE,
        result=ResultInfo(7, 10, 2.0, 64, 43, "finished", "cpu", "stylized-0badcafe.png", 64, bytes=4),
    )
    del source.snapshots[job.id]  # a finished job has left the ledger: only the final snapshot remains
    publisher.job_ended(Snapshot(job=done, result=b"\x89PNG"))
    await drained(env, publisher, job.id)

    [card] = own_messages(client, channel)
    assert card.embeds[0].title == "Done" and card.attachments[0].filename == "stylized-0badcafe.png"
    assert (await client.store.job(job.id)).delivered and not publisher.holds(job.id)


async def test_when_the_channel_refuses_the_card_goes_to_the_owners_dms(world):
    env, client, publisher, source, channel, alice = world
    job = await add_job(client, channel, alice)
    env.inject_error(
        "POST", f"/channels/{channel.id}/messages", status=403, code=50013, message="Missing Permissions", times=None
    )
    source.snapshots[job.id] = Snapshot(job=job, position=1)

    publisher.job_changed(job.id)
    await drained(env, publisher, job.id)

    assert own_messages(client, channel) == []
    [card] = [m for m in alice.user.dm_channel.history() if m.embeds]
    assert card.embeds[0].title == "Queued"


async def test_a_final_card_that_does_not_get_through_is_kept_retried_and_given_up_after_the_cutoff(world):
    env, client, publisher, _, channel, alice = world
    job = await add_job(client, channel, alice)
    failed = replace(job, state=JobState.FAILED, error="boom", finished_at=1_000.0)
    env.inject_error("POST", "/channels/*/messages", status=503, times=2)

    publisher.job_ended(Snapshot(job=failed))
    await drained(env, publisher, job.id)
    assert publisher.holds(job.id) and own_messages(client, channel) == []

    publisher.retry_finals(give_up_before=500.0)  # finished after the cutoff: tried again
    await drained(env, publisher, job.id)
    publisher.retry_finals(give_up_before=500.0)
    await drained(env, publisher, job.id)
    [card] = own_messages(client, channel)
    assert card.embeds[0].title == "Failed" and card.embeds[0].description == "boom"
    assert not publisher.holds(job.id)

    other = replace(failed, id="0badf00d")
    env.inject_error("POST", "/channels/*/messages", status=503, times=None)
    publisher.job_ended(Snapshot(job=other))
    await drained(env, publisher, other.id)
    publisher.retry_finals(give_up_before=2_000.0)  # finished before the cutoff: given up
    assert not publisher.holds(other.id)


async def test_a_running_card_shows_which_tile_a_large_image_is_at(world):
    env, client, publisher, source, channel, alice = world
    job = replace(await add_job(client, channel, alice), state=JobState.RUNNING)
    # A 4096 px scale in 12 tiles: no whole iteration of it done yet, but the run is visibly moving.
    progress = WorkProgress(0, 14, 3, 4, 4096, 2731, 95.0, 1200.0, tile=2, tiles=12)
    source.snapshots[job.id] = Snapshot(job=job, progress=progress)
    publisher.job_changed(job.id)
    await drained(env, publisher, job.id)
    description = own_messages(client, channel)[0].embeds[0].description
    assert "Iteration **0/14** · scale 4/4 (4096×2731) · tile 3/12" in description
