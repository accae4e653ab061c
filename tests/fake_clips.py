"""`Engine.stylize_clip` as issue 13's contract describes it, fast: what the bot's and the Redis tests' stand-in
engines run for a clip.

Like the engine: the clip is resized like a still (`options.size`, the longest side); the run goes on from
frame `len(done)` (the frames of an interrupted run, kept as they are); the first frame takes
`options.iterations` iterations and later ones fewer; progress reports carry the frame (`frame`, `frames`),
iterations count within the frame and `elapsed`/`eta` cover the whole clip; `on_frame` is called as soon as
each output frame is final; cancel is seen within one iteration. Each output frame is its input frame's
negative (`paint`), so a test can tell painted frames from inputs, and which frame is which.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
from PIL import Image, ImageOps

from stylecore.errors import Cancelled
from stylecore.options import StyleOptions
from stylecore.records import Progress
from stylecore.video.clip import Clip

if {"frame", "frames"} <= {field.name for field in fields(Progress)}:
    ClipProgress = Progress
else:

    @dataclass(frozen=True)
    class ClipProgress(Progress):  # type: ignore[no-redef]  # stylecore's Progress before issue 13's fields
        frame: int = 0
        frames: int = 1


@dataclass(frozen=True)
class FakeClipResult:
    """`stylecore.records.ClipResult`'s fields."""

    clip: Clip
    options: StyleOptions
    iterations: int
    elapsed: float
    stopped: str
    loss: float
    content_loss: float
    style_loss: float
    device: str

    @property
    def frames(self) -> tuple[Image.Image, ...]:
        return self.clip.frames


def paint(frame: Image.Image) -> Image.Image:
    """What the stand-ins make of a frame."""
    return ImageOps.invert(frame.convert("RGB"))


def frame_iterations(options: StyleOptions) -> int:
    """A later frame's iterations: the option once the engine has it, else half the first frame's."""
    later = getattr(options, "frame_iterations", None)
    return int(later) if later else max(1, options.iterations // 2)


def run_clip(
    clip: Clip,
    options: StyleOptions,
    *,
    done: Sequence[Image.Image] = (),
    on_frame: Callable[[int, Image.Image], None] | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    step: Callable[[], None] = lambda: None,
    seconds_per_iteration: float = 0.01,
    device: str = "fake",
) -> FakeClipResult:
    """Paint `clip` as the engine would, calling `step()` once per iteration (a stand-in may sleep there)."""
    resized = clip.resized(options.size)
    count = len(resized.frames)
    plan = [options.iterations if index == 0 else frame_iterations(options) for index in range(count)]
    total_iterations = sum(plan)
    output = list(done)
    ran = sum(plan[: len(done)])
    for index in range(len(done), count):
        painted = paint(resized.frames[index])
        for iteration in range(1, plan[index] + 1):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"cancelled at frame {index}, iteration {iteration}")
            step()
            ran += 1
            if progress is None or (iteration % options.progress_every and iteration != plan[index]):
                continue
            preview = painted if options.preview_every and iteration % options.preview_every == 0 else None
            width, height = painted.size
            progress(
                ClipProgress(
                    iteration,
                    plan[index],
                    0,
                    1,
                    width,
                    height,
                    1.0 / ran,
                    0.5,
                    0.5,
                    ran * seconds_per_iteration,
                    (total_iterations - ran) * seconds_per_iteration,
                    preview,
                    frame=index,
                    frames=count,
                )
            )
        output.append(painted)
        if on_frame is not None:
            on_frame(index, painted)
    seed = 4242 if options.seed is None else options.seed
    return FakeClipResult(
        resized.with_frames(output),
        replace(options, seed=seed),
        total_iterations,
        total_iterations * seconds_per_iteration,
        "finished",
        1.0,
        0.5,
        0.5,
        device,
    )


def assert_painted_in_order(result: Clip, source: Sequence[Image.Image]) -> None:
    """Each frame of `result` is the painting of its own frame of `source` (the closest of all of them): every
    frame there, in order, whichever run painted it."""
    expected = [np.asarray(paint(frame), np.float32) for frame in source]
    assert len(result.frames) == len(expected)
    for index, frame in enumerate(result.frames):
        pixels = np.asarray(frame.resize(source[0].size), np.float32)
        errors = [float(np.abs(pixels - other).mean()) for other in expected]
        assert int(np.argmin(errors)) == index, (index, errors)
        assert errors[index] < 12, (index, errors[index])
