"""The bot under simcord with `[queue] backend = "redis"`: /stylize -> a worker process -> previews -> result -> re-run.

The bot itself runs no engine (and imports no PyTorch for it); the job crosses a real redis-server
to a `stylebot worker` process and comes back.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from typing import TYPE_CHECKING, Any

from bot_world import MAX_IMAGE_BYTES, png
from PIL import Image
from redis_engines import pixel_digest

from bot.app import create_bot

if TYPE_CHECKING:
    from collections.abc import Awaitable


async def test_a_job_crosses_redis_to_a_worker_and_its_card_shows_previews_the_result_and_reruns(world):
    result = await world.alice.slash(
        world.channel,
        "stylize",
        content=("cat.png", png(48, 32, (200, 120, 40))),
        style=("s.png", png(20, 20, (20, 40, 180))),
        seed=5,
    )

    assert result.ephemeral and result.response.content.startswith("✅ Queued as job")
    [card] = result.followups
    await world.settle_until(lambda: world.card(card).embeds[0]["title"] == "Done")
    done = world.card(card)
    assert done.attachments[0]["filename"].startswith("stylized-")
    assert "on sleepy" in done.embeds[0]["description"]
    edits = [
        request.json
        for request in world.env.http_requests
        if request.method == "PATCH" and request.path.endswith(f"/messages/{card.id}")
    ]
    previews = [edit for edit in edits if any(a["filename"].startswith("preview-") for a in edit["attachments"])]
    assert previews, "no preview crossed Redis to the card"
    assert "seed 5" in done.embeds[0]["fields"][1]["value"]

    again = await world.alice.click(card, label="New seed")

    [rerun] = again.followups
    await world.settle_until(lambda: world.card(rerun).embeds[0]["title"] == "Done")
    assert world.card(rerun).embeds[0]["fields"][0]["value"].endswith("(new seed)")


async def test_upscale_starts_the_remote_engine_from_the_parents_result(world, processes):
    result = await world.alice.slash(
        world.channel,
        "stylize",
        content=("cat.png", png(48, 32, (200, 120, 40))),
        style=("s.png", png(20, 20, (20, 40, 180))),
    )
    [card] = result.followups
    await world.settle_until(lambda: world.card(card).embeds[0]["title"] == "Done")
    parent = world.image(card)

    upscale = await world.alice.click(card, label="Upscale ×2")

    [upscaled] = upscale.followups
    await world.settle_until(lambda: world.card(upscaled).embeds[0]["title"] == "Done")
    assert world.image(upscaled).size == (128, 85)
    # The worker process's engine logs what it started from: the very pixels of the parent's result.
    assert f"init image 64x43, pixels {pixel_digest(parent)}" in processes.log(0)


async def test_an_upscale_of_a_result_larger_than_the_queue_carries_is_refused_privately(world):
    noise = io.BytesIO()
    Image.frombytes("RGB", (100, 100), os.urandom(100 * 100 * 3)).save(noise, "PNG")
    assert len(noise.getvalue()) < MAX_IMAGE_BYTES
    result = await world.alice.slash(
        world.channel,
        "stylize",
        content=("noise.png", noise.getvalue()),
        style=("s.png", png(20, 20, (20, 40, 180))),
        size=256,
    )
    [card] = result.followups
    await world.settle_until(lambda: world.card(card).embeds[0]["title"] == "Done")
    assert world.card(card).attachments[0]["size"] > MAX_IMAGE_BYTES, "a result is bound by the upload limit only"

    refused = await world.alice.click(card, label="Upscale ×2")

    assert refused.ephemeral and refused.followups == [], "no public card"
    assert refused.response.content.startswith("❌ This result is ")
    assert refused.response.content.endswith(
        "more than the 64 KiB the job queue carries to its workers, so it cannot be upscaled here."
    )
    assert world.bot.ledger.active_jobs() == [] and world.bot.queue.waiting() == []


async def test_queue_shows_how_many_workers_are_online(world, processes):
    reply = await world.alice.slash(world.channel, "queue")
    assert reply.response.content.splitlines()[-1] == "Queue: 0 waiting, 0 running; 1 worker online."

    processes.spawn(engine="sleepy")
    await world.settle_until(lambda: world.bot.queue.workers_online() == 2)
    reply = await world.alice.slash(world.channel, "queue")
    assert reply.response.content.splitlines()[-1] == "Queue: 0 waiting, 0 running; 2 workers online."


async def test_while_redis_is_down_stylize_answers_privately_and_works_again_once_it_is_back(world, server):
    server.stop()
    await world.settle_until(lambda: not world.bot.queue.available())

    refused = await world.alice.slash(
        world.channel,
        "stylize",
        content=("cat.png", png(48, 32, (200, 120, 40))),
        style=("s.png", png(20, 20, (20, 40, 180))),
    )

    assert refused.ephemeral and refused.followups == []
    assert refused.response.content == "❌ The job queue is unavailable right now; please try again in a minute."
    server.start()
    await world.settle_until(lambda: world.bot.queue.available() and world.bot.queue.workers_online() == 1)
    accepted = await world.alice.slash(
        world.channel,
        "stylize",
        content=("cat.png", png(48, 32, (200, 120, 40))),
        style=("s.png", png(20, 20, (20, 40, 180))),
    )
    [card] = accepted.followups
    await world.settle_until(lambda: world.card(card).embeds[0]["title"] == "Done")


async def test_a_preset_larger_than_the_queue_carries_is_refused_privately_and_nothing_is_queued(world):
    # A preset added while the limit was higher: intake checks uploads, not a preset's size again.
    noise = io.BytesIO()
    Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3)).save(noise, "PNG")
    assert len(noise.getvalue()) > MAX_IMAGE_BYTES
    await world.bot.store.add_preset(world.guild.id, "huge", noise.getvalue(), world.alice.id, time.time())

    refused = await world.alice.slash(
        world.channel, "stylize", content=("cat.png", png(48, 32, (200, 120, 40))), preset="huge"
    )

    assert refused.ephemeral and refused.followups == [], "no public card"
    assert refused.response.content.startswith("❌ The image preset huge is ")
    assert refused.response.content.endswith(
        "more than the 64 KiB the job queue carries to its workers; please use a smaller image."
    )
    assert world.bot.ledger.active_jobs() == [] and world.bot.queue.waiting() == []


async def test_a_job_that_finished_while_the_bot_was_stopped_is_shown_when_it_starts_again(world, server):
    result = await world.alice.slash(
        world.channel,
        "stylize",
        content=("cat.png", png(48, 32, (200, 120, 40))),
        style=("s.png", png(20, 20, (20, 40, 180))),
        iterations=100,  # 2 s on the worker: the bot stops while it runs
    )
    [card] = result.followups
    job_id = world.card(card).embeds[0]["footer"]["text"].removeprefix("Job ")
    await world.settle_until(lambda: world.card(card).embeds[0]["title"] == "Stylizing")
    old = world.bot
    await old.stop_parts()
    client = server.client()
    deadline = time.monotonic() + 30
    while not client.exists(old.queue.keys.result(job_id)):  # the worker finishes while the bot is away
        assert time.monotonic() < deadline, "the worker did not finish"
        await asyncio.sleep(0.05)

    new = create_bot(world.config)
    restarting = asyncio.current_task()

    async def hook(awaitable: Awaitable[Any], *, reason: str) -> Any:
        # The new bot's start-up (run by this test's task) asks Redis about the job it resumes: simcord
        # declares waits only in the bot's own tasks, which the queue's loops are.
        return await (awaitable if asyncio.current_task() is restarting else world.hook(awaitable, reason=reason))

    new.external_wait = hook
    await world.env.restart_bot(new)
    world.bot = new
    # Its finished event is the first the new bot reads: the ledger holds the job again by then.
    await world.settle_until(lambda: world.card(card).embeds[0]["title"] == "Done")
    assert world.card(card).attachments[0]["filename"] == f"stylized-{job_id}.png"
