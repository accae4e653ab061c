"""Clips through the real stylecore engine (VGG-19 on the CPU) at 48 px and 2 iterations: a GIF end to end
through the bot, and a run that goes on from frames an interrupted one finished painting what a whole run
paints (the engine thread's `done` and the engine's own resume agree)."""

from __future__ import annotations

import asyncio
import io
import threading
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from bot.queue.engine.thread import EngineThread
from bot.queue.messages import WorkFrame, WorkItem, WorkResult
from stylecore import Engine
from stylecore.options import StyleOptions
from stylecore.video import Clip, load_clip
from tests.video import clips

pytestmark = pytest.mark.skipif(
    not hasattr(Engine, "stylize_clip"),
    reason="Engine.stylize_clip (issue 13, the engine helper's branch) is not merged into this branch yet",
)

GIF_MS = [60, 80, 100, 60, 80, 100]


@pytest.fixture(scope="module")
def frames() -> list[Image.Image]:
    return clips.pan(6, (48, 36), (2, 1)).frames


def style_png() -> bytes:
    buffer = io.BytesIO()
    Image.open(clips.SOURCE.parent / "starry_night.jpg").convert("RGB").resize((48, 48)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.bot(
    engine=lambda: Engine(device="cpu"),
    config={
        "engine": {"multiscale": False},
        "defaults": {"size": 48, "iterations": 2},
        "limits": {"max_video_size": 48},
    },
    simcord={"settle_timeout": 300},  # the action returns once the job is done, so it may take a while
)
async def test_a_gif_on_the_real_engine_comes_back_repainted_with_every_frame_and_its_timing(world, frames):
    await asyncio.to_thread(world.engine.load)

    result = await world.alice.slash(
        world.channel,
        "stylize",
        content=("walk.gif", clips.gif(frames, GIF_MS)),
        style=("starry.png", style_png()),
        seed=7,
    )

    [card] = result.followups
    embed = card.embeds[0]
    assert embed.title == "Done", embed.description
    assert "on cpu" in embed.description and "GIF · 48×36 · 6 frames" in embed.description
    out = load_clip(await card.attachments[0].read())
    assert isinstance(out, Clip) and out.durations == tuple(Fraction(ms, 1000) for ms in GIF_MS)
    for painted, source in zip(out.frames, frames, strict=True):
        assert np.abs(np.asarray(painted, float) - np.asarray(source, float)).mean() > 1.0  # it was repainted
    edits = [r.json for r in world.env.http_requests if r.method == "PATCH" and r.path.endswith(f"/{card.id}")]
    assert any("Frame **6/6**" in (edit["embeds"][0].get("description") or "") for edit in edits)


def test_a_run_going_on_from_finished_frames_paints_what_a_whole_run_paints(tmp_path, frames):
    content = tmp_path / "content"
    content.write_bytes(clips.gif(frames, GIF_MS))
    style = tmp_path / "style"
    style.write_bytes(style_png())
    options = StyleOptions(size=48, iterations=2, multiscale=False, seed=11, progress_every=1).validated()
    worker = EngineThread(Engine(device="cpu"))
    worker.start()

    def run(done: tuple = ()) -> tuple[WorkResult, list[WorkFrame]]:
        finished = threading.Event()
        updates: list[object] = []
        outcome: list[object] = []
        worker.submit(
            WorkItem("job1", content, (style,), options, 10_000_000, 10_000_000, max_frames=6, done=done),
            cancel=threading.Event(),
            on_update=updates.append,
            on_done=lambda result: (outcome.append(result), finished.set()),
        )
        assert finished.wait(300)
        assert isinstance(outcome[0], WorkResult), outcome[0]
        return outcome[0], [update for update in updates if isinstance(update, WorkFrame)]

    try:
        whole, handed = run()
        kept = []
        for frame in handed[:3]:
            path = tmp_path / f"frame{frame.index}.png"
            path.write_bytes(frame.image)
            kept.append(path)
        resumed, handed_again = run(tuple(kept))
    finally:
        worker.stop()

    assert [frame.index for frame in handed] == list(range(6))
    assert [frame.index for frame in handed_again] == [3, 4, 5]  # it went on from the fourth frame
    for later, earlier in zip(handed_again, handed[3:], strict=True):
        a = np.asarray(Image.open(io.BytesIO(later.image)), float)
        b = np.asarray(Image.open(io.BytesIO(earlier.image)), float)
        assert np.abs(a - b).max() <= 1, later.index
    assert len(load_clip(resumed.image).frames) == len(load_clip(whole.image).frames) == 6
