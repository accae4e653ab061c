"""The engine thread and the in-process queue on their own, without Discord."""

from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import replace

import pytest
from bot_fakes import FakeEngine
from PIL import Image

from bot.queue.engine.thread import EngineThread
from bot.queue.in_process import InProcessQueue
from bot.queue.messages import JobFinished, JobStarted, WorkCancelled, WorkFailed, WorkItem, WorkProgress, WorkResult
from stylecore.options import StyleOptions


def write_png(path, image):
    image.save(path, "PNG")
    return path


@pytest.fixture
def inputs(tmp_path):
    content = write_png(tmp_path / "content", Image.effect_noise((300, 200), 80).convert("RGB"))
    style = write_png(tmp_path / "style", Image.new("RGB", (30, 30), (0, 0, 200)))
    return content, style


def item(inputs, job_id="job1", *, max_result_bytes=10_000_000, **options):
    options = {"size": 64, "iterations": 4, "progress_every": 1, "preview_every": 2, "seed": 1} | options
    return WorkItem(job_id, inputs[0], (inputs[1],), StyleOptions(**options).validated(), max_result_bytes, 10_000_000)


def run_one(worker, work, cancel=None):
    done = threading.Event()
    progress: list[WorkProgress] = []
    outcome = []
    worker.submit(
        work,
        cancel=cancel or threading.Event(),
        on_update=progress.append,
        on_done=lambda result: (outcome.append(result), done.set()),
    )
    assert done.wait(10)
    return outcome[0], progress


@pytest.fixture
def worker():
    worker = EngineThread(FakeEngine())
    worker.start()
    yield worker
    worker.stop()


def test_the_model_loads_on_the_worker_thread_before_the_first_job(worker, inputs):
    run_one(worker, item(inputs))
    assert worker.engine.loaded


def test_results_are_re_encoded_to_fit_the_upload_limit(worker, inputs):
    result, _ = run_one(worker, item(inputs, size=300, max_result_bytes=40_000))

    assert isinstance(result, WorkResult)
    assert len(result.image) <= 40_000
    assert result.extension != "png"  # noise does not fit as PNG
    assert Image.open(io.BytesIO(result.image)).size == (result.width, result.height)


def test_every_tile_step_of_a_tiled_scale_reaches_the_queue(inputs):
    worker = EngineThread(FakeEngine(tiles=3))
    worker.start()
    try:
        _, progress = run_one(worker, item(inputs, progress_every=2))
    finally:
        worker.stop()
    # 4 iterations of 3 tiles each, though the job asked to hear every second iteration.
    assert [(tick.iteration, tick.tile) for tick in progress] == [
        (iteration - (tile < 2), tile) for iteration in range(1, 5) for tile in range(3)
    ]
    assert all(tick.tiles == 3 and tick.total == 4 for tick in progress)


def test_previews_are_small_jpegs(worker, inputs):
    _, progress = run_one(worker, item(inputs, size=900))

    previews = [tick.preview for tick in progress if tick.preview]
    assert len(previews) == 2  # every second iteration of four
    image = Image.open(io.BytesIO(previews[0]))
    assert image.format == "JPEG" and max(image.size) == 512


def test_a_missing_input_fails_the_job_with_a_message(worker, inputs, tmp_path):
    outcome, _ = run_one(worker, item((tmp_path / "gone", inputs[1])))

    assert isinstance(outcome, WorkFailed)
    assert outcome.message == "the content image: no such file."


def test_a_set_cancel_event_stops_the_job(worker, inputs):
    cancel = threading.Event()
    cancel.set()

    outcome, progress = run_one(worker, item(inputs), cancel)

    assert isinstance(outcome, WorkCancelled) and progress == []


class Events:
    def __init__(self):
        self.log: list[tuple[str, str]] = []
        self.finished: dict[str, object] = {}
        self.done = asyncio.Event()

    async def on_event(self, event):
        self.log.append((type(event).__name__, event.job_id))
        if isinstance(event, JobFinished):
            self.finished[event.job_id] = event.outcome
            self.done.set()


