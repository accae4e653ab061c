"""The worker's heartbeat file, for Docker's HEALTHCHECK on a worker container: `bot.ops.health`'s format."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from bot.ops.health import write_heartbeat

if TYPE_CHECKING:
    from bot.broker.beats import WorkerInfo


def write_worker_heartbeat(
    path: str | os.PathLike[str], info: WorkerInfo, *, engine_last_beat: float, now: float | None = None
) -> None:
    """The worker's beat: Redis in the place of the bot's Discord connection, its counters as details."""
    write_heartbeat(
        path,
        gateway_connected=info.redis_connected,
        worker_last_beat=engine_last_beat,
        now=now,
        role="worker",
        details=json.loads(info.to_json()),
    )
