"""Clips through /stylize (issue 13): animated GIF and WebP, MP4, WebM and MOV in; a clip of the same kind out
(a video becomes an MP4), every frame with its timing; the limits, the card's frame counter, re-runs, the
upload limit, stops mid-clip and bad clips. The fake engine paints each frame as its negative
(`tests/fake_clips.py`), so a posted frame tells which input frame it came from."""

from __future__ import annotations

from fractions import Fraction

import discord
import pytest
from bot_fakes import FakeEngine, animated_gif, png, settle_until
from PIL import Image

from bot.core.job import JobState
from bot.core.params import Rerun
from bot.queue import ENGINE_WAIT, IDLE_WAIT
from bot.queue.engine.thread import NO_CLIPS
from stylecore.video import Clip, load_clip
from tests.fake_clips import assert_painted_in_order
from tests.video import clips

BOTH_WAITS = (IDLE_WAIT, ENGINE_WAIT)
GIF_MS = [40, 60, 80, 100, 40, 60, 80, 120]


@pytest.fixture(scope="module")
def frames() -> list[Image.Image]:
    """8 frames of 64×48 panning over the cat."""
    return clips.pan().frames


@pytest.fixture(scope="module")
def gif(frames) -> bytes:
    return clips.gif(frames, GIF_MS)


async def stylize(world, content, member=None, **options):
    return await (member or world.alice).slash(
        world.channel, "stylize", content=content, style=("s.png", png(20, 30)), **options
    )


def job_id(card) -> str:
    return card.embeds[0].footer.text.removeprefix("Job ")


def labels(card) -> list[str]:
    return [button["label"] for row in card.components for button in row["components"]]


async def posted(card) -> tuple[str, bytes]:
    [attachment] = card.attachments
    return attachment.filename, await attachment.read()


# -- clips in, clips out ---------------------------------------------------------------------------------


async def test_a_gif_comes_back_as_a_gif_with_every_frame_and_its_timing(world, gif, frames):
    result = await stylize(world, ("dance.gif", gif))

    [card] = result.followups
    embed = card.embeds[0]
    assert embed.title == "Done" and card.content == f"<@{world.alice.id}> your clip is ready."
    name, data = await posted(card)
    assert name == f"stylized-{job_id(card)}.gif"
    out = load_clip(data)
    assert isinstance(out, Clip) and out.source_format == "gif"
    assert out.durations == tuple(Fraction(ms, 1000) for ms in GIF_MS)
    assert out.plays == 0  # loops like its source
    assert_painted_in_order(out, frames)
    assert f"GIF · 64×48 · 8 frames · {len(data) // 1024} KiB" in embed.description
    parameters = next(field.value for field in embed.fields if field.name == "Parameters")
    assert parameters.startswith("clip of 8 frames · size 64 px")
    [call] = world.engine.calls
    assert (call.frames, call.done, call.content_size, call.options.size) == (8, 0, (64, 48), 64)
    assert call.options.timelapse_frames == 0


@pytest.mark.parametrize("kind", ["mp4", "webm", "mov"])
async def test_a_video_comes_back_as_an_mp4_with_every_frame_and_its_timing(world, frames, kind):
    data = {
        "mp4": lambda: clips.mp4_vfr(frames)[0],
        "webm": lambda: clips.webm(frames),
        "mov": lambda: clips.mov(frames),
    }[kind]()
    source = load_clip(data)

    result = await stylize(world, (f"walk.{kind}", data))

    [card] = result.followups
    name, video = await posted(card)
    assert name.endswith(".mp4") and card.embeds[0].description.splitlines()[1].startswith("MP4 · 64×48 · 8 frames")
    out = load_clip(video)
    assert isinstance(out, Clip) and out.source_format == "mp4"
    assert out.durations == source.durations
    assert_painted_in_order(out, frames)
    # A video plays as the message's attachment: an embed shows only pictures.
    assert card.embeds[0].image.url is None


async def test_an_animated_webp_comes_back_as_a_webp(world, frames):
    result = await stylize(world, ("loop.webp", clips.webp(frames[:6], [50, 70, 90, 110, 130, 150], loop=3)))

    [card] = result.followups
    name, data = await posted(card)
    out = load_clip(data)
    assert name.endswith(".webp") and isinstance(out, Clip) and out.source_format == "webp"
    assert out.durations == tuple(Fraction(ms, 1000) for ms in (50, 70, 90, 110, 130, 150))
    assert out.plays == 3
    assert_painted_in_order(out, frames[:6])


async def test_a_one_frame_gif_is_a_still_image(world, frames):
    result = await stylize(world, ("still.gif", clips.gif(frames[:1], [100])))

    [card] = result.followups
    assert card.content == f"<@{world.alice.id}> your image is ready."
    name, _ = await posted(card)
    assert name.endswith(".png")
    [call] = world.engine.calls
    assert call.frames == 1
    assert "Upscale ×2" in labels(card)


