"""A `stylebot worker` process for the tests: `python tests/redis/worker_proc.py URL PREFIX ...`.

It goes through `bot.queue.redis.worker_side.process.run_worker`, the function `stylebot worker` calls, with the
real engine (one torch thread) or the sleepy stand-in.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot.config import Config
from bot.queue.redis.worker_side.process import run_worker


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("--engine", choices=("real", "sleepy"), default="sleepy")
    parser.add_argument("--iteration-s", type=float, default=0.01)
    parser.add_argument("--reclaim-s", type=float, default=2.0)
    parser.add_argument("--max-deliveries", type=int, default=3)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(process)d %(levelname)s %(message)s")
    # Tests build the Config directly: reclaim_after_s below the config file's minimum of 5 s keeps them fast.
    config = Config().with_values(
        queue={
            "backend": "redis",
            "redis_url": args.url,
            "key_prefix": args.prefix,
            "reclaim_after_s": args.reclaim_s,
            "max_deliveries": args.max_deliveries,
        },
        engine={"device": "cpu", "warm_up": False, "multiscale": False},
        storage={"data_dir": args.data_dir},
    )
    engine = None
    if args.engine == "sleepy":
        from redis_engines import SleepyEngine

        engine = SleepyEngine(args.iteration_s)
    # One torch thread: two workers share this machine's two cores.
    return run_worker(config, device="cpu", engine=engine, threads=1 if engine is None else None, heartbeat_s=0.5)


if __name__ == "__main__":
    sys.exit(main())
