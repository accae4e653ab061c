"""Clips through the Redis backend (issue 13): the clip file crosses as the content image, a worker keeps each
finished frame in Redis, and a worker killed mid-clip costs only the frame it was painting: another one goes
on from the last finished frame. Also what crosses the wire for clips, and how older peers read it."""

from __future__ import annotations

import asyncio
import signal
import time
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from bot_world import World, png
from redis_helpers import Jobs, LocalWorkers, Recorder, WorkerProcesses
from redis_server import RedisServer

from bot.queue.messages import JobUpdated, WorkItem, WorkProgress, WorkResult
from bot.queue.redis.bot_side.redis_queue import RedisQueue
from bot.queue.redis.wire import envelopes, records
from stylecore.options import StyleOptions
from stylecore.video import Clip, load_clip
from tests.fake_clips import assert_painted_in_order
from tests.video import clips

if TYPE_CHECKING:
    from collections.abc import Callable

    from PIL import Image

GIF_MS = [40, 60, 80, 100, 40, 60, 80, 120]


@pytest.fixture(scope="module")
def frames() -> list[Image.Image]:
    return clips.pan().frames


@pytest.fixture
def gif_path(jobs: Jobs, frames: list[Image.Image]) -> Path:
    path = jobs.folder / "content.gif"
    path.write_bytes(clips.gif(frames, GIF_MS))
    return path


