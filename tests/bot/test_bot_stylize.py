"""/stylize end to end with a fast engine: the card, its progress, the result, and every refusal."""

from __future__ import annotations

import io

import pytest
import simcord
from bot_fakes import FAKE_SEED, decompression_bomb, png, truncated_png
from PIL import Image

from bot.core.store import Store
from bot.queue import ENGINE_WAIT, IDLE_WAIT

BOTH_WAITS = (IDLE_WAIT, ENGINE_WAIT)


async def stylize(world, member=None, **options):
    member = member or world.alice
    options.setdefault("content", ("cat.png", png(48, 32)))
    return await member.slash(world.channel, "stylize", **options)


def job_dirs(world) -> list[str]:
    jobs = world.config.data_dir / "jobs"
    return sorted(path.name for path in jobs.iterdir()) if jobs.exists() else []


async def test_a_job_is_acknowledged_privately_and_its_public_card_ends_with_the_result(world, content_png, style_png):
    result = await stylize(world, content=content_png, style=style_png)

    callbacks = [r.json for r in world.env.http_requests if r.path.endswith("/callback")]
    assert callbacks[0] == {"type": 5, "data": {"flags": 64}}  # deferred at once, ephemeral
    assert result.ephemeral
    assert result.response.content.startswith("✅ Queued as job")
    [card] = result.followups
    assert not card.ephemeral
    embed = card.embeds[0]
    assert embed.title == "Done"
    job_id = embed.footer.text.removeprefix("Job ")
    assert job_id in result.response.content
    parameters = next(field.value for field in embed.fields if field.name == "Parameters")
    assert "size 64 px" in parameters and "10 iterations" in parameters and "seed " in parameters
    assert "Took 0.5 s on fake" in embed.description
    [attachment] = card.attachments
    assert embed.image.url == f"attachment://{attachment.filename}"
    image = Image.open(io.BytesIO(await attachment.read()))
    assert max(image.size) == 64
    labels = [button["label"] for row in card.components for button in row["components"]]
    assert labels == ["Stronger style", "Weaker style", "Keep colours", "New seed", "Upscale ×2", "Timelapse"]


async def test_progress_edits_carry_previews_and_the_last_edit_carries_the_result(world, content_png, style_png):
    result = await stylize(world, content=content_png, style=style_png)

    [card] = result.followups
    edits = world.edits(card.id)
    job_id = card.embeds[0].footer.text.removeprefix("Job ")
    previews = [edit for edit in edits if edit["attachments"] == [{"id": 0, "filename": f"preview-{job_id}.jpg"}]]
    assert len(previews) >= 1, "no progress edit carried a preview"
    for edit in previews:
        [embed] = edit["embeds"]
        assert embed["title"] == "Stylizing"
        assert embed["image"]["url"] == f"attachment://preview-{job_id}.jpg"
        assert "Iteration **" in embed["description"] and "ETA" in embed["description"]
    iterations = [int(edit["embeds"][0]["description"].split("**")[1].split("/")[0]) for edit in previews]
    assert iterations == sorted(set(iterations))  # each edit shows newer progress than the last
    assert edits[-1]["embeds"][0]["title"] == "Done"
    assert edits[-1]["attachments"] == [{"id": 0, "filename": f"stylized-{job_id}.png"}]


async def test_every_option_reaches_the_engine(world, content_png):
    await stylize(
        world,
        content=content_png,
        style=("a.png", png(20, 20, (1, 2, 3))),
        style2=("b.png", png(30, 20)),
        style3=("c.png", png(10, 40)),
        iterations=12,
        size=96,
        style_strength=2.5,
        optimizer="adam",
        learning_rate=3.0,
        beta1=0.8,
        beta2=0.99,
        epsilon=1e-6,
        preserve_colors="luminance",
        style_weights="3, 2,1",
        seed=1234,
    )

    [call] = world.engine.calls
    options = call.options
    assert (options.size, options.iterations, options.optimizer) == (96, 12, "adam")
    assert (options.learning_rate, options.beta1, options.beta2, options.epsilon) == (3.0, 0.8, 0.99, 1e-6)
    assert options.style_weight == 2.5
    assert options.style_weights == (3.0, 2.0, 1.0)
    assert options.preserve_colors == "luminance"
    assert options.seed == 1234
    assert options.multiscale is True and options.max_seconds == world.config.limits.max_job_seconds
    assert call.content_size == (48, 32)
    assert call.style_sizes == [(20, 20), (30, 20), (10, 40)]


async def test_defaults_come_from_the_config_and_the_seed_is_drawn_and_shown(world, content_png, style_png):
    result = await stylize(world, content=content_png, style=style_png)

    [call] = world.engine.calls
    assert (call.options.size, call.options.iterations, call.options.optimizer) == (64, 10, "lbfgs")
    assert call.options.seed is not None and call.options.seed != FAKE_SEED
    parameters = result.followups[0].embeds[0].fields[1].value
    assert f"seed {call.options.seed}" in parameters


@pytest.mark.bot(config={"defaults": {"builtin_styles": False}})
async def test_with_no_style_anywhere_the_user_is_told_and_nothing_is_queued(world, content_png):
    # No style given, no presets on the server, its built-ins off: nothing to pick from.
    result = await stylize(world, content=content_png)

    assert result.ephemeral
    assert result.response.content == (
        "❌ A style is needed: attach a style image (style:). This server has no style presets and its built-in "
        "styles are turned off (admins: /stylepreset add, or /stylesettings set builtin_styles on)."
    )
    assert result.response.components == []
    assert result.followups == []
    assert world.engine.calls == [] and job_dirs(world) == []


async def test_an_unknown_style_is_named(world, content_png):
    result = await stylize(world, content=content_png, preset="Monet")

    assert result.response.content == "❌ There is no style called “Monet” on this server; /styles shows them."
    assert world.engine.calls == []


