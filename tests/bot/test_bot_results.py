"""What a result card offers beyond re-runs: Upscale ×2 and Timelapse, and what it says about the file."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from test_bot_rerun import finished_card, job_id


async def test_the_card_says_the_results_format_and_size(world):
    card = await finished_card(world)

    last_line = card.embeds[0].description.splitlines()[-1]
    size = len(await card.attachments[0].read())
    assert last_line == f"PNG · 64×43 · {size} bytes"


async def test_upscale_reruns_at_twice_the_size_from_the_result_with_the_same_seed_and_options(world):
    card = await finished_card(world, iterations=8)

    click = await world.alice.click(card, label="Upscale ×2")

    first, second = world.engine.calls
    assert second.options.size == 128 and second.options.upscale_from == 64 and second.options.init == "image"
    assert second.init_size == (64, 43)  # the result itself, as the run's starting point
    assert (second.options.seed, second.options.style_weight) == (first.options.seed, first.options.style_weight)
    [new_card] = click.followups
    assert new_card.embeds[0].title == "Done"
    assert new_card.embeds[0].fields[0].value.endswith(f" · re-run of {job_id(card)} (upscale ×2)")
    assert new_card.embeds[0].description.splitlines()[-1].startswith("PNG · 128×85 · ")


async def test_upscale_beyond_the_servers_ceiling_is_refused_privately(world):
    await world.admin.slash(world.channel, "stylesettings set", key="max_upscale_size", value="100")
    card = await finished_card(world)

    click = await world.alice.click(card, label="Upscale ×2")

    assert click.ephemeral and click.followups == []
    assert click.response.content == (
        "❌ Upscale ×2 would make a 128 px image; this server allows upscales up to "
        "100 px (max_upscale_size in /stylesettings)."
    )
    assert len(world.engine.calls) == 1


async def test_admins_may_raise_the_upscale_ceiling_only_up_to_the_bots_limit(world):
    too_high = await world.admin.slash(world.channel, "stylesettings set", key="max_upscale_size", value="8192")
    assert too_high.response.content == "❌ max_upscale_size must be from 64 to 4096 on this bot, not 8192."
    raised = await world.admin.slash(world.channel, "stylesettings set", key="max_upscale_size", value="4096")
    assert raised.response.content == "**max_upscale_size** is now 4096."


async def test_upscale_and_timelapse_work_after_a_restart(world):
    card = await finished_card(world)

    await world.restart()
    upscale = await world.alice.click(card, label="Upscale ×2")
    timelapse = await world.bob.click(card, label="Timelapse")

    [call] = world.engine.calls
    assert call.options.upscale_from == 64 and upscale.followups[0].embeds[0].title == "Done"
    assert not timelapse.ephemeral and timelapse.response.attachments


async def test_timelapse_posts_the_progression_as_an_animated_image_in_the_channel(world):
    card = await finished_card(world)

    click = await world.bob.click(card, label="Timelapse")

    assert not click.ephemeral
    assert click.response.content == f"Timelapse of job `{job_id(card)}`, for <@{world.bob.id}>."
    [attachment] = click.response.attachments
    assert re.fullmatch(rf"timelapse-{job_id(card)}\.(webp|gif)", attachment.filename)
    animation = Image.open(io.BytesIO(await attachment.read()))
    assert animation.n_frames == 24 and animation.size == (64, 43)


@pytest.mark.bot(config={"storage": {"retention_hours": 1.0}})
async def test_after_retention_upscale_and_timelapse_say_the_files_are_gone(world):
    card = await finished_card(world)

    await world.env.advance_time(3600 + 700)

    upscale = await world.alice.click(card, label="Upscale ×2")
    timelapse = await world.alice.click(card, label="Timelapse")
    assert upscale.ephemeral and upscale.response.content.startswith(f"❌ The images of job {job_id(card)} are no")
    assert timelapse.ephemeral and timelapse.response.content == (
        f"The timelapse of job `{job_id(card)}` is no longer kept (a job's files are deleted 1 hours after it ends)."
    )
    assert len(world.engine.calls) == 1


async def test_a_result_is_kept_after_delivery_for_its_upscale(world):
    card = await finished_card(world)

    job_dir = world.config.data_dir / "jobs" / job_id(card)
    assert (job_dir / f"stylized-{job_id(card)}.png").exists()
    assert [p.name for p in job_dir.glob("timelapse-*")]


async def test_an_upscale_of_an_upscale_starts_from_the_upscaled_result(world):
    card = await finished_card(world)
    first = await world.alice.click(card, label="Upscale ×2")
    second = await world.alice.click(first.followups[0], label="Upscale ×2")

    assert [call.options.size for call in world.engine.calls] == [64, 128, 256]
    assert world.engine.calls[2].init_size == (128, 85)
    assert second.followups[0].embeds[0].title == "Done"