async def test_the_message_menu_takes_a_video(world, frames):
    await world.admin.slash(world.channel, "stylepreset add", name="blue", image=("b.png", png(20, 20)))
    message = await world.bob.send(world.channel, "look", attachments=[("walk.mp4", clips.mov(frames[:6]))])

    menu = await world.alice.context_menu(world.channel, "Stylize", message)
    picked = await world.alice.select(menu.response, ["preset:blue"])

    [card] = picked.followups
    assert card.embeds[0].title == "Done" and (await posted(card))[0].endswith(".mp4")
    assert world.engine.calls[0].frames == 6


# -- limits and bad clips --------------------------------------------------------------------------------


@pytest.mark.bot(config={"limits": {"max_frames": 6}})
async def test_a_clip_over_the_frame_limit_is_refused_privately_naming_the_limit(world, gif):
    result = await stylize(world, ("long.gif", gif))

    assert result.ephemeral and result.response.content == "❌ The clip long.gif has 8 frames; the limit is 6."
    assert result.followups == [] and world.engine.calls == []


async def test_a_servers_own_frame_limit_applies_and_names_itself(world, gif, frames):
    set_ = await world.admin.slash(world.channel, "stylesettings set", key="max_frames", value="7")
    assert set_.response.content == "**max_frames** is now 7."
    too_high = await world.admin.slash(world.channel, "stylesettings set", key="max_frames", value="49")
    assert too_high.response.content == "❌ max_frames must be from 1 to 48 on this bot, not 49."

    refused = await stylize(world, ("long.gif", gif))
    accepted = await stylize(world, ("short.gif", clips.gif(frames[:7], GIF_MS[:7])))

    assert refused.response.content == "❌ The clip long.gif has 8 frames; the limit is 7."
    assert accepted.followups[0].embeds[0].title == "Done"


async def test_a_ten_minute_video_is_refused_from_its_header(world, frames):
    # Eight frames whose header says ten minutes: the count comes from the header, before any decoding.
    claiming = clips.webm_claiming(frames, seconds=600)

    result = await stylize(world, ("long.webm", claiming))

    assert result.response.content == "❌ The clip long.webm has 14,400 frames; the limit is 48."


@pytest.mark.bot(config={"defaults": {"size": 512}})
async def test_a_clip_is_made_at_the_servers_video_size_and_no_larger(world, gif):
    await world.admin.slash(world.channel, "stylesettings set", key="max_video_size", value="96")

    default = await stylize(world, ("a.gif", gif))
    too_big = await stylize(world, ("a.gif", gif), size=128)
    await stylize(world, ("a.png", png(64, 48)))

    assert default.followups[0].embeds[0].title == "Done"
    assert too_big.response.content == (
        "❌ size 128 is above this server's limit of 96 pixels for clips (max_video_size)."
    )
    assert [call.options.size for call in world.engine.calls] == [96, 512]  # stills keep their own default


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("cut.mp4", lambda f: clips.truncated(clips.mp4_vfr(f)[0]), "is truncated or damaged"),
        ("noise.mp4", lambda f: clips.garbled_box(clips.mp4_vfr(f)[0], b"moov"), "damaged"),
        ("song.mp4", lambda f: clips.audio_only(), "has no video, only audio"),
        ("old.mov", lambda f: clips.qtrle_mov(f[:2]), "which is not supported"),
        ("empty.mp4", lambda f: clips.zero_frame_mp4(), "The clip empty.mp4"),
        (
            "huge.gif",
            lambda f: clips.gif([Image.new("RGB", (2100, 2000), c) for c in ("red", "blue")], [100, 100]),
            "4,200,000 pixels a frame; the limit is 4,000,000",
        ),
    ],
)
async def test_a_bad_clip_is_refused_privately_naming_the_file_and_the_problem(world, frames, name, data, problem):
    result = await stylize(world, (name, data(frames)))

    text = result.response.content
    assert result.ephemeral and text.startswith(f"❌ The clip {name}") and problem in text
    assert "\n" not in text
    assert result.followups == [] and world.engine.calls == []


async def test_a_clip_over_the_attachment_cap_is_refused_before_it_is_decoded(world):
    result = await stylize(world, ("big.mp4", b"\x00\x00\x00\x20ftypisom" + b"\0" * 300_000))

    assert result.response.content == "❌ The content image big.mp4 is 293 KiB; the limit is 195 KiB."


async def test_an_animated_style_image_is_still_refused(world, frames):
    result = await world.alice.slash(
        world.channel, "stylize", content=("c.png", png()), style=("moving.gif", animated_gif())
    )

    assert "is animated" in result.response.content and world.engine.calls == []