async def test_stylize_works_in_dms_with_global_defaults(world, content_png, style_png):
    dora = world.env.create_user("dora")

    result = await dora.slash("stylize", content=content_png, style=style_png)

    [card] = result.followups
    assert card.embeds[0].title == "Done"
    assert card.channel_id == dora.dm_channel.id
    assert world.engine.calls[0].options.size == world.config.defaults.size


@pytest.mark.parametrize(
    ("preset", "message"),
    [
        ("Monet", "There is no built-in style called “Monet”; /styles shows them (a server's presets work only"),
        ("preset:Monet", "“Monet” is a server's preset; presets belong to their servers. In DMs, use a built-in"),
    ],
)
async def test_presets_are_refused_in_dms(world, content_png, preset, message):
    dora = world.env.create_user("dora")

    result = await dora.slash("stylize", content=content_png, preset=preset)

    assert result.response.content.startswith(f"❌ {message}")
    assert world.engine.calls == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": 2048}, "size 2048 is above this server's limit of 1024 pixels"),
        ({"iterations": 5000}, "iterations 5000 is above this server's limit of 1000"),
        ({"style_weights": "1,2"}, "style_weights has 2 weight(s) but the job has 1 style(s)"),
        ({"style_weights": "0"}, "at least one must be above zero"),
        ({"style_weights": "a lot"}, "style_weights must be numbers"),
    ],
)
async def test_options_outside_the_limits_are_refused(world, content_png, style_png, options, message):
    result = await stylize(world, content=content_png, style=style_png, **options)

    assert message in result.response.content
    assert result.followups == [] and world.engine.calls == []


async def test_discord_side_ranges_stop_impossible_values_before_the_bot(world, content_png, style_png):
    with pytest.raises(simcord.OptionError):
        await stylize(world, content=content_png, style=style_png, size=10_000)
    with pytest.raises(simcord.OptionError):
        await stylize(world, content=content_png, style=style_png, optimizer="rmsprop")


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("notes.png", b"these are my notes, not a picture", "is not an image"),
        ("empty.png", b"", "is empty (0 bytes)"),
        ("cut.png", truncated_png(), "truncated or damaged"),
        ("bomb.png", decompression_bomb(), "the limit is 4,000,000"),
        ("huge.png", png(2100, 2000), "4,200,000 pixels; the limit is 4,000,000"),
        ("big.png", b"\x89PNG" + b"\0" * 200_001, "is 200,005 bytes; the limit is 200,000 bytes"),
        ("bigger.png", b"\x89PNG" + b"\0" * 300_000, "is 293 KiB; the limit is 195 KiB"),
    ],
)
async def test_bad_attachments_are_named_with_their_problem(world, style_png, name, data, problem):
    result = await stylize(world, content=(name, data), style=style_png)

    assert result.ephemeral
    text = result.response.content
    assert text.startswith("❌ The content image")
    assert name in text and problem in text
    assert result.followups == [] and world.engine.calls == [] and job_dirs(world) == []


async def test_a_bad_style_image_is_named_as_the_style(world, content_png):
    result = await stylize(world, content=content_png, style=("ok.png", png()), style2=("bad.png", b""))

    assert result.response.content.startswith("❌ The style2 image is not usable: bad.png is empty")


@pytest.mark.bot(engine={"block": True}, external=BOTH_WAITS, config={"limits": {"jobs_per_user": 1}})
async def test_the_per_user_cap_refuses_another_job_while_one_is_running(world, content_png, style_png):
    first = await stylize(world, content=content_png, style=style_png)
    assert first.followups[0].embeds[0].title == "Stylizing"

    second = await stylize(world, content=content_png, style=style_png)

    assert "You already have 1 job(s) queued or running; the limit is 1" in second.response.content
    assert second.followups == []
    other = await stylize(world, world.bob, content=content_png, style=style_png)
    assert other.followups[0].embeds[0].title == "Queued"  # the cap is per user


@pytest.mark.bot(engine={"block": True}, external=BOTH_WAITS, config={"limits": {"queue_max": 1}})
async def test_a_full_queue_refuses_new_jobs(world, content_png, style_png):
    await stylize(world, content=content_png, style=style_png)  # running
    await stylize(world, world.bob, content=content_png, style=style_png)  # waiting: the queue is full

    refused = await stylize(world, world.admin, content=content_png, style=style_png)

    assert "The queue is full (1 jobs waiting)" in refused.response.content
    assert refused.followups == []


@pytest.mark.bot(config={"limits": {"cooldown_s": 30.0}})
async def test_the_cooldown_refuses_a_second_request_until_it_passes(world, content_png, style_png):
    await stylize(world, content=content_png, style=style_png)

    again = await stylize(world, content=content_png, style=style_png)

    assert again.ephemeral and again.response.content.startswith("❌ Slow down: you can start another job in 30 s")
    assert len(world.engine.calls) == 1
    await world.env.advance_time(30)
    later = await stylize(world, content=content_png, style=style_png)
    assert later.followups[0].embeds[0].title == "Done"
    assert len(world.engine.calls) == 2


class FullDiskStore(Store):
    async def add_job(self, *args, **kwargs):
        raise OSError(28, "No space left on device")


@pytest.mark.bot(store=FullDiskStore)
async def test_an_unexpected_failure_while_accepting_is_reported_and_nothing_is_queued(
    world, content_png, style_png, caplog
):
    result = await stylize(world, content=content_png, style=style_png)

    assert result.ephemeral and result.response.content.startswith("❌ Something went wrong on our side")
    assert result.followups == [] and world.engine.calls == []
    assert "No space left on device" in caplog.text
    assert world.bot.ledger.waiting_count() == 0
