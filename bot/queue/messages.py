"""Every message that crosses the queue, between the bot and a worker (in this process or another).

A job goes to a worker as a `WorkItem`; the worker answers with updates (`WorkProgress`, an
out-of-memory `WorkRetry`, a clip's finished `WorkFrame`s) and one `Outcome`, which the queue hands to
the ledger as `JobEvent`s.
They hold only small, copied data (paths, options, encoded images), so a queue can carry them
to and from another machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stylecore.options import StyleOptions


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
    init: Path | None = None
    """Where the run starts (an upscale's result to upsample); None: from the content."""
    max_frames: int = 1
    """The frames the content may have: a clip's own count, as intake decoded it (1: a still image)."""
    done: tuple[Path, ...] = ()
    """A clip's output frames that an interrupted run of this job already finished (PNG), in order from the
    first: the run goes on from the next one."""


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
    tile: int = 0
    """In a tiled scale (a large image), the tile just stepped, 0-based."""
    tiles: int = 1
    frame: int = 0
    """In a clip, the frame being painted, 0-based; `iteration` and `total` count within it, `elapsed` and
    `eta` cover the whole clip."""
    frames: int = 1


@dataclass(frozen=True)
class WorkRetry:
    """The device ran out of memory; the job runs again from the start at a smaller size."""

    size: int
    smaller: int

    @property
    def message(self) -> str:
        return f"The GPU ran out of memory at {self.size} px; retrying at {self.smaller} px."


@dataclass(frozen=True)
class WorkFrame:
    """A clip's output frame is final: the worker keeps it, so that a run interrupted later goes on from the
    next frame (`WorkItem.done`)."""

    index: int
    image: bytes
    """PNG, at the output size."""


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
    timelapse: tuple[bytes, str] | None = None
    """The run as an animated image and its file extension; None when no frames fit the upload limit."""
    frames: int = 1
    """A clip's frame count (`image` is then MP4, GIF or WebP); 1 for a still image."""
    fit: str | None = None
    """What was done to fit the upload limit, as a sentence for the card; None when nothing was."""


@dataclass(frozen=True)
class WorkFailed:
    message: str
    """A complete sentence for the user."""


@dataclass(frozen=True)
class WorkCancelled:
    """The job's cancel event was set and the engine stopped."""


Outcome = WorkResult | WorkFailed | WorkCancelled
WorkUpdate = WorkProgress | WorkRetry | WorkFrame


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
