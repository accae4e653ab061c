"""The job model: what a user asked for, where it stands, and where its card lives."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from stylecore.options import StyleOptions

#: Largest seed a user can type back: Discord integer options stop at 2**53.
MAX_SEED = 2**53 - 1
#: The engine reports progress about this many times per job...
PROGRESS_TICKS = 100
#: ...and attaches a preview image about this many times.
PREVIEW_TICKS = 20
JOB_ID_PATTERN = r"[0-9a-f]{8}"


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


MIN_STYLE_STRENGTH = 0.01
MAX_STYLE_STRENGTH = 100.0


@dataclass(frozen=True)
class JobParams:
    """Every engine option a job uses, resolved (server defaults applied, seed drawn)."""

    size: int
    iterations: int
    style_strength: float
    optimizer: str
    learning_rate: float | None
    preserve_colors: str
    seed: int
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    style_weights: tuple[float, ...] | None = None

    def style_options(self, *, multiscale: bool, max_seconds: float) -> StyleOptions:
        """The engine's options for this job; raises OptionsError if they are inconsistent."""
        every = max(1, self.iterations // PROGRESS_TICKS)
        return StyleOptions(
            size=self.size,
            iterations=self.iterations,
            optimizer=self.optimizer,  # type: ignore[arg-type]
            learning_rate=self.learning_rate,
            beta1=self.beta1,
            beta2=self.beta2,
            epsilon=self.epsilon,
            style_weight=self.style_strength,
            style_weights=self.style_weights,
            preserve_colors=self.preserve_colors,  # type: ignore[arg-type]
            seed=self.seed,
            multiscale=multiscale,
            max_seconds=max_seconds,
            progress_every=every,
            preview_every=max(every, self.iterations // PREVIEW_TICKS),
        ).validated()

    def rerun(self, variant: Rerun) -> JobParams:
        """The parameters of a re-run: same inputs and seed, one thing changed."""
        if variant is Rerun.STRONGER:
            return replace(self, style_strength=min(MAX_STYLE_STRENGTH, self.style_strength * 2))
        if variant is Rerun.WEAKER:
            return replace(self, style_strength=max(MIN_STYLE_STRENGTH, self.style_strength / 2))
        if variant is Rerun.COLOURS:
            return replace(self, preserve_colors="luminance" if self.preserve_colors == "none" else "none")
        return replace(self, seed=new_seed())

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
