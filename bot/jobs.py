"""The job model: what a user asked for, where it stands, where its card lives, and what its card shows."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from stylecore.options import ColorMode, OptimizerName, StyleOptions

from .limits import ADAM_DEFAULTS, MAX_SEED, PREVIEW_TICKS, PROGRESS_TICKS, STYLE_STRENGTH, TIMELAPSE_FRAMES
from .messages import WorkProgress, WorkResult

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


class Rerun(StrEnum):
    """The result card's buttons: each starts a new job from the same inputs."""

    STRONGER = "stronger"
    WEAKER = "weaker"
    COLOURS = "colours"
    SEED = "seed"
    UPSCALE = "upscale"  # twice the size, starting from the result: same inputs, seed and options

    def label(self, params: JobParams) -> str:
        """The button's label under a card whose job has `params`."""
        if self is Rerun.COLOURS:
            return "Keep colours" if params.preserve_colors == "none" else "Full colour"
        return RERUN_LABELS[self]

    def change(self, params: JobParams) -> str:
        """What a re-run with `params` (the new job's) changed, as its card says it."""
        if self is Rerun.COLOURS:
            return "full colour" if params.preserve_colors == "none" else "keep colours"
        return RERUN_LABELS[self].lower()


RERUN_LABELS = {
    Rerun.STRONGER: "Stronger style",
    Rerun.WEAKER: "Weaker style",
    Rerun.SEED: "New seed",
    Rerun.UPSCALE: "Upscale ×2",
}


@dataclass(frozen=True)
class JobParams:
    """Every engine option a job uses, resolved (server defaults applied, seed drawn)."""

    size: int
    iterations: int
    style_strength: float
    optimizer: OptimizerName
    learning_rate: float | None
    preserve_colors: ColorMode
    seed: int
    beta1: float = ADAM_DEFAULTS.beta1
    beta2: float = ADAM_DEFAULTS.beta2
    epsilon: float = ADAM_DEFAULTS.epsilon
    style_weights: tuple[float, ...] | None = None
    upscale_from: int | None = None
    """An upscale of a result this many pixels a side: the job starts from that result (its init image)."""

    def style_options(self, *, multiscale: bool, max_seconds: float) -> StyleOptions:
        """The engine's options for this job; raises OptionsError if they are inconsistent."""
        every = max(1, self.iterations // PROGRESS_TICKS)
        return StyleOptions(
            size=self.size,
            iterations=self.iterations,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            beta1=self.beta1,
            beta2=self.beta2,
            epsilon=self.epsilon,
            style_weight=self.style_strength,
            style_weights=self.style_weights,
            preserve_colors=self.preserve_colors,
            seed=self.seed,
            multiscale=multiscale,
            max_seconds=max_seconds,
            progress_every=every,
            preview_every=max(every, self.iterations // PREVIEW_TICKS),
            init="image" if self.upscale_from else "content",
            upscale_from=self.upscale_from,
            timelapse_frames=TIMELAPSE_FRAMES,
        ).validated()

    def upscaled(self, result_size: int, *, multiscale: bool, max_seconds: float) -> JobParams:
        """An Upscale ×2 of a result `result_size` pixels a side; the engine decides its iterations."""
        options = self.style_options(multiscale=multiscale, max_seconds=max_seconds).upscaled(result_size)
        return replace(self, size=options.size, iterations=options.iterations, upscale_from=result_size)

    def rerun(self, variant: Rerun) -> JobParams:
        """The parameters of a re-run: same inputs and seed, one thing changed (for Upscale: `upscaled`)."""
        if variant is Rerun.STRONGER:
            return replace(self, style_strength=STYLE_STRENGTH.clamp(self.style_strength * 2))
        if variant is Rerun.WEAKER:
            return replace(self, style_strength=STYLE_STRENGTH.clamp(self.style_strength / 2))
        if variant is Rerun.COLOURS:
            return replace(self, preserve_colors="luminance" if self.preserve_colors == "none" else "none")
        if variant is Rerun.SEED:
            return replace(self, seed=new_seed())
        raise ValueError(f"{variant} needs the result's size: use upscaled()")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobParams:
        weights = data.get("style_weights")
        return cls(**{**data, "style_weights": tuple(weights) if weights is not None else None})


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


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


@dataclass(frozen=True)
class NewJob:
    """A job about to be accepted: who asked, where, with what. Inputs are bytes (uploads) or paths (re-runs)."""

    owner_id: int
    guild_id: int | None
    channel_id: int
    params: JobParams
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
