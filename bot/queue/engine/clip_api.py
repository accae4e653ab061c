"""The engine's clip API as the engine thread uses it (issue 13's contract, `Engine.stylize_clip`).

Written as protocols of what the bot reads, so that any engine with `stylize_clip` serves clips and an
engine without it (an older one, or a test's stand-in for stills) still serves still images: the engine
thread asks `isinstance(engine, ClipEngine)` and fails a clip job with a sentence when it is not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from PIL import Image

from stylecore.options import StyleOptions
from stylecore.video.clip import Clip


class Tick(Protocol):
    """What a card shows of one of the engine's progress reports (`stylecore.Progress`)."""

    @property
    def iteration(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def scale(self) -> int: ...
    @property
    def scales(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def eta(self) -> float | None: ...
    @property
    def preview(self) -> Image.Image | None: ...
    @property
    def tile(self) -> int: ...
    @property
    def tiles(self) -> int: ...


class ClipTick(Tick, Protocol):
    """A progress report during a clip: `iteration`/`total` count within the frame being painted, `elapsed`
    and `eta` cover the whole clip."""

    @property
    def frame(self) -> int:
        """The frame being painted, 0-based."""

    @property
    def frames(self) -> int: ...


class ClipOutput(Protocol):
    """What the bot reads of a finished clip (`stylecore.records.ClipResult`)."""

    @property
    def clip(self) -> Clip:
        """The output frames, with the input's timing and loop count."""

    @property
    def options(self) -> StyleOptions:
        """The options used, seed filled in."""

    @property
    def iterations(self) -> int:
        """Over the whole clip."""

    @property
    def elapsed(self) -> float: ...
    @property
    def stopped(self) -> str: ...
    @property
    def device(self) -> str: ...


@runtime_checkable
class ClipEngine(Protocol):
    """An engine that paints clips: each frame from the previous result warped along the motion."""

    def stylize_clip(
        self,
        clip: Clip,
        styles: Sequence[Image.Image],
        options: StyleOptions | None = None,
        *,
        done: Sequence[Image.Image] = (),
        on_frame: Callable[[int, Image.Image], None] | None = None,
        progress: Callable[[ClipTick], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ClipOutput:
        """Paint `clip` (resized like a still to `options.size`). `done`: output frames an interrupted run of
        the same job finished, at the output size; the run goes on from frame `len(done)`. `on_frame(index,
        image)` is called on this thread as soon as each output frame is final."""
