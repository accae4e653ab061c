"""A clip on the engine thread, without Discord: its finished frames handed out as they are made, a run that
goes on from frames an earlier one finished, its progress and previews, and its result within the upload
limit. The real engine's own check of the same (a resumed run paints what a whole run paints) is in
test_bot_clips_real_engine.py."""

from __future__ import annotations

import io
import threading
from fractions import Fraction

import pytest
from bot_fakes import FakeEngine
from PIL import Image

from bot.queue.engine.thread import EngineThread
from bot.queue.messages import WorkFrame, WorkItem, WorkProgress, WorkResult, WorkRetry
from stylecore.options import StyleOptions
from stylecore.video import Clip, load_clip
from tests.fake_clips import assert_painted_in_order, paint
from tests.video import clips

GIF_MS = [40, 60, 80, 100, 40, 60, 80, 120]


@pytest.fixture(scope="module")
def frames() -> list[Image.Image]:
    return clips.pan().frames


@pytest.fixture
def content(tmp_path, frames):
    path = tmp_path / "content"
    path.write_bytes(clips.gif(frames, GIF_MS))
    return path


@pytest.fixture
def style(tmp_path):
    path = tmp_path / "style"
    Image.new("RGB", (30, 30), (0, 0, 200)).save(path, "PNG")
    return path


def item(content, style, *, done=(), max_result_bytes=10_000_000, **options) -> WorkItem:
    options = {"size": 64, "iterations": 4, "progress_every": 1, "preview_every": 2, "seed": 1} | options
    return WorkItem(
        "job1",
        content,
        (style,),
        StyleOptions(**options).validated(),
        max_result_bytes,
        10_000_000,
        max_frames=8,
        done=tuple(done),
    )


def run_one(engine, work):
    worker = EngineThread(engine)
    worker.start()
    finished = threading.Event()
    updates: list[object] = []
    outcome: list[object] = []
    try:
        worker.submit(
            work,
            cancel=threading.Event(),
            on_update=updates.append,
            on_done=lambda result: (outcome.append(result), finished.set()),
        )
        assert finished.wait(20)
    finally:
        worker.stop()
    return outcome[0], updates


def kept(tmp_path, images) -> list:
    paths = []
    for index, image in enumerate(images):
        path = tmp_path / f"frame{index}.png"
        image.save(path, "PNG")
        paths.append(path)
    return paths


def test_each_finished_frame_is_handed_out_as_a_png_as_soon_as_it_is_made(content, style, frames):
    outcome, updates = run_one(FakeEngine(), item(content, style))

    handed = [update for update in updates if isinstance(update, WorkFrame)]
    assert [frame.index for frame in handed] == list(range(8))
    assert all(Image.open(io.BytesIO(frame.image)).format == "PNG" for frame in handed)
    # Handed out as it is final: before the next frame's first report.
    order = [(type(u).__name__, getattr(u, "frame", getattr(u, "index", None))) for u in updates]
    assert order.index(("WorkFrame", 0)) < order.index(("WorkProgress", 1))
    assert isinstance(outcome, WorkResult) and (outcome.extension, outcome.frames) == ("gif", 8)
    assert_painted_in_order(load_clip(outcome.image), frames)


def test_a_run_goes_on_from_the_frames_an_earlier_one_finished(tmp_path, content, style, frames):
    engine = FakeEngine()
    earlier = kept(tmp_path, [paint(frame) for frame in frames[:3]])

    outcome, updates = run_one(engine, item(content, style, done=earlier))

    [call] = engine.calls
    assert (call.frames, call.done) == (8, 3)
    assert {update.index for update in updates if isinstance(update, WorkFrame)} == set(range(3, 8))
    assert min(update.frame for update in updates if isinstance(update, WorkProgress)) == 3
    assert isinstance(outcome, WorkResult)
    out = load_clip(outcome.image)
    assert isinstance(out, Clip) and out.durations == tuple(Fraction(ms, 1000) for ms in GIF_MS)
    assert_painted_in_order(out, frames)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda path: Image.new("RGB", (32, 24)).save(path, "PNG"),  # another size: a smaller retry's
        lambda path: path.write_bytes(b"\x89PNG\r\n\x1a\n half a frame"),
    ],
)
def test_finished_frames_that_do_not_fit_the_run_are_ignored_and_it_starts_afresh(
    tmp_path, content, style, frames, spoil
):
    engine = FakeEngine()
    earlier = kept(tmp_path, [paint(frame) for frame in frames[:3]])
    spoil(earlier[1])

    outcome, _ = run_one(engine, item(content, style, done=earlier))

    assert engine.calls[0].done == 0
    assert isinstance(outcome, WorkResult)
    assert_painted_in_order(load_clip(outcome.image), frames)


def test_a_clip_whose_every_frame_was_finished_paints_its_last_frame_again(tmp_path, content, style, frames):
    engine = FakeEngine()

    outcome, _ = run_one(engine, item(content, style, done=kept(tmp_path, [paint(frame) for frame in frames])))

    assert engine.calls[0].done == 7 and isinstance(outcome, WorkResult)


def test_a_clips_reports_carry_its_frame_and_the_latest_finished_frame_as_preview(content, style):
    # One iteration for every later frame and previews every 4th: later frames bring no preview of their own.
    _, updates = run_one(FakeEngine(), item(content, style, iterations=2, preview_every=4))

    progress = [update for update in updates if isinstance(update, WorkProgress)]
    assert {(tick.frames, tick.total) for tick in progress} == {(8, 2), (8, 1)}
    previewed = sorted({tick.frame for tick in progress if tick.preview is not None})
    assert previewed == list(range(1, 8))  # each shows the frame before it, just finished
    assert Image.open(io.BytesIO(progress[-1].preview)).format == "JPEG"


def test_a_clip_out_of_memory_is_retried_smaller_without_the_frames_of_the_larger_size(
    tmp_path, content, style, frames
):
    engine = FakeEngine(oom_above=100)
    earlier = kept(tmp_path, [paint(frame).resize((128, 96)) for frame in frames[:2]])

    outcome, updates = run_one(engine, item(content, style, size=128, done=earlier))

    assert [(call.options.size, call.done) for call in engine.calls] == [(128, 2), (96, 0)]
    assert WorkRetry(128, 96) in updates
    assert isinstance(outcome, WorkResult) and (outcome.width, outcome.height) == (96, 72)


def test_a_clip_larger_than_the_upload_limit_is_re_encoded_to_fit_and_says_so(content, style):
    whole, _ = run_one(FakeEngine(), item(content, style))
    limit = len(whole.image) // 2

    outcome, _ = run_one(FakeEngine(), item(content, style, max_result_bytes=limit))

    assert isinstance(outcome, WorkResult) and len(outcome.image) <= limit
    assert outcome.frames == 8 and outcome.fit and outcome.fit.startswith("re-encoded")
    assert len(load_clip(outcome.image).frames) == 8