async def wait_finished(events, count):
    while len(events.finished) < count:
        events.done.clear()
        await asyncio.wait_for(events.done.wait(), 10)


async def test_the_queue_runs_jobs_in_order_and_cancels_waiting_and_running_ones(inputs):
    engine = FakeEngine(block=True)
    queue = InProcessQueue(EngineThread(engine))
    events = Events()
    await queue.start(events)
    try:
        for job_id in ("a", "b", "c"):
            await queue.put(item(inputs, job_id))
        while queue.running() != ["a"]:
            await asyncio.sleep(0.01)
        assert queue.waiting() == ["b", "c"]

        assert await queue.cancel("b")  # waiting: removed at once
        assert queue.waiting() == ["c"]
        assert await queue.cancel("a")  # running: the engine stops within an iteration
        await wait_finished(events, 1)
        assert isinstance(events.finished["a"], WorkCancelled)
        engine.release()
        await wait_finished(events, 2)
        assert isinstance(events.finished["c"], WorkResult)
        assert not await queue.cancel("b")
        started = [job_id for kind, job_id in events.log if kind == JobStarted.__name__]
        assert started == ["a", "c"]
    finally:
        await queue.close()


def test_warm_up_runs_one_tiny_job_before_the_first_real_one(inputs):
    engine = FakeEngine()
    worker = EngineThread(engine, warm_up=True)
    worker.start()
    try:
        result, _ = run_one(worker, item(inputs, size=96))
    finally:
        worker.stop()

    assert isinstance(result, WorkResult)
    warm, real = engine.calls
    assert (warm.options.size, warm.options.iterations) == (64, 2) and real.options.size == 96


def test_a_failed_warm_up_does_not_stop_the_worker(inputs):
    engine = FakeEngine(error=RuntimeError("driver hiccup"))
    worker = EngineThread(engine, warm_up=True)
    worker.start()
    try:
        assert isinstance(run_one(worker, item(inputs))[0], WorkFailed)  # the real job meets the same error
        engine.error = None
        assert isinstance(run_one(worker, item(inputs))[0], WorkResult)
    finally:
        worker.stop()


def test_the_engine_reports_every_iteration_but_the_bot_hears_as_often_as_asked(worker, inputs):
    # Every iteration is a sign of life for the health check, even when reports are sparse.
    beats = []
    original = worker.engine.stylize

    def stylize(*args, progress=None, **kwargs):
        def spy(record):
            progress(record)
            beats.append(worker.last_beat)

        return original(*args, progress=spy, **kwargs)

    worker.engine.stylize = stylize
    result, progress = run_one(worker, item(inputs, iterations=6, progress_every=3, preview_every=None))
    assert isinstance(result, WorkResult)
    assert worker.engine.calls[-1].options.progress_every == 1
    assert len(beats) == 6 and beats == sorted(beats)
    assert [p.iteration for p in progress] == [3, 6]


def test_an_upscale_starts_from_its_init_image_and_result_and_timelapse_fit_the_upload_limit(worker, inputs, tmp_path):
    init = write_png(tmp_path / "init", Image.effect_noise((150, 100), 90).convert("RGB"))
    work = replace(
        item(inputs, size=300, max_result_bytes=40_000, init="image", upscale_from=150, timelapse_frames=12), init=init
    )

    result, _ = run_one(worker, work)

    assert isinstance(result, WorkResult)
    assert worker.engine.calls[-1].init_size == (150, 100)
    assert len(result.image) <= 40_000 and result.extension != "png"  # noise at 300 px does not fit as PNG
    data, extension = result.timelapse
    assert len(data) <= 40_000 and extension in ("webp", "gif")
    assert Image.open(io.BytesIO(data)).n_frames >= 2


def test_a_missing_init_image_fails_the_job_with_a_message(worker, inputs, tmp_path):
    work = replace(item(inputs, size=300, init="image", upscale_from=150), init=tmp_path / "gone")

    outcome, _ = run_one(worker, work)

    assert isinstance(outcome, WorkFailed) and outcome.message == "the image to upscale: no such file."
