"""The Redis backend end to end: a real redis-server, RedisQueue on the bot's side, workers in
this loop (sleepy engine) or in their own processes (real engine where the behaviour demands it)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from PIL import Image
from redis_engines import CRASH_SEED, SleepyEngine, pixel_digest
from redis_helpers import Jobs, LocalWorkers, Recorder, WorkerProcesses, png
from redis_server import RedisServer

from bot.queue.engine.thread import EngineThread
from bot.queue.interface import QueueUnavailable
from bot.queue.messages import JobStarted, WorkCancelled, WorkFailed, WorkProgress, WorkResult
from bot.queue.redis.bot_side.redis_queue import UNAVAILABLE, RedisQueue
from bot.queue.redis.wire.keys import WORKERS_GROUP
from bot.queue.redis.wire.worker_info import WorkerInfo

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


async def wait_until(condition: Callable[[], bool], limit_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def assert_once(recorder: Recorder, job_ids: list[str]) -> None:
    finished = recorder.finished()
    assert sorted(finished) == sorted(job_ids)
    assert all(len(events) == 1 for events in finished.values()), {k: len(v) for k, v in finished.items()}


async def test_a_job_crosses_redis_with_its_images_and_comes_back(
    queue: RedisQueue,
    local_workers: LocalWorkers,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    local_workers.spawn()
    await wait_until(lambda: queue.workers_online() == 1, what="the worker's heartbeat")
    item = jobs.item(iterations=6)
    await queue.put(item)
    # The worker has no access to the bot's files: everything it needs went to Redis with the job.
    await wait_until(lambda: queue.counters.dispatched == 1, what="the dispatch")
    item.content.unlink()
    item.styles[0].unlink()
    await recorder.wait_finished([item.job_id])
    [started] = recorder.started(item.job_id)
    assert "sleepy" in started.worker
    updates = [event.update for event in recorder.updates(item.job_id)]
    assert [u.iteration for u in updates if isinstance(u, WorkProgress)] == [1, 2, 3, 4, 5, 6]
    assert any(isinstance(u, WorkProgress) and u.preview and u.preview[:2] == b"\xff\xd8" for u in updates)
    [finished] = recorder.finished()[item.job_id]
    assert isinstance(finished.outcome, WorkResult)
    assert finished.outcome.image[:8] == b"\x89PNG\r\n\x1a\n"
    assert finished.outcome.options.seed == 1
    assert queue.running() == [] and queue.waiting() == []
    [info] = queue.workers()
    await wait_until(lambda: queue.workers()[0].jobs_done == 1, what="the counters in the heartbeat")
    info = queue.workers()[0]
    assert info.iterations == 6 and info.busy_s > 0 and info.state == "idle"
    assert queue.worker_last_beat > time.time() - 5


async def test_an_upscale_crosses_redis_with_its_init_image_and_the_engine_starts_from_it(
    server: RedisServer,
    queue: RedisQueue,
    local_workers: LocalWorkers,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    worker = local_workers.spawn()
    await wait_until(lambda: queue.workers_online() == 1, what="the worker's heartbeat")
    init = jobs.folder / "init"  # the name the bot's store gives an upscale's starting image
    init.write_bytes(png(40, 24, (10, 200, 90)))
    item = jobs.item(size=80, init=init)
    await queue.put(item)
    await wait_until(lambda: queue.counters.dispatched == 1, what="the dispatch")
    for path in (item.content, item.styles[0], init):
        path.unlink()  # the worker has only what crossed Redis
    await recorder.wait_finished([item.job_id])

    assert isinstance(recorder.finished()[item.job_id][0].outcome, WorkResult)
    assert isinstance(worker.engine, EngineThread) and isinstance(worker.engine.engine, SleepyEngine)
    [received] = worker.engine.engine.inits
    assert received is not None, "the engine started from the content, not the image to upscale"
    assert received.size == (40, 24)
    assert pixel_digest(received) == pixel_digest(Image.new("RGB", (40, 24), (10, 200, 90)))
    # Freed with the other inputs once the result is stored.
    kept = set(server.client().hkeys(queue.keys.job(item.job_id)))
    assert b"item" in kept and not {b"content", b"style:0", b"init"} & kept


async def test_two_worker_processes_drain_20_jobs_each_exactly_once(
    server: RedisServer,
    queue: RedisQueue,
    processes: WorkerProcesses,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    processes.spawn(engine="real")
    processes.spawn(engine="real")
    items = [
        jobs.item(guild_id=index % 3, owner_id=index % 5, size=32, iterations=3, seed=index) for index in range(20)
    ]
    for item in items:
        await queue.put(item)
    await wait_until(lambda: queue.workers_online() == 2, 60, "two workers")
    await recorder.wait_finished([item.job_id for item in items], limit_s=120)
    assert_once(recorder, [item.job_id for item in items])
    assert all(isinstance(events[0].outcome, WorkResult) for events in recorder.finished().values())
    workers = {event.worker for event in recorder.events if isinstance(event, JobStarted)}
    assert len(workers) == 2, "both workers took jobs"
    for item in items:
        assert len(recorder.started(item.job_id)) == 1, "no job ran twice"
    client = server.client()
    assert client.xlen(f"{queue.keys.prefix}:jobs") == 0  # acknowledged and deleted
    assert client.xpending(f"{queue.keys.prefix}:jobs", "workers")["pending"] == 0


async def test_a_worker_killed_mid_job_its_job_finishes_on_the_other_once_and_it_leaves_the_group(
    server: RedisServer,
    queue: RedisQueue,
    processes: WorkerProcesses,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    # 40 iterations of 0.5 s: the first worker cannot finish before the kill below (the second starts in
    # about a second), and the second, 50 times faster, runs it again in well under a second.
    first = processes.spawn(iteration_s=0.5, reclaim_s=2.0)
    await wait_until(lambda: queue.workers_online() == 1, 30, "the first worker")
    item = jobs.item(iterations=40)
    await queue.put(item)
    await recorder.wait(lambda: len(recorder.updates(item.job_id)) >= 2, what="the job to be running")
    second = processes.spawn(iteration_s=0.01, reclaim_s=2.0)
    await wait_until(lambda: queue.workers_online() == 2, 30, "the second worker")
    assert item.job_id not in recorder.finished(), "the kill must come mid-job"
    [dead] = [info.id for info in queue.workers() if info.pid == first.pid]
    first.kill()  # SIGKILL: no goodbye, no hand-back; its entry stays pending until reclaimed
    first.wait(10)
    await recorder.wait_finished([item.job_id], limit_s=60)
    await asyncio.sleep(1.0)  # anything late (a duplicate) would arrive now
    assert_once(recorder, [item.job_id])
    assert isinstance(recorder.finished()[item.job_id][0].outcome, WorkResult)
    starts = recorder.started(item.job_id)
    assert len(starts) == 2 and starts[0].worker != starts[1].worker, "the card can say the job moved"
    assert "taken over" in processes.log(1)
    await wait_until(lambda: queue.workers_online() == 1, 10, "the dead worker to drop off")
    assert second.poll() is None
    # Redis forgets the dead worker too: its name does not stay among the stream's readers for good.
    client = server.client()

    def readers() -> set[str]:
        return {c["name"].decode() for c in client.xinfo_consumers(queue.keys.jobs, WORKERS_GROUP)}

    await wait_until(lambda: dead not in readers(), 10, "the dead worker to leave the group")
    assert len(readers()) == 1


async def test_redis_restarted_mid_queue_with_aof_loses_nothing(
    server: RedisServer,
    queue: RedisQueue,
    processes: WorkerProcesses,
    recorder: Recorder,
    jobs: Jobs,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Jobs of 3 s: one running at the crash outlives the bot's audit of lost jobs (two rounds of
    # reclaim_after_s / 2 = 1 s), so a Redis that forgot it would have it sent again.
    processes.spawn(iteration_s=0.3)
    processes.spawn(iteration_s=0.3)
    items = [jobs.item(guild_id=index % 2, owner_id=index, iterations=10, seed=index) for index in range(6)]
    ids = [item.job_id for item in items]
    for item in items:
        await queue.put(item)

    # Some done, some running: a crash now has state in every part of Redis to lose.
    def running() -> bool:
        return any(recorder.started(i) and i not in recorder.finished() for i in ids)

    await recorder.wait(lambda: len(recorder.finished()) >= 1 and running(), what="a job done and one running")
    server.restart(kill=True)  # a crash: only the append-only file brings the data back
    await recorder.wait_finished(ids, limit_s=90)
    await asyncio.sleep(0.5)
    assert_once(recorder, ids)
    assert all(isinstance(events[0].outcome, WorkResult) for events in recorder.finished().values())
    # What the append-only file promises beyond "a result arrived": nothing was sent again, so every
    # job started once. (Restarted without its data, Redis forgets the running jobs; the bot's audit
    # sends them again, and they start twice.)
    assert {i: len(recorder.started(i)) for i in ids} == dict.fromkeys(ids, 1)
    assert "sending it again" not in caplog.text


async def test_cancel_reaches_the_remote_worker_and_a_cancelled_queued_job_never_starts(
    queue: RedisQueue,
    processes: WorkerProcesses,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    processes.spawn(engine="real")
    await wait_until(lambda: queue.workers_online() == 1, 60, "the worker")
    running = jobs.item(size=64, iterations=200, owner_id=1)
    queued = jobs.item(size=32, iterations=2, owner_id=2)
    after = jobs.item(size=32, iterations=2, owner_id=3)
    for item in (running, queued, after):
        await queue.put(item)
    await recorder.wait(lambda: len(recorder.updates(running.job_id)) >= 2, what="the long job to run")
    assert queue.waiting() == [queued.job_id, after.job_id]
    assert await queue.cancel(queued.job_id) is True
    assert queue.waiting() == [after.job_id]
    sent = time.monotonic()
    assert await queue.cancel(running.job_id) is True
    await recorder.wait_finished([running.job_id, after.job_id])
    iterations_after = [
        e.update.iteration for e in recorder.updates(running.job_id) if isinstance(e.update, WorkProgress)
    ]
    assert isinstance(recorder.finished()[running.job_id][0].outcome, WorkCancelled)
    assert time.monotonic() - sent < 10
    assert iterations_after[-1] < 200
    assert recorder.started(queued.job_id) == [] and queued.job_id not in recorder.finished()
    assert await queue.cancel("deadbeef") is False


async def test_a_cancelled_job_already_in_the_stream_is_dropped_by_the_worker(
    server: RedisServer,
    queue: RedisQueue,
    local_workers: LocalWorkers,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    # A worker that announces itself idle but never reads: the job goes into the stream and stays there.
    ghost = WorkerInfo(
        id="ghost",
        host="elsewhere",
        pid=1,
        device="cpu",
        state="idle",
        job=None,
        beat_at=time.time(),
        started_at=time.time(),
    )
    client = server.client()
    client.set(queue.keys.worker("ghost"), ghost.to_json(), px=30_000)
    client.zadd(queue.keys.workers, {"ghost": time.time()})
    await wait_until(lambda: queue.workers_online() == 1, what="the ghost worker")
    item = jobs.item(iterations=4)
    await queue.put(item)
    await wait_until(lambda: client.xlen(queue.keys.jobs) == 1, what="the dispatch")
    assert queue.waiting() == [item.job_id], "in the stream but not started: still waiting"
    assert await queue.cancel(item.job_id) is True
    assert queue.waiting() == []
    worker = local_workers.spawn()
    await wait_until(lambda: client.xlen(queue.keys.jobs) == 0, what="the worker to drop it")
    await asyncio.sleep(0.5)
    assert recorder.events == [], "it never started, and the bot (which finished it itself) hears nothing"
    assert worker.info.jobs_done == 0
    assert client.hget(queue.keys.result(item.job_id), "data") == b'{"kind":"cancelled"}'


async def test_fair_order_a_server_with_many_jobs_alternates_with_one_with_one(
    queue: RedisQueue,
    local_workers: LocalWorkers,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    busy = [jobs.item(guild_id=100, owner_id=owner, iterations=2) for owner in (1, 1, 2, 2, 3, 3)]
    lone = jobs.item(guild_id=200, owner_id=9, iterations=2)
    for item in [*busy, lone]:
        await queue.put(item)
    # No worker yet: nothing is dispatched, so the line is exactly the fair order.
    expected = [
        busy[0].job_id,
        lone.job_id,
        busy[2].job_id,
        busy[4].job_id,
        busy[1].job_id,
        busy[3].job_id,
        busy[5].job_id,
    ]
    assert queue.waiting() == expected
    local_workers.spawn()
    await recorder.wait_finished(expected)
    assert recorder.start_order() == expected


async def test_a_poison_job_fails_after_max_deliveries_and_others_still_run(
    queue: RedisQueue,
    processes: WorkerProcesses,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    poison = jobs.item(seed=CRASH_SEED, iterations=5)
    fine = jobs.item(seed=1, iterations=3, owner_id=11)
    await queue.put(poison)
    await queue.put(fine)
    deadline = time.monotonic() + 90
    spawned = 0
    # A supervisor (Docker's restart policy) brings each crashed worker back.
    while poison.job_id not in recorder.finished():
        assert time.monotonic() < deadline, recorder.summary()
        if all(process.poll() is not None for process in processes.processes):
            assert spawned < 5, "the poison job was handed out more than max_deliveries times"
            processes.spawn(reclaim_s=1.0, max_deliveries=2)
            spawned += 1
        await asyncio.sleep(0.1)
    await recorder.wait_finished([fine.job_id])
    [failed] = recorder.finished()[poison.job_id]
    assert isinstance(failed.outcome, WorkFailed)
    assert "stopped its worker 2 times" in failed.outcome.message
    assert len(recorder.started(poison.job_id)) == 2
    assert spawned == 3
    assert isinstance(recorder.finished()[fine.job_id][0].outcome, WorkResult)


async def test_redis_down_at_start_and_mid_run_queue_unavailable_then_nothing_lost(
    tmp_path: Path,
    prefix: str,
    recorder: Recorder,
    jobs: Jobs,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = RedisServer(tmp_path / "redis-late")
    queue = RedisQueue(server.url, key_prefix=prefix, poll_s=0.1, backoff_cap_s=0.3)
    await queue.start(recorder)  # does not fail: its loops retry
    workers = LocalWorkers(server.url, prefix)
    try:
        with pytest.raises(QueueUnavailable) as refused:
            await queue.put(jobs.item())
        assert str(refused.value) == UNAVAILABLE
        workers.spawn(iteration_s=0.03, backoff_cap_s=0.3)
        await asyncio.sleep(1.0)
        server.start()
        await wait_until(lambda: queue.workers_online() == 1, 20, "reconnection")
        first = [jobs.item(owner_id=index, iterations=10, seed=index) for index in range(4)]
        for item in first:
            await queue.put(item)
        await recorder.wait(lambda: len(recorder.finished()) >= 1, what="a first result")
        server.stop(kill=True)
        with pytest.raises(QueueUnavailable):
            await queue.put(jobs.item())
        await asyncio.sleep(1.0)
        server.start()
        late = jobs.item(owner_id=99, iterations=3)
        await wait_until(lambda: queue.connected, 20, "the queue to reconnect")
        await queue.put(late)
        await recorder.wait_finished([item.job_id for item in [*first, late]], limit_s=60)
        assert_once(recorder, [item.job_id for item in [*first, late]])
        retries = [r.getMessage() for r in caplog.records if "Redis unreachable (attempt" in r.getMessage()]
        assert retries, "each reconnect attempt is logged"
        assert not any(r.exc_info for r in caplog.records if r.name.startswith("stylebot")), "no tracebacks"
    finally:
        await workers.stop_all()
        await queue.close()
        server.stop(kill=True)


async def test_a_restarted_bot_follows_a_running_job_instead_of_running_it_twice(
    server: RedisServer,
    prefix: str,
    local_workers: LocalWorkers,
    jobs: Jobs,
) -> None:
    local_workers.spawn(iteration_s=0.05)
    before = Recorder()
    first = RedisQueue(server.url, key_prefix=prefix, poll_s=0.1)
    await first.start(before)
    item = jobs.item(iterations=30)
    waiting = jobs.item(iterations=2, owner_id=77)
    await first.put(item)
    await first.put(waiting)
    await before.wait(lambda: len(before.updates(item.job_id)) >= 2, what="the job to run")
    await first.close()  # the bot stops; the worker carries on

    after = Recorder()
    second = RedisQueue(server.url, key_prefix=prefix, poll_s=0.1)
    await second.start(after)
    try:
        await second.put(item)  # the ledger puts its active jobs again
        await second.put(waiting)
        assert item.job_id in second.running() or item.job_id in after.finished()
        await after.wait_finished([item.job_id, waiting.job_id])
        assert_once(after, [item.job_id, waiting.job_id])
        assert before.finished() == {}
        attempts = server.client().hget(f"{prefix}:job:{item.job_id}", "attempts")
        assert attempts == b"1", "the worker ran it once"
        # The result's image went with the event; the rest stays as the marker of a reported job.
        assert server.client().hget(f"{prefix}:result:{item.job_id}", "image") is None
    finally:
        await second.close()

    third = RedisQueue(server.url, key_prefix=prefix, poll_s=0.1)
    late = Recorder()
    await third.start(late)
    try:
        await third.put(item)  # a ledger that did not save the outcome puts it once more
        await asyncio.sleep(1.0)
        assert late.events == [] and third.waiting() == [] and third.running() == []
        assert server.client().hget(f"{prefix}:job:{item.job_id}", "attempts") == b"1"
    finally:
        await third.close()


async def test_a_stopping_worker_hands_its_job_back_without_counting_a_delivery(
    server: RedisServer,
    queue: RedisQueue,
    processes: WorkerProcesses,
    recorder: Recorder,
    jobs: Jobs,
) -> None:
    first = processes.spawn(iteration_s=0.05, reclaim_s=30.0, max_deliveries=1)
    await wait_until(lambda: queue.workers_online() == 1, 30, "the worker")
    item = jobs.item(iterations=60)
    await queue.put(item)
    await recorder.wait(lambda: len(recorder.updates(item.job_id)) >= 2, what="the job to run")
    second = processes.spawn(iteration_s=0.01, reclaim_s=30.0, max_deliveries=1)
    await wait_until(lambda: queue.workers_online() == 2, 30, "the second worker")
    [second_id] = [info.id for info in queue.workers() if info.pid == second.pid]
    stopped = time.monotonic()
    first.terminate()
    assert first.wait(10) == 0
    assert time.monotonic() - stopped < 5, "a stop takes a few seconds at most"
    # Taken at once (not after reclaim_after_s = 30 s), and not failed although max_deliveries is 1.
    await recorder.wait_finished([item.job_id], limit_s=15)
    assert isinstance(recorder.finished()[item.job_id][0].outcome, WorkResult)
    assert "handed back" in processes.log(0)
    # Once its handed-back job is taken over, the stopped worker's name leaves the group as a dead one's does.
    client = server.client()
    await wait_until(
        lambda: [c["name"] for c in client.xinfo_consumers(queue.keys.jobs, WORKERS_GROUP)] == [second_id.encode()],
        10,
        "the stopped worker to leave the group",
    )
