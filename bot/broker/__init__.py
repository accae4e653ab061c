"""The Redis backend of the job queue: `RedisQueue` (bot side) and `run_worker` (`stylebot worker`).

Importing this package does not import PyTorch: only `worker_main.run_worker` builds an engine.
"""

from __future__ import annotations

from bot.broker.beats import WorkerInfo
from bot.broker.connection import masked, redis_url
from bot.broker.queue import UNAVAILABLE, RedisQueue

__all__ = ["UNAVAILABLE", "RedisQueue", "WorkerInfo", "masked", "redis_url"]
