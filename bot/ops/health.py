"""Liveness through a heartbeat file: the bot writes it, `stylebot healthcheck` (Docker's HEALTHCHECK) reads it.

The healthcheck runs as a separate process, so the state travels through a small JSON file on the
data volume. The bot's event loop writes it every interval with the gateway state and the time
the worker thread last reported; all times are wall-clock epoch seconds (`time.time()`), which
both processes share.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

Role = Literal["bot", "worker"]
#: How each kind of process words its connection: the bot needs Discord, a Redis worker needs Redis.
#: (its connection down, healthy, the process, the thread that must keep reporting)
WORDS: dict[Role, tuple[str, str, str, str]] = {
    "bot": ("the Discord gateway connection is down", "gateway connected, worker reporting", "the bot", "the worker"),
    "worker": ("Redis is unreachable", "Redis connected, engine reporting", "the worker", "the engine"),
}


def write_heartbeat(
    path: str | os.PathLike[str],
    *,
    gateway_connected: bool,
    worker_last_beat: float,
    now: float | None = None,
    role: Role = "bot",
    details: dict[str, Any] | None = None,
) -> None:
    """Atomically replaces the heartbeat file, so a reader never sees a half-written one.

    `gateway_connected` is the connection the process depends on: Discord's gateway for the bot,
    Redis for a worker (`role`). `details` are written along for people reading the file.
    """
    path = Path(path)
    beat = {
        "written_at": time.time() if now is None else now,
        "role": role,
        "gateway_connected": gateway_connected,
        "worker_last_beat": worker_last_beat,
        **({"details": details} if details else {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            json.dump(beat, tmp)
        os.replace(tmp_name, path)
    except BaseException:
        os.unlink(tmp_name)
        raise


class HeartbeatSource(Protocol):
    """What the heartbeat reports; the bot (`bot.app.StyleBot`) provides both."""

    @property
    def gateway_connected(self) -> bool: ...

    @property
    def worker_last_beat(self) -> float: ...


def heartbeat_writer(path: str | os.PathLike[str]) -> Callable[[HeartbeatSource], Awaitable[None]]:
    """A hook for the bot's heartbeat loop (`StyleBot.heartbeat_hook`) that writes `path` on each call."""

    async def write(source: HeartbeatSource) -> None:
        # A few dozen bytes to a local file: quick enough to do on the event loop.
        write_heartbeat(path, gateway_connected=source.gateway_connected, worker_last_beat=source.worker_last_beat)

    return write


def check(path: str | os.PathLike[str], *, max_age_s: float, now: float | None = None) -> tuple[bool, str]:
    """Whether the bot (or a worker) is healthy according to its heartbeat file, and a one-line reason.

    Unhealthy when the file is missing, unreadable or older than `max_age_s` (the process's loop is
    dead or stuck), when its connection is down (Discord for the bot, Redis for a worker), or when
    the engine thread last reported more than `max_age_s` ago (dead or stuck).
    """
    now = time.time() if now is None else now
    try:
        beat = json.loads(Path(path).read_text(encoding="utf-8"))
        written_at = float(beat["written_at"])
        gateway_connected = beat["gateway_connected"]
        worker_last_beat = float(beat["worker_last_beat"])
        down, healthy, process, thread = WORDS[beat.get("role", "bot")]
    except FileNotFoundError:
        return False, f"unhealthy: no heartbeat at {path} (not running, or not connected yet)"
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return False, f"unhealthy: unreadable heartbeat at {path}: {exc!r}"

    if now - written_at > max_age_s:
        return False, f"unhealthy: {process}'s heartbeat is {now - written_at:.0f}s old (limit {max_age_s:.0f}s)"
    if gateway_connected is not True:
        return False, f"unhealthy: {down}"
    if now - worker_last_beat > max_age_s:
        return False, (f"unhealthy: {thread} last reported {now - worker_last_beat:.0f}s ago (limit {max_age_s:.0f}s)")
    return True, f"healthy: {healthy}"


def run_healthcheck(
    heartbeat_path: str | os.PathLike[str],
    *,
    max_age_s: float,
    out: TextIO | None = None,
) -> int:
    """The body of `stylebot healthcheck` (bot or worker): prints the reason, returns 0 if healthy and 1 if not
    (Docker's codes)."""
    healthy, reason = check(heartbeat_path, max_age_s=max_age_s)
    print(reason, file=out or sys.stdout)
    return 0 if healthy else 1
