"""A fast stand-in for `stylecore.Engine` with its contract: progress with previews on the calling
thread, cancel seen within one iteration, a StyleResult with the seed filled in. Each iteration
sleeps `iteration_s`, so a job takes a predictable time; seed CRASH_SEED kills the process mid-job
(the poison job of the tests). It keeps the init images it was given, and logs their size and a
digest of their pixels (a worker process's log is what a test can read of it). Its `stylize_clip` follows
issue 13's contract (`tests/fake_clips.py`), each iteration sleeping as a still's, and logs the frame a run
starts from."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from PIL import Image

from stylecore.errors import Cancelled
from stylecore.options import StyleOptions
from stylecore.records import Progress, StyleResult
from tests.fake_clips import FakeClipResult, run_clip

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Sequence

    from stylecore.video.clip import Clip

CRASH_SEED = 666

log = logging.getLogger("tests.sleepy")


def pixel_digest(image: Image.Image) -> str:
    """Equal for two images with the same pixels, whatever file they came from."""
    return hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()[:16]


class SleepyEngine:
    def __init__(self, iteration_s: float = 0.01) -> None:
        self.iteration_s = iteration_s
        self.jobs = 0
        self.inits: list[Image.Image | None] = []

    def load(self) -> None:
        return None

    def stylize_clip(
        self,
        clip: Clip,
        styles: Sequence[Image.Image],
        options: StyleOptions | None = None,
        *,
        done: Sequence[Image.Image] = (),
        on_frame: Callable[[int, Image.Image], None] | None = None,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> FakeClipResult:
        options = options or StyleOptions()
        self.jobs += 1
        log.info("clip of %d frames, starting at frame %d", len(clip.frames), len(done))
        return run_clip(
            clip,
            options,
            done=done,
            on_frame=on_frame,
            progress=progress,
            cancel=cancel,
            step=lambda: time.sleep(self.iteration_s),
            seconds_per_iteration=self.iteration_s,
            device="sleepy",
        )

    def stylize(
        self,
        content: Image.Image,
        styles: Sequence[Image.Image],
        options: StyleOptions | None = None,
        *,
        init_image: Image.Image | None = None,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> StyleResult:
        options = options or StyleOptions()
        self.jobs += 1
        self.inits.append(None if init_image is None else init_image.copy())
        if init_image is not None:
            log.info("init image %dx%d, pixels %s", init_image.width, init_image.height, pixel_digest(init_image))
        scale = options.size / max(content.size)
        width, height = max(1, round(content.width * scale)), max(1, round(content.height * scale))
        for iteration in range(1, options.iterations + 1):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"cancelled at iteration {iteration}")
            if options.seed == CRASH_SEED and iteration == 2:
                os._exit(3)  # a job that takes its worker down with it, every time
            if self.iteration_s:
                time.sleep(self.iteration_s)
            if progress is not None and iteration % options.progress_every == 0:
                preview = None
                if options.preview_every and iteration % options.preview_every == 0:
                    preview = Image.new("RGB", (width, height), (iteration * 20 % 256, 80, 160))
                progress(
                    Progress(
                        iteration,
                        options.iterations,
                        0,
                        1,
                        width,
                        height,
                        1.0,
                        0.5,
                        0.5,
                        iteration * self.iteration_s,
                        (options.iterations - iteration) * self.iteration_s,
                        preview,
                    )
                )
        seed = 4242 if options.seed is None else options.seed
        return StyleResult(
            content.resize((width, height)),
            replace(options, seed=seed),
            options.iterations,
            options.iterations * self.iteration_s,
            "finished",
            1.0,
            0.5,
            0.5,
            "sleepy",
        )
