"""The worker's heartbeat file, for Docker's HEALTHCHECK on a worker container.

Same file format as the bot's (`bot.health`), so `bot.health.check` also reads it, with the Redis
connection in the place of the Discord gateway; `check_worker` words the reasons for a worker.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .beats import WorkerInfo


def write_worker_heartbeat(path: str | os.PathLike[str], info: WorkerInfo, *, engine_last_beat: float,
                           now: float | None = None) -> None:
    """Atomically replaces the file, so the healthcheck never reads half of it."""
    path = Path(path)
    beat = {
        "written_at": time.time() if now is None else now,
        "gateway_connected": info.redis_connected,  # read by bot.health.check
        "worker_last_beat": engine_last_beat,
        "role": "worker",
        "redis_connected": info.redis_connected,
        "worker": json.loads(info.to_json()),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            json.dump(beat, tmp)
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink()
        raise


def check_worker(path: str | os.PathLike[str], *, max_age_s: float, now: float | None = None) -> tuple[bool, str]:
    """Whether the worker is healthy per its heartbeat file, and a one-line reason.

    Unhealthy when the file is missing, unreadable or stale (the process is dead or its loop stuck),
    when Redis is unreachable, or when the engine thread last reported more than `max_age_s` ago.
    """
    now = time.time() if now is None else now
    try:
        beat = json.loads(Path(path).read_text(encoding="utf-8"))
        written_at = float(beat["written_at"])
        connected = beat["redis_connected"]
        engine_beat = float(beat["worker_last_beat"])
    except FileNotFoundError:
        return False, f"unhealthy: no heartbeat at {path} (the worker is not running or has not started yet)"
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return False, f"unhealthy: unreadable heartbeat at {path}: {exc!r}"
    if now - written_at > max_age_s:
        return False, f"unhealthy: heartbeat is {now - written_at:.0f}s old (limit {max_age_s:.0f}s)"
    if connected is not True:
        return False, "unhealthy: Redis is unreachable"
    if now - engine_beat > max_age_s:
        return False, f"unhealthy: the engine last reported {now - engine_beat:.0f}s ago (limit {max_age_s:.0f}s)"
    return True, "healthy: Redis connected, engine reporting"


def run_worker_healthcheck(heartbeat_path: str | os.PathLike[str], *, max_age_s: float,
                           out: TextIO | None = None) -> int:
    """The body of `stylebot healthcheck` for a worker: prints the reason; 0 healthy, 1 not."""
    healthy, reason = check_worker(heartbeat_path, max_age_s=max_age_s)
    print(reason, file=out or sys.stdout)
    return 0 if healthy else 1
