"""Helpers for the Redis backend tests: an event recorder, jobs, worker processes and in-loop workers."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image
from redis_engines import SleepyEngine

from bot.queue.engine.thread import EngineThread
from bot.queue.messages import JobEvent, JobFinished, JobStarted, JobUpdated, WorkItem
from bot.queue.redis.worker_side.redis_worker import RedisWorker
from stylecore.options import StyleOptions

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WAIT_S = 60.0


class Recorder:
    """A JobEvents that keeps every event, with helpers to wait for some."""

    def __init__(self) -> None:
        self.events: list[JobEvent] = []
        self.changed = asyncio.Event()

    async def on_event(self, event: JobEvent) -> None:
        self.events.append(event)
        self.changed.set()

    def finished(self) -> dict[str, list[JobFinished]]:
        out: dict[str, list[JobFinished]] = {}
        for event in self.events:
            if isinstance(event, JobFinished):
                out.setdefault(event.job_id, []).append(event)
        return out

    def started(self, job_id: str) -> list[JobStarted]:
        return [e for e in self.events if isinstance(e, JobStarted) and e.job_id == job_id]

    def updates(self, job_id: str) -> list[JobUpdated]:
        return [e for e in self.events if isinstance(e, JobUpdated) and e.job_id == job_id]

    def start_order(self) -> list[str]:
        order: list[str] = []
        for event in self.events:
            if isinstance(event, JobStarted) and event.job_id not in order:
                order.append(event.job_id)
        return order

    async def wait(self, condition: Callable[[], bool], limit_s: float = WAIT_S, what: str = "condition") -> None:
        deadline = time.monotonic() + limit_s
        while not condition():
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {what}; events: {self.summary()}"
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.2))

    async def wait_finished(self, job_ids: list[str], limit_s: float = WAIT_S) -> None:
        await self.wait(lambda: set(job_ids) <= set(self.finished()), limit_s, f"{len(job_ids)} jobs to finish")

    def summary(self) -> str:
        return ", ".join(f"{type(e).__name__}({e.job_id})" for e in self.events if not isinstance(e, JobUpdated))


def png(width: int = 48, height: int = 32, colour: tuple[int, int, int] = (200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


class Jobs:
    """Makes WorkItems whose images are real files (the bot's store), 8-hex ids like the bot's."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.content = folder / "content.png"
        self.content.write_bytes(png())
        self.style = folder / "style.png"
        self.style.write_bytes(png(32, 32, (30, 60, 220)))

    def item(
        self,
        *,
        guild_id: int | None = 1,
        owner_id: int = 10,
        size: int = 32,
        iterations: int = 5,
        seed: int = 1,
        job_id: str | None = None,
        init: Path | None = None,
        content: Path | None = None,
        max_frames: int = 1,
    ) -> WorkItem:
        options = StyleOptions(
            size=size,
            iterations=iterations,
            multiscale=False,
            seed=seed,
            progress_every=1,
            preview_every=max(1, iterations // 2),
        ).validated()
        return WorkItem(
            job_id=job_id or secrets.token_hex(4),
            content=content or self.content,
            styles=(self.style,),
            options=options,
            max_result_bytes=8 * 1024 * 1024,
            max_pixels=25_000_000,
            guild_id=guild_id,
            owner_id=owner_id,
            init=init,
            max_frames=max_frames,
        )


class WorkerProcesses:
    """`stylebot worker` processes (tests/redis/worker_proc.py), stopped at the end of the test."""

    def __init__(self, folder: Path, url: str, prefix: str) -> None:
        self.folder = folder
        self.url = url
        self.prefix = prefix
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(
        self, *, engine: str = "sleepy", iteration_s: float = 0.01, reclaim_s: float = 2.0, max_deliveries: int = 3
    ) -> subprocess.Popen[bytes]:
        index = len(self.processes)
        data = self.folder / f"worker{index}"
        data.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]), "OMP_NUM_THREADS": "1"}
        log = (self.folder / f"worker{index}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "worker_proc.py"),
                self.url,
                self.prefix,
                "--engine",
                engine,
                "--iteration-s",
                str(iteration_s),
                "--reclaim-s",
                str(reclaim_s),
                "--max-deliveries",
                str(max_deliveries),
                "--data-dir",
                str(data),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def log(self, index: int) -> str:
        return (self.folder / f"worker{index}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


class LocalWorkers:
    """RedisWorkers with the sleepy engine as tasks of the test's own loop: fast, for the tests
    where process boundaries are not the point."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.running: list[tuple[RedisWorker, asyncio.Event, asyncio.Task[None]]] = []

    def spawn(
        self, *, iteration_s: float = 0.01, reclaim_s: float = 2.0, max_deliveries: int = 3, backoff_cap_s: float = 0.5
    ) -> RedisWorker:
        worker = RedisWorker(
            self.url,
            EngineThread(SleepyEngine(iteration_s)),
            device="sleepy",
            key_prefix=self.prefix,
            reclaim_after_s=reclaim_s,
            max_deliveries=max_deliveries,
            heartbeat_s=0.2,
            backoff_cap_s=backoff_cap_s,
        )
        stop = asyncio.Event()
        self.running.append((worker, stop, asyncio.create_task(worker.run(stop))))
        return worker

    async def stop_all(self) -> None:
        for _, stop, _ in self.running:
            stop.set()
        for _, _, task in self.running:
            await asyncio.wait_for(task, 20)
