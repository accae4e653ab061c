"""A worker's heartbeat record: who it is, what it does, and its counters (for the bot's metrics)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

IDLE, BUSY, STOPPING = "idle", "busy", "stopping"


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    device: str
    state: str
    """IDLE, BUSY or STOPPING."""
    job: str | None
    """The job it runs now."""
    beat_at: float
    """Wall-clock time of this beat (epoch seconds)."""
    started_at: float
    jobs_done: int = 0
    """Jobs it finished (any outcome), counted once each."""
    jobs_failed: int = 0
    iterations: int = 0
    busy_s: float = 0.0
    """Seconds spent running jobs: with `jobs_done`, the mean job duration."""
    last_job_s: float | None = None
    redis_connected: bool = True

    @property
    def name(self) -> str:
        """How the bot names the worker on a job's card (JobStarted.worker)."""
        return f"{self.host} ({self.device}, {self.id})"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> WorkerInfo:
        data: dict[str, Any] = json.loads(raw)
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})