# -- the card ----------------------------------------------------------------------------------------------


async def test_the_card_counts_frames_with_previews_and_an_eta_for_the_whole_clip(world, gif):
    result = await stylize(world, ("dance.gif", gif))

    [card] = result.followups
    running = [edit for edit in world.edits(card.id) if edit["embeds"][0]["title"] == "Stylizing"]
    descriptions = [edit["embeds"][0]["description"] for edit in running]
    counted = [text for text in descriptions if text.startswith("Frame **")]
    assert counted, descriptions
    shown = [int(text.split("**")[1].split("/")[0]) for text in counted]
    assert shown == sorted(shown) and shown[0] == 1 and shown[-1] == 8
    assert all("/8** · Iteration **" in text and "ETA ~" in text and "for the whole clip" in text for text in counted)
    previews = [edit for edit in running if edit["attachments"]]
    assert {int(e["embeds"][0]["description"].split("**")[1].split("/")[0]) for e in previews} == set(range(1, 9))


async def test_a_clip_card_offers_the_reruns_but_neither_upscale_nor_timelapse(world, gif):
    result = await stylize(world, ("dance.gif", gif))

    [card] = result.followups
    assert labels(card) == ["Stronger style", "Weaker style", "Keep colours", "New seed"]


@pytest.mark.parametrize("label", ["Stronger style", "Weaker style", "Keep colours", "New seed"])
async def test_each_rerun_paints_the_same_clip_with_one_change(world, gif, frames, label):
    card = (await stylize(world, ("dance.gif", gif), seed=5, style_strength=2.0)).followups[0]

    click = await world.bob.click(card, label=label)

    [new_card] = click.followups
    assert new_card.content == f"<@{world.bob.id}> your clip is ready."
    first, second = world.engine.calls
    assert (second.frames, second.content_size, second.style_sizes) == (8, first.content_size, first.style_sizes)
    changed = {
        "Stronger style": ("style_weight", 4.0),
        "Weaker style": ("style_weight", 1.0),
        "Keep colours": ("preserve_colors", "luminance"),
        "New seed": ("seed", None),
    }[label]
    for key in ("style_weight", "preserve_colors", "seed", "size", "iterations"):
        if key == changed[0]:
            assert getattr(second.options, key) != getattr(first.options, key)
            assert changed[1] is None or getattr(second.options, key) == changed[1]
        else:
            assert getattr(second.options, key) == getattr(first.options, key)
    assert_painted_in_order(load_clip((await posted(new_card))[1]), frames)


async def test_reruns_on_a_clip_card_work_after_a_restart(world, gif):
    card = (await stylize(world, ("dance.gif", gif))).followups[0]

    await world.restart()
    click = await world.alice.click(card, label="New seed")

    assert click.followups[0].embeds[0].title == "Done"
    assert world.engine.calls[0].frames == 8


async def test_an_upscale_of_a_clip_is_refused_even_from_a_forged_button(world, gif):
    card = (await stylize(world, ("dance.gif", gif))).followups[0]
    # An Upscale ×2 button for this job, as another version of the bot might have offered it.
    forged = discord.ui.View(timeout=None)
    forged.add_item(world.bot.buttons.rerun(job_id(card), Rerun.UPSCALE, "Upscale ×2"))
    await world.bot.get_partial_messageable(world.channel.id).send("an old card", view=forged)

    click = await world.alice.click(world.channel.last_message, label="Upscale ×2")

    assert click.ephemeral and click.response.content == (
        "❌ Upscale ×2 works on still images, and this job's content is a clip."
    )
    assert len(world.engine.calls) == 1 and click.followups == []


# -- the upload limit, stops, faults ---------------------------------------------------------------------------


async def test_a_clip_too_large_for_the_upload_limit_is_re_encoded_and_the_card_says_so(world, gif, monkeypatch):
    # The painted clip would not fit a channel with this upload limit (simcord's is always 25 MiB).
    limit = len(gif) // 2
    monkeypatch.setattr(discord.Interaction, "filesize_limit", property(lambda self: limit, lambda self, value: None))

    result = await stylize(world, ("dance.gif", gif))

    [card] = result.followups
    _, data = await posted(card)
    assert len(data) <= limit
    out = load_clip(data)
    assert isinstance(out, Clip) and len(out.frames) == 8
    description = card.embeds[0].description
    assert "Re-encoded at lower quality" in description and "(the upload limit here)" in description
    job = await world.bot.store.job(job_id(card))
    assert job.result.fit and job.result.bytes == len(data) and job.result.frames == 8