async def wait_until(condition: Callable[[], bool], limit_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def kept_frames(server: RedisServer, queue: RedisQueue, job_id: str) -> list[int]:
    """The finished frames kept in the job's hash, by index."""
    names = server.client().hkeys(queue.keys.job(job_id))
    return sorted(int(name.split(b":")[1]) for name in names if name.startswith(b"frame:"))


async def test_a_clip_crosses_redis_and_comes_back_with_every_frame(
    server: RedisServer,
    queue: RedisQueue,
    local_workers: LocalWorkers,
    recorder: Recorder,
    jobs: Jobs,
    gif_path: Path,
    frames: list[Image.Image],
) -> None:
    local_workers.spawn()
    await wait_until(lambda: queue.workers_online() == 1, what="the worker's heartbeat")
    item = jobs.item(content=gif_path, max_frames=8, size=64, iterations=4)
    await queue.put(item)
    await recorder.wait_finished([item.job_id])

    progress = [event.update for event in recorder.updates(item.job_id) if isinstance(event.update, WorkProgress)]
    assert {update.frame for update in progress} == set(range(8)) and {update.frames for update in progress} == {8}
    [finished] = recorder.finished()[item.job_id]
    outcome = finished.outcome
    assert isinstance(outcome, WorkResult)
    assert (outcome.extension, outcome.frames, outcome.fit) == ("gif", 8, None)
    out = load_clip(outcome.image)
    assert isinstance(out, Clip) and out.durations == tuple(Fraction(ms, 1000) for ms in GIF_MS)
    assert_painted_in_order(out, frames)
    # The finished frames were kept while it ran, and are freed with the inputs once the result is stored.
    assert kept_frames(server, queue, item.job_id) == []
    assert b"content" not in server.client().hkeys(queue.keys.job(item.job_id))


async def test_a_worker_killed_mid_clip_its_job_goes_on_elsewhere_from_the_last_finished_frame(
    server: RedisServer,
    queue: RedisQueue,
    processes: WorkerProcesses,
    recorder: Recorder,
    jobs: Jobs,
    gif_path: Path,
    frames: list[Image.Image],
) -> None:
    # 2 iterations for the first frame and 1 for each later one, 0.3 s each: 2.7 s in all, so the kill below
    # comes mid-clip; the second worker is 30 times faster.
    first = processes.spawn(iteration_s=0.3, reclaim_s=2.0)
    await wait_until(lambda: queue.workers_online() == 1, 30, "the first worker")
    item = jobs.item(content=gif_path, max_frames=8, size=64, iterations=2)
    await queue.put(item)
    await wait_until(lambda: len(kept_frames(server, queue, item.job_id)) >= 2, 30, "two finished frames")
    first.kill()  # SIGKILL: no goodbye, no hand-back; its entry stays pending until reclaimed
    first.wait(10)
    kept = kept_frames(server, queue, item.job_id)
    assert kept == list(range(len(kept))) and 2 <= len(kept) < 8, kept
    assert item.job_id not in recorder.finished(), "the kill must come mid-clip"

    processes.spawn(iteration_s=0.01, reclaim_s=2.0)
    await recorder.wait_finished([item.job_id], limit_s=60)

    starts = recorder.started(item.job_id)
    assert len(starts) == 2 and starts[0].worker != starts[1].worker
    second_run = recorder.events[recorder.events.index(starts[1]) :]
    [resumed, *_] = [e.update for e in second_run if isinstance(e, JobUpdated) and isinstance(e.update, WorkProgress)]
    assert resumed.frame == len(kept), "the second worker did not start from the first one's last finished frame"
    assert f"clip of 8 frames, starting at frame {len(kept)}" in processes.log(1)
    [finished] = recorder.finished()[item.job_id]
    assert isinstance(finished.outcome, WorkResult) and finished.outcome.frames == 8
    out = load_clip(finished.outcome.image)
    assert isinstance(out, Clip) and out.durations == tuple(Fraction(ms, 1000) for ms in GIF_MS)
    assert_painted_in_order(out, frames)
    assert kept_frames(server, queue, item.job_id) == []


async def test_a_worker_stopped_mid_clip_hands_it_back_and_the_next_goes_on_from_its_frames(
    server: RedisServer,
    queue: RedisQueue,
    processes: WorkerProcesses,
    recorder: Recorder,
    jobs: Jobs,
    gif_path: Path,
    frames: list[Image.Image],
) -> None:
    first = processes.spawn(iteration_s=0.3, reclaim_s=30.0)  # handed back, it need not wait to be reclaimed
    await wait_until(lambda: queue.workers_online() == 1, 30, "the first worker")
    item = jobs.item(content=gif_path, max_frames=8, size=64, iterations=2)
    await queue.put(item)
    await wait_until(lambda: len(kept_frames(server, queue, item.job_id)) >= 2, 30, "two finished frames")
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    kept = kept_frames(server, queue, item.job_id)
    assert 2 <= len(kept) < 8 and item.job_id not in recorder.finished()

    processes.spawn(iteration_s=0.01, reclaim_s=30.0)
    await recorder.wait_finished([item.job_id], limit_s=60)

    assert "handed back for another worker" in processes.log(0)
    starts = recorder.started(item.job_id)
    second_run = recorder.events[recorder.events.index(starts[-1]) :]
    [resumed, *_] = [e.update for e in second_run if isinstance(e, JobUpdated) and isinstance(e.update, WorkProgress)]
    assert resumed.frame == len(kept)
    [finished] = recorder.finished()[item.job_id]
    assert isinstance(finished.outcome, WorkResult)
    assert_painted_in_order(load_clip(finished.outcome.image), frames)


async def test_the_bot_sends_a_clip_through_redis_and_posts_it_with_its_frame_counter(
    world: World, frames: list[Image.Image]
) -> None:
    result = await world.alice.slash(
        world.channel,
        "stylize",
        content=("dance.gif", clips.gif(frames, GIF_MS)),
        style=("s.png", png(20, 20, (20, 40, 180))),
    )

    [card] = result.followups
    await world.settle_until(lambda: world.card(card).embeds[0]["title"] == "Done")
    done = world.card(card)
    assert done.content.endswith("your clip is ready.") and "GIF · 64×48 · 8 frames" in done.embeds[0]["description"]
    data = world.env.backend.cdn.get(done.attachments[0]["url"])
    out = load_clip(data)
    assert isinstance(out, Clip) and out.durations == tuple(Fraction(ms, 1000) for ms in GIF_MS)
    assert_painted_in_order(out, frames)
    edits = [r.json for r in world.env.http_requests if r.method == "PATCH" and r.path.endswith(f"/{card.id}")]
    counted = {e["embeds"][0]["description"].split("**")[1] for e in edits if "Frame **" in str(e["embeds"][0])}
    assert "8/8" in counted and len(counted) > 1, counted


# -- the wire ------------------------------------------------------------------------------------------------


def test_a_clips_progress_crosses_the_events_stream_and_older_peers_read_it() -> None:
    progress = WorkProgress(3, 10, 0, 1, 64, 48, 1.5, 4.0, preview=b"\xff\xd8jpeg", frame=5, frames=8)

    env = envelopes.parse_envelope(envelopes.envelope(envelopes.PROGRESS, "ab12cd34", "w", 1, progress).to_fields())

    assert envelopes.update_from_envelope(env) == progress
    # An older worker sends no frame: a still's. A newer one may send fields this bot does not know.
    meta = records.load_json(env.data[b"data"])
    older = {**env.data, b"data": records.dump_json({k: v for k, v in meta.items() if k not in ("frame", "frames")})}
    newer = {**env.data, b"data": records.dump_json({**meta, "layer": "relu4_2"})}
    assert envelopes.update_from_envelope(envelopes.Envelope("progress", "ab12cd34", "w", 1, older)) == WorkProgress(
        3, 10, 0, 1, 64, 48, 1.5, 4.0, preview=b"\xff\xd8jpeg"
    )
    assert envelopes.update_from_envelope(envelopes.Envelope("progress", "ab12cd34", "w", 1, newer)) == progress


def test_a_clip_job_and_its_finished_frames_cross_the_job_hash(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.write_bytes(b"GIF89a...")
    item = WorkItem("ab12cd34", content, (), StyleOptions(size=64).validated(), 1024, 10_000, max_frames=8)
    fields = records.job_fields(item, b"GIF89a...", [])
    fields[records.frame_field(0)] = b"png 0"
    fields[records.frame_field(1)] = b"png 1"
    fields[records.frame_field(3)] = b"png 3"  # not after an unbroken run from the first: not used

    inputs = records.job_inputs(fields)
    folder = tmp_path / "worker"
    folder.mkdir()
    crossed = inputs.work_item(folder)

    assert crossed.max_frames == 8
    assert [path.read_bytes() for path in crossed.done] == [b"png 0", b"png 1"]
    older = records.dump_json({k: v for k, v in records.load_json(fields[b"item"]).items() if k != "max_frames"})
    assert records.job_inputs({**fields, b"item": older}).work_item(folder).max_frames == 1  # an older bot: a still


def test_a_clips_result_crosses_with_its_frames_and_fit_and_an_older_workers_is_a_still() -> None:
    options = StyleOptions(size=64, seed=3).validated()
    result = WorkResult(b"GIF89a", "gif", 64, 48, options, 12, 1.0, "finished", "cpu", frames=8, fit="re-encoded")

    fields = records.outcome_fields(result)

    assert records.outcome_from_fields(fields) == result
    meta = records.load_json(fields[b"data"])
    older = {**fields, b"data": records.dump_json({k: v for k, v in meta.items() if k not in ("frames", "fit")})}
    read = records.outcome_from_fields(older)
    assert isinstance(read, WorkResult) and (read.frames, read.fit) == (1, None)
