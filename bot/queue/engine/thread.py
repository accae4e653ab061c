"""The engine thread: one thread that owns the engine and runs one job at a time.

Nothing here knows about asyncio or Discord (`bridge` follows a job from the event loop): a job goes
in as a `WorkItem` (paths and options, so it could come from another machine), and comes back through
plain callbacks, called on this thread, with only small, copied data (encoded previews, the result).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from PIL import Image

from bot.limits import SIZE
from bot.queue.engine.clip_api import ClipEngine, ClipOutput, ClipTick, Tick
from bot.queue.engine.encoding import (
    clip_work_result,
    encode_and_drop_preview,
    encode_frame,
    encode_preview,
    work_result,
)
from bot.queue.messages import (
    Outcome,
    WorkCancelled,
    WorkFailed,
    WorkFrame,
    WorkItem,
    WorkProgress,
    WorkRetry,
    WorkUpdate,
)
from stylecore.errors import Cancelled, ImageError, OptionsError, OutOfMemoryError, StyleCoreError
from stylecore.images import load_image
from stylecore.options import StyleOptions
from stylecore.records import Progress, StyleResult
from stylecore.video.clip import Clip
from stylecore.video.decode import load_clip
from stylecore.video.limits import VideoLimits

log = logging.getLogger("stylebot.worker")

#: The worker reports that it is alive at least this often while idle (seconds).
IDLE_BEAT_S = 1.0
#: After an out-of-memory error the job is tried once more at this fraction of the size.
OOM_RETRY_SCALE = 0.75
WARM_UP_SIZE = 64
#: How long `stop` waits for the thread: a model load cannot be interrupted, a job stops within an iteration.
STOP_TIMEOUT_S = 60.0
NO_CLIPS = "This bot's style engine paints still images only, not clips (GIFs and videos)."

T = TypeVar("T")


class StyleEngine(Protocol):
    """What the worker needs from `stylecore.Engine` (tests pass a fast stand-in). Clips need `stylize_clip`
    too (`clip_api.ClipEngine`), asked at run time: an engine without it serves still images all the same."""

    def load(self) -> Any:
        """Load the model now, so the first job does not pay for it."""

    def stylize(
        self,
        content: Image.Image,
        styles: Sequence[Image.Image],
        options: StyleOptions | None = None,
        *,
        init_image: Image.Image | None = None,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> StyleResult: ...


@dataclass
class _Task:
    item: WorkItem
    cancel: threading.Event
    on_update: Callable[[WorkUpdate], None]
    on_done: Callable[[Outcome], None]


class EngineThread:
    """Start once; `submit` jobs one at a time; `stop` when the process shuts down."""

    def __init__(self, engine: StyleEngine, *, warm_up: bool = False) -> None:
        self.engine = engine
        self.warm_up = warm_up
        self._tasks: queue.Queue[_Task | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._current: _Task | None = None
        self.last_beat = time.time()
        """Wall-clock time of the thread's last sign of life (for the health check)."""

    def start(self) -> None:
        if self._thread is None:
            # A daemon thread, so a job stuck in native code cannot keep the process alive; `stop`
            # joins it, because a thread still inside PyTorch when the interpreter exits aborts it.
            self._thread = threading.Thread(target=self._serve, name="stylebot-engine", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Interrupt the warm-up or the running job, end the thread and wait for it (blocking).

        The interrupted job's `on_done` is not called: to its owner it was never finished. False if
        the thread did not end within `timeout`.
        """
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        self._stopping.set()
        current = self._current
        if current is not None:
            current.cancel.set()
        self._tasks.put(None)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the engine thread did not stop within %.0f s", timeout)
            return False
        return True

    def submit(
        self,
        item: WorkItem,
        *,
        cancel: threading.Event,
        on_update: Callable[[WorkUpdate], None],
        on_done: Callable[[Outcome], None],
    ) -> None:
        """Queue `item` for the thread; the callbacks run on the thread."""
        self._tasks.put(_Task(item, cancel, on_update, on_done))

    def _serve(self) -> None:
        started = time.perf_counter()
        try:
            self.engine.load()  # once, before the first job, on the thread that will use the model
        except StyleCoreError as exc:
            log.error("the engine could not load its model: %s", exc)
        else:
            log.info("engine loaded its model in %.1f s", time.perf_counter() - started)
        if self.warm_up and not self._stopping.is_set():
            self._warm_up()
        while not self._stopping.is_set():
            self.last_beat = time.time()
            try:
                task = self._tasks.get(timeout=IDLE_BEAT_S)
            except queue.Empty:
                continue
            if task is None:
                return
            self._current = task
            if self._stopping.is_set():
                return
            outcome = self._run(task)
            self._current = None
            self.last_beat = time.time()
            if self._stopping.is_set():
                return  # interrupted by `stop`, not finished: the job stays queued for the next start
            task.on_done(outcome)

    def _warm_up(self) -> None:
        """One tiny job, so the first user does not wait for the device's set-up (~7 s of CUDA start on a GPU)."""
        started = time.perf_counter()
        grey, blue = Image.new("RGB", (WARM_UP_SIZE, WARM_UP_SIZE), (128, 128, 128)), Image.new("RGB", (32, 32), "blue")
        options = StyleOptions(size=WARM_UP_SIZE, iterations=2, multiscale=False, progress_every=1, preview_every=1)
        try:
            # Encoding previews too: the first job's first preview must not pay for it either.
            self.engine.stylize(grey, [blue], options, progress=encode_and_drop_preview, cancel=self._stopping)
        except Cancelled:
            return
        except Exception as exc:  # noqa: BLE001  # a failed warm-up only means a slower first job
            log.warning("engine warm-up failed: %s", exc)
            return
        log.info("engine warmed up in %.1f s", time.perf_counter() - started)

    def _run(self, task: _Task) -> Outcome:
        item = task.item
        try:
            # The content's kind from its bytes: a clip (as intake counted its frames) or a still image.
            limits = VideoLimits(max_frames=item.max_frames, max_frame_pixels=item.max_pixels)
            content = load_clip(item.content, name="the content image", limits=limits, size=item.options.size)
            styles = [
                load_image(path, name=f"style image {index}", max_pixels=item.max_pixels)
                for index, path in enumerate(item.styles, 1)
            ]
            if isinstance(content, Clip):
                return self._run_clip(task, content, styles)
            init = load_image(item.init, name="the image to upscale", max_pixels=item.max_pixels) if item.init else None
            result = self._retrying(task, lambda options: self._stylize(task, content.image, styles, init, options))
            return result if isinstance(result, WorkFailed) else work_result(item, result)
        except Cancelled:
            return WorkCancelled()
        except (ImageError, OptionsError) as exc:
            return WorkFailed(f"{exc}")
        except StyleCoreError as exc:
            log.error("job %s failed in the engine: %s", item.job_id, exc)
            return WorkFailed(f"The style engine failed: {exc}")
        except Exception as exc:  # one bad job must never end the worker thread
            log.exception("job %s crashed the engine", item.job_id)
            return WorkFailed(
                f"The style engine hit an unexpected error ({type(exc).__name__}); "
                "the job was stopped. Please try again."
            )

    def _run_clip(self, task: _Task, clip: Clip, styles: list[Image.Image]) -> Outcome:
        engine = self.engine
        if not isinstance(engine, ClipEngine):
            return WorkFailed(NO_CLIPS)
        item = task.item
        done = _finished_frames(item, clip)

        def attempt(options: StyleOptions) -> ClipOutput:
            # Frames an earlier run finished are at the asked size: a retry at a smaller one starts afresh.
            kept = done if options.size == item.options.size else []
            return self._stylize_clip(task, engine, clip, styles, kept, options)

        result = self._retrying(task, attempt)
        return result if isinstance(result, WorkFailed) else clip_work_result(item, result)

    def _retrying(self, task: _Task, attempt: Callable[[StyleOptions], T]) -> T | WorkFailed:
        """`attempt` with the job's options; after an out-of-memory error, once more at a smaller size."""
        options = task.item.options
        try:
            return attempt(options)
        except OutOfMemoryError:
            smaller = max(SIZE.lo, int(options.size * OOM_RETRY_SCALE))
            # No smaller retry below the smallest size, nor for an upscale down to its own starting size.
            if smaller >= options.size or smaller <= (options.upscale_from or 0):
                raise
            task.on_update(WorkRetry(options.size, smaller))
            try:
                return attempt(replace(options, size=smaller))
            except OutOfMemoryError:
                return WorkFailed(
                    f"The GPU ran out of memory at {options.size} px and again at {smaller} px. Try a smaller size."
                )

    def _report(self, task: _Task, record: Tick, *, frame: int = 0, frames: int = 1, preview: bytes | None) -> None:
        task.on_update(
            WorkProgress(
                record.iteration,
                record.total,
                record.scale,
                record.scales,
                record.width,
                record.height,
                record.elapsed,
                record.eta,
                preview=preview,
                tile=record.tile,
                tiles=record.tiles,
                frame=frame,
                frames=frames,
            )
        )

    def _due(self, record: Tick, options: StyleOptions) -> bool:
        """Whether the bot hears of this report: as often as the job asked, every step of a tiled scale (each
        takes long on a large image), the last iteration, and any report with a preview."""
        every = record.tiles > 1 or record.iteration % options.progress_every == 0 or record.iteration == record.total
        return every or record.preview is not None

    def _stylize(
        self,
        task: _Task,
        content: Image.Image,
        styles: list[Image.Image],
        init: Image.Image | None,
        options: StyleOptions,
    ) -> StyleResult:
        def progress(record: Progress) -> None:
            self.last_beat = time.time()
            if self._due(record, options):
                self._report(task, record, preview=encode_preview(record.preview))

        # The engine reports every iteration so the health check sees the thread alive even when one
        # report's worth of iterations takes minutes (large images on a CPU); the bot hears as often
        # as the job asked.
        return self.engine.stylize(
            content, styles, replace(options, progress_every=1), init_image=init, progress=progress, cancel=task.cancel
        )

    def _stylize_clip(
        self,
        task: _Task,
        engine: ClipEngine,
        clip: Clip,
        styles: list[Image.Image],
        done: list[Image.Image],
        options: StyleOptions,
    ) -> ClipOutput:
        # The latest finished frame, until a report shows it: later frames may take too few iterations to
        # bring a preview of their own.
        latest: list[Image.Image] = []

        def on_frame(index: int, image: Image.Image) -> None:
            self.last_beat = time.time()
            task.on_update(WorkFrame(index, encode_frame(image)))
            latest[:] = [image]

        def progress(record: ClipTick) -> None:
            self.last_beat = time.time()
            if self._due(record, options) or latest:
                shown = record.preview if record.preview is not None else next(iter(latest), None)
                latest.clear()
                self._report(task, record, frame=record.frame, frames=record.frames, preview=encode_preview(shown))

        if done:
            log.info("job %s: going on from frame %d, kept from an interrupted run", task.item.job_id, len(done))
        return engine.stylize_clip(
            clip,
            styles,
            replace(options, progress_every=1),
            done=done,
            on_frame=on_frame,
            progress=progress,
            cancel=task.cancel,
        )


def _finished_frames(item: WorkItem, clip: Clip) -> list[Image.Image]:
    """The output frames an interrupted run of the job finished (`item.done`), when they are of this run's size
    (not those of a retry at a smaller size after the device ran out of memory). The last frame is always
    painted again, so the run has a frame to paint."""
    try:
        frames = [
            load_image(path, name=f"finished frame {index}", max_pixels=item.max_pixels)
            for index, path in enumerate(item.done[: len(clip.frames) - 1])
        ]
    except ImageError as exc:  # kept to save time, never to fail the job
        log.warning("job %s: the finished frames kept are unreadable (%s); starting afresh", item.job_id, exc)
        return []
    if any(frame.size != clip.size for frame in frames):
        log.warning("job %s: the finished frames kept are of another size; starting afresh", item.job_id)
        return []
    return frames
