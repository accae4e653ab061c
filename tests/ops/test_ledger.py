"""The ledger alone: no Discord at all. A real store on disk, a queue double through the `JobQueue` seam."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Config
from bot.core.job import Job, JobState, NewJob, Snapshot
from bot.core.ledger import SAVE_BOUND_S, Ledger
from bot.core.params import EngineSettings, JobParams
from bot.core.store import Store
from bot.ops.metrics import Metrics
from bot.queue.interface import QueueUnavailable
from bot.queue.messages import (
    JobFinished,
    JobStarted,
    JobUpdated,
    WorkCancelled,
    WorkFailed,
    WorkItem,
    WorkProgress,
    WorkResult,
    WorkRetry,
)
from stylecore.options import StyleOptions
from tests.full_disk import Disk, FullDiskStore

PARAMS = JobParams(
    size=64, iterations=10, style_strength=1.0, optimizer="lbfgs", learning_rate=None, preserve_colors="none", seed=7
)
ENGINE = EngineSettings.of(Config())


class Queue:
    """A JobQueue that only records: the test plays the worker by sending events itself."""

    def __init__(self) -> None:
        self.items: list[WorkItem] = []
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.refuse = False

    async def start(self, events: object) -> None: ...

    async def close(self) -> None: ...

    def check_payload(self, images: object) -> None: ...

    async def put(self, item: WorkItem) -> None:
        if self.refuse:
            raise QueueUnavailable("The job queue is unavailable right now; please try again in a minute.")
        self.items.append(item)

    async def cancel(self, job_id: str) -> bool:
        self.cancelled.append(job_id)
        return job_id in self.started

    def waiting(self) -> list[str]:
        return [item.job_id for item in self.items if item.job_id not in self.started + self.cancelled]

    def running(self) -> list[str]:
        return [job_id for job_id in self.started if job_id not in self.cancelled]

    def workers_online(self) -> int:
        return 1

    def available(self) -> bool:
        return not self.refuse

    @property
    def worker_last_beat(self) -> float:
        return 0.0


class Listener:
    def __init__(self) -> None:
        self.announced: list[str] = []
        self.changed: list[str] = []
        self.ended: list[Snapshot] = []

    async def job_announced(self, job_id: str) -> None:
        self.announced.append(job_id)

    def job_changed(self, job_id: str, *, force: bool = False) -> None:
        self.changed.append(job_id)

    def job_ended(self, final: Snapshot) -> None:
        self.ended.append(final)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def parts(tmp_path: Path):
    store = Store(tmp_path, "test.sqlite3")
    await store.open()
    queue, listener, clock, metrics = Queue(), Listener(), Clock(), Metrics()
    ledger = Ledger(ENGINE, store, queue, metrics, clock=clock)
    ledger.listeners.append(listener)
    yield ledger, store, queue, listener, clock, metrics
    await store.close()


def new_job(owner: int = 1, guild: int | None = 10) -> NewJob:
    return NewJob(
        owner_id=owner,
        guild_id=guild,
        channel_id=20,
        params=PARAMS,
        options=ENGINE.options(PARAMS),
        content=b"content bytes",
        content_name="cat.png",
        styles=(b"style bytes",),
        style_names=("s.png",),
        filesize_limit=10**6,
    )


async def queued(ledger: Ledger, new: NewJob | None = None) -> Job:
    """A job as intake leaves it: accepted, its card announced, handed to the queue."""
    job = await ledger.accept(new or new_job())
    await ledger.announce(job.id)
    await ledger.enqueue(job.id)
    return job


def sample(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    return 0.0 if value is None else value


def result(image: bytes = b"\x89PNG result") -> WorkResult:
    return WorkResult(
        image,
        "png",
        64,
        43,
        StyleOptions(size=64, seed=7),
        10,
        2.5,
        "finished",
        "cpu",
        timelapse=(b"RIFF timelapse", "webp"),
    )


async def test_a_job_is_persisted_announced_queued_run_and_handed_over_when_it_ends(parts):
    ledger, store, queue, listener, clock, metrics = parts

    job = await ledger.accept(new_job())
    assert (await store.job(job.id)).state is JobState.QUEUED
    assert store.files.content_path(job).read_bytes() == b"content bytes"
    assert listener.changed == []  # nothing is told before the job is announced
    await ledger.announce(job.id)
    await ledger.enqueue(job.id)
    [item] = queue.items
    assert (item.job_id, item.content, item.guild_id, item.owner_id) == (job.id, store.files.content_path(job), 10, 1)
    assert item.options.size == 64 and item.options.seed == 7 and item.init is None
    assert listener.announced == [job.id] and ledger.position(job.id) == 1

    clock.now += 5
    queue.started.append(job.id)
    await ledger.on_event(JobStarted(job.id, "host (cpu)"))
    assert (await store.job(job.id)).started_at == 1_005.0
    assert sample(metrics, "stylebot_jobs_running") == 1.0
    await ledger.on_event(JobUpdated(job.id, WorkProgress(4, 10, 0, 1, 64, 43, 1.0, 1.5, preview=b"jpeg")))
    snapshot = ledger.snapshot(job.id)
    assert snapshot.progress.iteration == 4 and snapshot.preview == b"jpeg" and snapshot.eta == 1.5
    assert sample(metrics, "stylebot_iterations_total") == 4.0

    await ledger.on_event(JobFinished(job.id, result()))

    [final] = listener.ended
    assert final.job.state is JobState.DONE and final.result == b"\x89PNG result"
    assert final.job.result.timelapse_file == f"timelapse-{job.id}.webp"
    assert final.job.result.bytes == len(b"\x89PNG result")
    assert store.files.result_path(final.job).read_bytes() == b"\x89PNG result"  # on disk before the card is shown
    assert store.files.timelapse_path(final.job).read_bytes() == b"RIFF timelapse"
    assert ledger.snapshot(job.id) is None and (await store.job(job.id)).state is JobState.DONE
    assert metrics.registry.get_sample_value("stylebot_jobs_finished_total", {"outcome": "done"}) == 1.0


async def test_a_snapshot_is_a_copy_that_later_changes_do_not_touch(parts):
    ledger, _, queue, _, _, _ = parts
    job = await queued(ledger)
    before = ledger.snapshot(job.id)

    queue.started.append(job.id)
    await ledger.on_event(JobStarted(job.id, "w"))

    assert before.job.state is JobState.QUEUED and ledger.snapshot(job.id).job.state is JobState.RUNNING


async def test_a_retry_and_a_move_to_another_worker_restart_the_count_and_say_so(parts):
    ledger, _, queue, _, _, metrics = parts
    job = await queued(ledger)
    queue.started.append(job.id)
    await ledger.on_event(JobStarted(job.id, "gpu box"))
    await ledger.on_event(JobUpdated(job.id, WorkProgress(6, 10, 0, 1, 64, 43, 3.0, 2.0)))

    await ledger.on_event(JobUpdated(job.id, WorkRetry(64, 48)))
    assert ledger.snapshot(job.id).note == "The GPU ran out of memory at 64 px; retrying at 48 px."
    await ledger.on_event(JobUpdated(job.id, WorkProgress(2, 10, 0, 1, 48, 32, 1.0, 4.0)))
    await ledger.on_event(JobStarted(job.id, "other box"))

    snapshot = ledger.snapshot(job.id)
    assert snapshot.note.startswith("Moved to another worker") and snapshot.progress is None
    assert sample(metrics, "stylebot_iterations_total") == 8.0  # 6, then 2 of the retry, none repeated
    assert sample(metrics, "stylebot_jobs_running") == 1.0  # a move is not a second start


async def test_cancel_waiting_and_running_jobs_and_ignore_late_events(parts):
    ledger, store, queue, listener, _, metrics = parts
    waiting = await queued(ledger, new_job(owner=1))
    running = await queued(ledger, new_job(owner=2))
    queue.started.append(running.id)
    await ledger.on_event(JobStarted(running.id, "w"))

    assert await ledger.cancel(waiting.id, by=99) is JobState.CANCELLED
    assert (await store.job(waiting.id)).cancelled_by == 99
    await ledger.on_event(JobStarted(waiting.id, "w"))  # a late event for an ended job changes nothing
    assert ledger.snapshot(waiting.id) is None

    task = asyncio.ensure_future(ledger.cancel(running.id, by=2))  # waits for the worker to stop
    await asyncio.sleep(0)
    await ledger.on_event(JobFinished(running.id, WorkCancelled()))
    assert await task is JobState.CANCELLED
    assert [final.job.state for final in listener.ended] == [JobState.CANCELLED, JobState.CANCELLED]
    assert metrics.registry.get_sample_value("stylebot_jobs_finished_total", {"outcome": "cancelled"}) == 2.0


async def test_a_failure_and_a_refusing_queue_end_the_job_with_their_reason(parts):
    ledger, store, queue, listener, _, _ = parts
    failing = await queued(ledger)
    queue.started.append(failing.id)
    await ledger.on_event(JobStarted(failing.id, "w"))
    await ledger.on_event(JobFinished(failing.id, WorkFailed("The style engine failed: boom.")))
    assert (await store.job(failing.id)).error == "The style engine failed: boom."

    queue.refuse = True
    refused = await ledger.accept(new_job(owner=3))
    await ledger.enqueue(refused.id)

    stored = await store.job(refused.id)
    assert stored.state is JobState.FAILED and stored.error.startswith("The job queue is unavailable")
    assert [final.job.id for final in listener.ended] == [failing.id]  # never announced: no card


def test_the_ledger_imports_no_discord():
    code = "import sys, bot.core.ledger; print('discord' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.strip() == "False"


async def test_the_options_intake_made_are_the_ones_queued(parts):
    ledger, _, queue, _, _, _ = parts
    new = new_job()

    await queued(ledger, new)

    assert queue.items[0].options is new.options  # made once, by the one check, not again here


async def test_resume_queues_the_last_runs_jobs_an_interrupted_one_first_and_fails_one_no_longer_valid(parts):
    ledger, store, queue, listener, _, metrics = parts
    waiting = await ledger.accept(new_job(owner=1))
    running = await ledger.accept(new_job(owner=2))
    bad = await ledger.accept(replace(new_job(owner=3), params=replace(PARAMS, learning_rate=-1.0)))
    # As the last run left them: one was running (its state set by that run's ledger, through the store).
    running.state, running.started_at = JobState.RUNNING, 1_001.0
    await store.save_job(running)
    restarted = Ledger(ENGINE, store, queue, metrics, clock=ledger.clock)
    restarted.listeners.append(listener)

    await restarted.resume()

    assert [item.job_id for item in queue.items] == [running.id, waiting.id]
    assert queue.items[0].options == ENGINE.options(PARAMS)  # made again for this run
    assert (await store.job(running.id)).state is JobState.QUEUED
    assert (await store.job(running.id)).started_at is None
    failed = await store.job(bad.id)
    assert failed.state is JobState.FAILED
    assert failed.error == "The job's options are not valid: learning rate must be a positive number, not -1.0."
    assert [final.job.id for final in listener.ended] == [bad.id]  # its card says so
    assert restarted.snapshot(running.id).restarted and restarted.position(running.id) == 1


@pytest.fixture
async def full_disk(tmp_path: Path):
    store = FullDiskStore(tmp_path, "test.sqlite3", disk=Disk(failures=3))
    await store.open()
    queue, listener, clock = Queue(), Listener(), Clock()
    ledger = Ledger(ENGINE, store, queue, Metrics(), clock=clock)
    ledger.listeners.append(listener)
    job = await queued(ledger)
    queue.started.append(job.id)
    await ledger.on_event(JobStarted(job.id, "w"))
    yield ledger, store, listener, clock, job
    await store.close()


async def test_a_result_whose_save_fails_is_not_taken_and_its_job_ends_done_once_when_the_disk_has_room(full_disk):
    ledger, store, listener, clock, job = full_disk

    for _ in range(3):
        clock.now += 60
        with pytest.raises(OSError, match="No space left on device"):
            await ledger.on_event(JobFinished(job.id, result()))
        # Not taken: still running here and in the database, its owner's slot held, its card saying why.
        snapshot = ledger.snapshot(job.id)
        assert snapshot.job.state is JobState.RUNNING and snapshot.job.result is None
        assert (
            snapshot.note == "Finished, but the result could not be saved yet (No space left on device); trying again."
        )
        assert [j.id for j in ledger.user_jobs(1)] == [job.id] and listener.ended == []
        assert (await store.job(job.id)).state is JobState.RUNNING

    await ledger.on_event(JobFinished(job.id, result()))  # the queue offers it again: the disk has room now

    [final] = listener.ended
    assert final.job.state is JobState.DONE and final.result == b"\x89PNG result"
    assert final.note is None  # the Done card does not say it waited
    assert (await store.job(job.id)).state is JobState.DONE
    assert store.files.result_path(final.job).read_bytes() == b"\x89PNG result"
    assert ledger.user_jobs(1) == []
    await ledger.on_event(JobFinished(job.id, result()))  # offered once more (a duplicate): nothing changes
    assert len(listener.ended) == 1


async def test_a_save_failing_past_the_bound_ends_the_job_failed_and_frees_its_owners_slot(full_disk, caplog):
    ledger, store, listener, clock, job = full_disk
    store.disk.failures = 10**6

    with pytest.raises(OSError):
        await ledger.on_event(JobFinished(job.id, result()))
    clock.now += SAVE_BOUND_S - 1
    with pytest.raises(OSError):
        await ledger.on_event(JobFinished(job.id, result()))
    clock.now += 1

    await ledger.on_event(JobFinished(job.id, result()))  # taken: the ledger gave up

    [final] = listener.ended
    assert final.job.state is JobState.FAILED and final.result is None
    assert final.job.error == (
        "The result was made, but the bot could not save it for 30 minutes (No space left on device), "
        "so the job was stopped. Please try again later."
    )
    assert ledger.user_jobs(1) == [] and ledger.snapshot(job.id) is None
    assert "giving up" in caplog.text
    assert (await store.job(job.id)).state is JobState.RUNNING  # the disk is still full: the next start runs it again
