"""`stylebot worker`: run one RedisWorker until SIGINT/SIGTERM. Also `python -m bot.broker.worker_main`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING

from ..config import Config, ConfigError, load_config
from ..worker import EngineWorker, StyleEngine
from .connection import redis_url
from .worker import RedisWorker

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger("stylebot.broker.worker")


def run_worker(config: Config, *, device: str | None = None, engine: StyleEngine | None = None,
               heartbeat_s: float = 1.0) -> int:
    """Serve jobs from `config.queue`'s Redis until SIGINT or SIGTERM; returns the exit code.

    `device` overrides `[engine] device` (e.g. one worker per GPU: cuda:0, cuda:1). `engine` is for
    tests; by default the real engine is built (importing PyTorch only here). A stop interrupts the
    running job and hands it back for another worker.
    """
    chosen = device or config.engine.device
    if engine is None:
        from stylecore.engine import Engine  # here, not at the top: only a worker needs PyTorch

        real = Engine(weights=config.engine.weights, device=chosen, precision=config.engine.precision)
        chosen, engine = real.device, real
    try:
        url = redis_url(config.queue)
    except OSError as exc:
        log.error("cannot read [queue] redis_url_file %s: %s", config.queue.redis_url_file, exc.strerror or exc)
        return 2
    worker = RedisWorker(
        url, EngineWorker(engine, warm_up=config.engine.warm_up), device=chosen, key_prefix=config.queue.key_prefix,
        reclaim_after_s=config.queue.reclaim_after_s, max_deliveries=config.queue.max_deliveries,
        heartbeat_path=config.heartbeat_path, heartbeat_s=heartbeat_s,
    )
    return asyncio.run(_main(worker))


async def _main(worker: RedisWorker) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await worker.run(stop)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stylebot worker", description="Run jobs from the bot's Redis queue.")
    parser.add_argument("--config", required=True, help="the bot's config.toml")
    parser.add_argument("--device", default=None, help="override [engine] device, e.g. cuda:1")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"stylebot worker: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.bot.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_worker(config, device=args.device)


if __name__ == "__main__":
    sys.exit(main())
