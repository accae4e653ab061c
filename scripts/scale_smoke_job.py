"""One real job through Redis, for scripts/docker-scale-smoke.sh: run it inside the bot's container.

    docker compose exec -T stylebot python - --iterations 5 < scripts/scale_smoke_job.py

It plays the bot's side of the Redis backend (`bot.queue.redis.bot_side.redis_queue.RedisQueue`, as bench/scale.py and
tests/redis do) with the container's own configuration (config.toml plus its STYLEBOT_* variables):
it puts one WorkItem with two tiny generated images and reports what happens to the job, one line
per event on stdout (the shell script waits for these lines), until a result comes back.

Only one process may read the events stream as the bot: the bot in the same container starts its
queue once it has logged in to Discord, which it cannot do where the smoke test runs (the shell
script checks that the bot holds no Redis connection before the first job).

Exit status: 0 once a WorkResult came back, 1 on any other outcome or after --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from bot.config import load_config
from bot.queue.messages import JobEvent, JobFinished, JobStarted, JobUpdated, WorkItem, WorkProgress, WorkResult
from bot.queue.redis.bot_side.redis_queue import RedisQueue
from bot.queue.redis.wire.connection import masked, redis_url
from stylecore.options import StyleOptions


def say(line: str) -> None:
    print(line, flush=True)


class Watcher:
    """A JobEvents that reports each event of the one job and keeps its finish."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.worker = "?"
        self.finished: JobFinished | None = None
        self.done = asyncio.Event()

    async def on_event(self, event: JobEvent) -> None:
        if event.job_id != self.job_id:
            say(f"ignored an event of another job: {event!r:.120}")
            return
        if isinstance(event, JobStarted):
            self.worker = event.worker
            say(f"started {event.job_id} on {event.worker}")
        elif isinstance(event, JobUpdated) and isinstance(event.update, WorkProgress):
            update = event.update
            say(f"progress {event.job_id} {update.iteration}/{update.total} on {self.worker}")
        elif isinstance(event, JobFinished):
            self.finished = event
            self.done.set()


def make_item(folder: Path, *, size: int, iterations: int) -> WorkItem:
    """A job like one the bot queues: its images are files (the bot's store), its id 8 hex digits."""
    content = folder / "content.png"
    Image.linear_gradient("L").resize((size, size * 3 // 4)).convert("RGB").save(content)
    style = folder / "style.png"
    Image.merge("RGB", [Image.radial_gradient("L").resize((size, size))] * 3).save(style)
    options = StyleOptions(
        size=size,
        iterations=iterations,
        multiscale=False,
        progress_every=max(1, iterations // 10),
        preview_every=max(1, iterations // 2),
    ).validated()
    return WorkItem(
        job_id=secrets.token_hex(4),
        content=content,
        styles=(style,),
        options=options,
        max_result_bytes=8 << 20,
        max_pixels=25_000_000,
        guild_id=1,
        owner_id=1,
    )


async def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    settings = config.queue
    if settings.backend != "redis":
        say(f"FAIL: [queue] backend is {settings.backend!r} in this container, not 'redis'")
        return 1
    url = redis_url(settings)
    say(f"queue: Redis at {masked(url)}, prefix {settings.key_prefix!r}")
    with tempfile.TemporaryDirectory() as folder:
        item = make_item(Path(folder), size=args.size, iterations=args.iterations)
        watcher = Watcher(item.job_id)
        queue = RedisQueue(url, key_prefix=settings.key_prefix, poll_s=0.2)
        await queue.start(watcher)
        began = time.monotonic()
        try:
            await queue.put(item)
            say(f"queued {item.job_id}: {args.size} px, {args.iterations} iterations")
            try:
                await asyncio.wait_for(watcher.done.wait(), args.timeout)
            except TimeoutError:
                say(f"FAIL: job {item.job_id} did not finish in {args.timeout:g} s")
                return 1
        finally:
            await queue.close()
    took = time.monotonic() - began
    assert watcher.finished is not None
    outcome = watcher.finished.outcome
    if not isinstance(outcome, WorkResult):
        say(f"FAIL: job {item.job_id} ended with {outcome!r:.200}")
        return 1
    say(
        f"result {item.job_id}: {outcome.width}x{outcome.height} {outcome.extension}, {len(outcome.image)} bytes, "
        f"{outcome.iterations} iterations on {outcome.device} ({outcome.elapsed:.1f} s on the worker, "
        f"{took:.1f} s from put to result)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", default="/config/config.toml")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the result")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