@pytest.mark.bot(engine={"block_at_frame": 3}, external=BOTH_WAITS)
async def test_a_stop_mid_clip_leaves_it_queued_and_the_next_start_goes_on_from_the_frames_done(world, gif, frames):
    [card] = (await stylize(world, ("dance.gif", gif))).followups
    kept = world.config.data_dir / "jobs" / job_id(card) / "frames"
    await settle_until(world, lambda: len(list(kept.glob("*.png"))) == 3)
    assert (await world.bot.store.job(job_id(card))).state is JobState.RUNNING

    await world.restart()
    await settle_until(
        world, lambda: world.env.backend.get_message(card.channel_id, card.id).embeds[0]["title"] == "Done"
    )

    [call] = world.engine.calls  # the new bot's engine
    assert (call.frames, call.done) == (8, 3)
    job = await world.bot.store.job(job_id(card))
    out = load_clip((world.config.data_dir / "jobs" / job.id / job.result.file_name).read_bytes())
    assert isinstance(out, Clip) and out.durations == tuple(Fraction(ms, 1000) for ms in GIF_MS)
    assert_painted_in_order(out, frames)
    assert not kept.exists()  # the frames done are dropped once the result is kept


async def test_a_clip_the_engine_fails_on_fails_alone_and_the_queue_goes_on(world, gif):
    world.engine.error = RuntimeError("a frame blew up")
    failed = (await stylize(world, ("dance.gif", gif))).followups[0]
    world.engine.error = None
    done = (await stylize(world, ("c.png", png()))).followups[0]

    assert failed.embeds[0].title == "Failed" and "unexpected error (RuntimeError)" in failed.embeds[0].description
    assert done.embeds[0].title == "Done"


class StillsOnlyEngine:
    """An engine from before clips: stills only."""

    def __init__(self) -> None:
        self.inner = FakeEngine()
        self.calls = self.inner.calls

    def load(self) -> None:
        self.inner.load()

    def stylize(self, *args, **kwargs):
        return self.inner.stylize(*args, **kwargs)


@pytest.mark.bot(engine=StillsOnlyEngine)
async def test_an_engine_without_clips_fails_a_clip_with_a_sentence_and_still_paints_stills(world, gif):
    clip_card = (await stylize(world, ("dance.gif", gif))).followups[0]
    still_card = (await stylize(world, ("c.png", png()))).followups[0]

    assert clip_card.embeds[0].title == "Failed" and clip_card.embeds[0].description == NO_CLIPS
    assert still_card.embeds[0].title == "Done"


@pytest.mark.bot(engine={"oom_above": 100}, config={"defaults": {"size": 128}})
async def test_a_clip_that_runs_out_of_memory_is_retried_smaller_from_its_first_frame(world, gif):
    [card] = (await stylize(world, ("dance.gif", gif))).followups

    assert card.embeds[0].title == "Done"
    first, second = world.engine.calls
    assert (first.options.size, second.options.size, second.done) == (128, 96, 0)
    _, data = await posted(card)
    assert max(load_clip(data).size) == 96


@pytest.mark.bot(config={"storage": {"retention_hours": 1.0}})
async def test_retention_deletes_a_clips_files(world, gif):
    [card] = (await stylize(world, ("dance.gif", gif))).followups
    job_dir = world.config.data_dir / "jobs" / job_id(card)
    assert (job_dir / "content").read_bytes() == gif and (job_dir / f"stylized-{job_id(card)}.gif").exists()

    await world.env.advance_time(3600 + 700)

    assert not job_dir.exists()
    click = await world.alice.click(card, label="New seed")
    assert click.response.content.startswith(f"❌ The images of job {job_id(card)} are no longer kept")


@pytest.mark.bot(engine={"block_at_frame": 3}, external=BOTH_WAITS)
async def test_queue_shows_a_running_clips_frame(world, gif):
    [card] = (await stylize(world, ("dance.gif", gif))).followups

    def on_third_frame() -> bool:
        progress = world.bot.ledger.snapshot(job_id(card)).progress
        return progress is not None and progress.frame == 2

    await settle_until(world, on_third_frame)

    result = await world.alice.slash(world.channel, "queue")

    assert result.response.content.startswith(f"`{job_id(card)}` running (frame 3/8, iteration 5/5)")


@pytest.mark.bot(engine={"block_at_frame": 3}, external=BOTH_WAITS)
async def test_a_clip_cancelled_midway_stops_and_its_finished_frames_are_dropped(world, gif):
    [card] = (await stylize(world, ("dance.gif", gif))).followups
    kept = world.config.data_dir / "jobs" / job_id(card) / "frames"
    await settle_until(world, lambda: len(list(kept.glob("*.png"))) == 3)

    click = await world.alice.click(card, label="Cancel")

    assert click.response.content == f"Cancelled job `{job_id(card)}`."
    shown = world.env.backend.get_message(card.channel_id, card.id)
    assert shown.embeds[0]["title"] == "Cancelled"
    assert not kept.exists()
    assert (await world.bot.store.job(job_id(card))).state is JobState.CANCELLED
