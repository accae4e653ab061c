"""How a worker's events cross the events stream to the bot: started, progress (its preview as raw
bytes), an out-of-memory retry, finished (its outcome read from the result hash, `wire.outcome_fields`).
Each carries the job's attempt and the worker, so the bot can drop stale and repeated ones."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bot.queue.messages import (
    JobEvent,
    JobFinished,
    JobStarted,
    JobUpdated,
    Outcome,
    WorkProgress,
    WorkRetry,
    WorkUpdate,
)
from bot.queue.redis.wire.records import Fields, WireError, dump_json, known_fields, load_json, text_field

STARTED, PROGRESS, RETRY, FINISHED = "started", "progress", "retry", "finished"


@dataclass(frozen=True)
class Envelope:
    """An event as it crosses the events stream: which attempt of the job on which worker said it."""

    kind: str
    job_id: str
    worker: str
    attempt: int
    data: Fields

    def to_fields(self) -> Fields:
        return {
            b"kind": self.kind.encode(),
            b"job": self.job_id.encode(),
            b"worker": self.worker.encode(),
            b"attempt": str(self.attempt).encode(),
            **self.data,
        }


def envelope(kind: str, job_id: str, worker: str, attempt: int, update: WorkUpdate | None = None) -> Envelope:
    data: Fields = {}
    if isinstance(update, WorkProgress):
        meta = asdict(update)
        preview = meta.pop("preview")
        data[b"data"] = dump_json(meta)
        if preview is not None:
            data[b"preview"] = preview
    elif isinstance(update, WorkRetry):
        data[b"data"] = dump_json(asdict(update))
    return Envelope(kind, job_id, worker, attempt, data)


def parse_envelope(data: Fields) -> Envelope:
    try:
        attempt = int(text_field(data, "attempt"))
    except ValueError:
        raise WireError("bad attempt number") from None
    rest = {key: value for key, value in data.items() if key not in (b"kind", b"job", b"worker", b"attempt")}
    return Envelope(text_field(data, "kind"), text_field(data, "job"), text_field(data, "worker"), attempt, rest)


def update_from_envelope(env: Envelope) -> WorkUpdate:
    meta = load_json(env.data.get(b"data"))
    if env.kind == PROGRESS:
        return WorkProgress(**{**known_fields(WorkProgress, meta), "preview": env.data.get(b"preview")})
    if env.kind == RETRY:
        return WorkRetry(**meta)
    raise WireError(f"{env.kind!r} is not an update")


def event_from_envelope(env: Envelope, outcome: Outcome | None = None) -> JobEvent:
    """The bot's event for `env`; a finished envelope needs its outcome (read from the result hash)."""
    if env.kind == STARTED:
        return JobStarted(env.job_id, env.worker)
    if env.kind == FINISHED:
        if outcome is None:
            raise WireError("finished event without an outcome")
        return JobFinished(env.job_id, outcome)
    return JobUpdated(env.job_id, update_from_envelope(env))
