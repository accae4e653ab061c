"""The job model, and every message that crosses the queue between the bot and a worker.

A job flows one way: intake -> ledger -> queue -> worker, and the worker's messages (`WorkProgress`,
`WorkRetry`, then one `Outcome`) flow back through the queue to the ledger as `JobEvent`s. The
messages hold only small, copied data (paths, options, encoded images), so a queue can carry them
to and from another process.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from stylecore.options import ColorMode, OptimizerName, StyleOptions

from .limits import ADAM_DEFAULTS, MAX_SEED, STYLE_STRENGTH

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


RERUN_LABELS = {Rerun.STRONGER: "Stronger style", Rerun.WEAKER: "Weaker style", Rerun.SEED: "New seed"}


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
        ).validated()

    def rerun(self, variant: Rerun) -> JobParams:
        """The parameters of a re-run: same inputs and seed, one thing changed."""
        if variant is Rerun.STRONGER:
            return replace(self, style_strength=STYLE_STRENGTH.clamp(self.style_strength * 2))
        if variant is Rerun.WEAKER:
            return replace(self, style_strength=STYLE_STRENGTH.clamp(self.style_strength / 2))
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


# -- what crosses the queue --------------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    """A job as a worker sees it: where its inputs are and exactly what to run."""

    job_id: str
    content: Path
    styles: tuple[Path, ...]
    options: StyleOptions
    max_result_bytes: int
    max_pixels: int
    guild_id: int | None = None
    """Whose turn it is: the queue serves servers, then users, in rotation."""
    owner_id: int = 0


@dataclass(frozen=True)
class WorkProgress:
    iteration: int
    total: int
    scale: int
    scales: int
    width: int
    height: int
    elapsed: float
    eta: float | None
    preview: bytes | None = None
    """JPEG, small enough for a card."""


@dataclass(frozen=True)
class WorkRetry:
    """The device ran out of memory; the job runs again from the start at a smaller size."""

    size: int
    smaller: int

    @property
    def message(self) -> str:
        return f"The GPU ran out of memory at {self.size} px; retrying at {self.smaller} px."


@dataclass(frozen=True)
class WorkResult:
    image: bytes
    extension: str
    width: int
    height: int
    options: StyleOptions
    """The options used: seed filled in, size smaller than asked after an out-of-memory retry."""
    iterations: int
    elapsed: float
    stopped: str
    device: str


@dataclass(frozen=True)
class WorkFailed:
    message: str
    """A complete sentence for the user."""


@dataclass(frozen=True)
class WorkCancelled:
    """The job's cancel event was set and the engine stopped."""


Outcome = WorkResult | WorkFailed | WorkCancelled
WorkUpdate = WorkProgress | WorkRetry


@dataclass(frozen=True)
class JobStarted:
    job_id: str
    worker: str
    """Which worker runs it: the card says when a job moves to another one."""


@dataclass(frozen=True)
class JobUpdated:
    job_id: str
    update: WorkUpdate


@dataclass(frozen=True)
class JobFinished:
    job_id: str
    outcome: Outcome


JobEvent = JobStarted | JobUpdated | JobFinished
