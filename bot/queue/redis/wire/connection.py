"""Connecting to Redis: the URL (from the config or a secret file), with its password masked in logs, and backoff."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    import logging
    from collections.abc import Awaitable

    from bot.config import QueueConfig

#: Errors that mean "the server is unreachable or went away", as opposed to a bug or a bad command.
DOWN_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


def redis_url(config: QueueConfig) -> str:
    """The URL to use: `redis_url_file`'s first line when set (a Docker secret), else `redis_url`."""
    if config.redis_url_file:
        return Path(config.redis_url_file).read_text(encoding="utf-8").strip()
    return config.redis_url


def masked(url: str) -> str:
    """`url` with its password replaced by ***, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def connect(url: str, *, timeout_s: float = 5.0) -> aioredis.Redis:
    """A client that fails fast instead of retrying inside redis-py: our loops own retrying and logging it."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=False,
        socket_connect_timeout=timeout_s,
        socket_timeout=None,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


@dataclass
class Backoff:
    """Capped exponential backoff with jitter; logs one line per attempt, never a traceback."""

    log: logging.Logger
    what: str
    base_s: float = 0.2
    cap_s: float = 10.0
    attempt: int = field(default=0, init=False)

    def failed(self, exc: BaseException) -> float:
        """Count a failed attempt; returns how long to wait before the next."""
        self.attempt += 1
        # Jitter, so that a fleet of workers does not hammer a restarting server in step.
        delay: float = min(self.cap_s, self.base_s * 2 ** (self.attempt - 1)) * random.uniform(0.8, 1.0)
        self.log.warning(
            "%s: Redis unreachable (attempt %d: %s); retrying in %.1f s",
            self.what,
            self.attempt,
            first_line(exc),
            delay,
        )
        return delay

    def succeeded(self) -> None:
        if self.attempt:
            self.log.info("%s: Redis reachable again after %d failed attempt(s)", self.what, self.attempt)
        self.attempt = 0


def first_line(exc: BaseException) -> str:
    """The error's first line, short enough for a log line."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


async def create_group(creating: Awaitable[Any]) -> None:
    """Await an XGROUP CREATE: the bot and every worker create the groups they use, so one may exist already."""
    try:
        await creating
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
