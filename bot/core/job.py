"""The job model: where a job stands, where its card lives, and what its card shows (its parameters: `params`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bot.core.params import JobParams, Rerun
from bot.queue.messages import WorkProgress, WorkResult
from stylecore.options import StyleOptions

JOB_ID_PATTERN = r"[0-9a-f]{8}"

Clock = Callable[[], float]
"""Wall-clock epoch seconds, as Discord sees them (simcord's virtual clock in tests): a job's times."""


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True)
class CardRef:
    """Where a job's card lives.

    First a follow-up message of the interaction, edited with the interaction token (valid 15
    minutes); later, once moved, a message the bot sent with its own token.
    """

    application_id: int
    token: str | None
    """None when the interaction card could not be posted and the card began in the channel."""
    message_id: int | None
    token_issued_at: float
    """Epoch seconds when the interaction (and so its token) was created."""
    moved_channel_id: int | None = None
    moved_message_id: int | None = None

    @property
    def moved(self) -> bool:
        return self.moved_message_id is not None


@dataclass(frozen=True)
class ResultInfo:
    """What the finished job's card reports, kept so the card can be redrawn after a restart."""

    seed: int
    iterations: int
    elapsed: float
    width: int
    height: int
    stopped: str
    device: str
    file_name: str
    size: int
    """The size actually used: smaller than asked when an out-of-memory retry shrank it."""
    bytes: int = 0
    """The result file's size, as the card reports it with its format."""
    timelapse_file: str | None = None
    frames: int = 1
    """A clip's frame count (the file is then MP4, GIF or WebP); 1 for a still image."""
    fit: str | None = None
    """What was done to fit the upload limit ("re-encoded at 288 px to fit 10 MiB"); None when nothing was."""

    @classmethod
    def of(cls, job: Job, result: WorkResult) -> ResultInfo:
        return cls(
            seed=result.options.seed or job.params.seed,
            iterations=result.iterations,
            elapsed=result.elapsed,
            width=result.width,
            height=result.height,
            stopped=result.stopped,
            device=result.device,
            file_name=f"stylized-{job.id}.{result.extension}",
            size=result.options.size,
            bytes=len(result.image),
            timelapse_file=f"timelapse-{job.id}.{result.timelapse[1]}" if result.timelapse else None,
            frames=result.frames,
            fit=result.fit,
        )


@dataclass
class Job:
    id: str
    owner_id: int
    guild_id: int | None
    channel_id: int
    params: JobParams
    content_name: str
    style_names: tuple[str, ...]
    created_at: float
    filesize_limit: int
    state: JobState = JobState.QUEUED
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    result: ResultInfo | None = None
    delivered: bool = False
    parent_id: str | None = None
    variant: Rerun | None = None
    cancelled_by: int | None = None
    card: CardRef | None = None
    seq: int | None = field(default=None, compare=False)
    """Submission order, assigned by the store."""


def new_job_id() -> str:
    return secrets.token_hex(4)


@dataclass(frozen=True)
class NewJob:
    """A job about to be accepted: who asked, where, with what. Inputs are bytes (uploads) or paths (re-runs)."""

    owner_id: int
    guild_id: int | None
    channel_id: int
    params: JobParams
    options: StyleOptions
    """The engine's options, made from `params` by the one check (`param_check.check_params`)."""
    content: bytes | Path
    content_name: str
    styles: tuple[bytes | Path, ...]
    style_names: tuple[str, ...]
    filesize_limit: int
    card: CardRef | None = None
    parent_id: str | None = None
    variant: Rerun | None = None
    init: Path | None = None
    """The image an upscale starts from: the parent's result."""


@dataclass(frozen=True)
class Snapshot:
    """Everything a job's card shows, as of one moment."""

    job: Job
    position: int | None = None
    """1-based place in the waiting line; None when not waiting."""
    eta: float | None = None
    """Seconds until the job is expected to finish."""
    progress: WorkProgress | None = None
    preview: bytes | None = None
    note: str | None = None
    """Something the owner should know: a retry at a smaller size, a move to another worker."""
    result: bytes | None = None
    restarted: bool = False
