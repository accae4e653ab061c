"""`stylebot worker`'s body: one RedisWorker, with its engine thread, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.config import Config
from bot.queue.engine.thread import EngineThread, StyleEngine
from bot.queue.redis.wire.connection import redis_url
from bot.queue.redis.worker_side.redis_worker import RedisWorker

log = logging.getLogger("stylebot.broker.worker")


def run_worker(
    config: Config,
    *,
    device: str | None = None,
    engine: StyleEngine | None = None,
    threads: int | None = None,
    heartbeat_s: float = 1.0,
) -> int:
    """Serve jobs from `config.queue`'s Redis until SIGINT or SIGTERM; returns the exit code.

    `device` overrides `[engine] device` (e.g. one worker per GPU: cuda:0, cuda:1). `engine` is for
    tests; by default the real engine is built (importing PyTorch only here). `threads` caps the real
    engine's CPU threads (several CPU workers on one machine). A stop interrupts the running job and hands it
    back for another worker.
    """
    chosen = device or config.engine.device
    if engine is None:
        from stylecore.engine import Engine  # here, not at the top: only a worker needs PyTorch

        real = Engine(weights=config.engine.weights, device=chosen, precision=config.engine.precision, threads=threads)
        chosen, engine = real.device, real
    try:
        url = redis_url(config.queue)
    except OSError as exc:
        log.error("cannot read [queue] redis_url_file %s: %s", config.queue.redis_url_file, exc.strerror or exc)
        return 2
    worker = RedisWorker(
        url,
        EngineThread(engine, warm_up=config.engine.warm_up),
        device=chosen,
        key_prefix=config.queue.key_prefix,
        reclaim_after_s=config.queue.reclaim_after_s,
        max_deliveries=config.queue.max_deliveries,
        heartbeat_path=config.heartbeat_path,
        heartbeat_s=heartbeat_s,
    )
    return asyncio.run(_main(worker))


async def _main(worker: RedisWorker) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await worker.run(stop)
    return 0
