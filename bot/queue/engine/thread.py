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
from typing import Any, Protocol

from PIL import Image

from bot.limits import SIZE
from bot.queue.engine.encoding import encode_and_drop_preview, encode_preview, work_result
from bot.queue.messages import Outcome, WorkCancelled, WorkFailed, WorkItem, WorkProgress, WorkRetry, WorkUpdate
from stylecore.errors import Cancelled, ImageError, OptionsError, OutOfMemoryError, StyleCoreError
from stylecore.images import load_image
from stylecore.options import StyleOptions
from stylecore.records import Progress, StyleResult

log = logging.getLogger("stylebot.worker")

#: The worker reports that it is alive at least this often while idle (seconds).
IDLE_BEAT_S = 1.0
#: After an out-of-memory error the job is tried once more at this fraction of the size.
OOM_RETRY_SCALE = 0.75
WARM_UP_SIZE = 64
#: How long `stop` waits for the thread: a model load cannot be interrupted, a job stops within an iteration.
STOP_TIMEOUT_S = 60.0


class StyleEngine(Protocol):
    """What the worker needs from `stylecore.Engine` (tests pass a fast stand-in)."""

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
            content = load_image(item.content, name="the content image", max_pixels=item.max_pixels)
            styles = [
                load_image(path, name=f"style image {index}", max_pixels=item.max_pixels)
                for index, path in enumerate(item.styles, 1)
            ]
            init = load_image(item.init, name="the image to upscale", max_pixels=item.max_pixels) if item.init else None
            try:
                result = self._stylize(task, content, styles, init, item.options)
            except OutOfMemoryError:
                smaller = max(SIZE.lo, int(item.options.size * OOM_RETRY_SCALE))
                # No smaller retry below the smallest size, nor for an upscale down to its own starting size.
                if smaller >= item.options.size or smaller <= (item.options.upscale_from or 0):
                    raise
                task.on_update(WorkRetry(item.options.size, smaller))
                try:
                    result = self._stylize(task, content, styles, init, replace(item.options, size=smaller))
                except OutOfMemoryError:
                    return WorkFailed(
                        f"The GPU ran out of memory at {item.options.size} px and again at {smaller} px. "
                        "Try a smaller size."
                    )
            return work_result(item, result)
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
            # A tiled scale's steps each take long (large images): the card follows every one.
            due = record.tiles > 1 or record.iteration % options.progress_every == 0 or record.iteration == record.total
            if due or record.preview is not None:
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
                        preview=encode_preview(record.preview),
                        tile=record.tile,
                        tiles=record.tiles,
                    )
                )

        # The engine reports every iteration so the health check sees the thread alive even when one
        # report's worth of iterations takes minutes (large images on a CPU); the bot hears as often
        # as the job asked.
        return self.engine.stylize(
            content, styles, replace(options, progress_every=1), init_image=init, progress=progress, cancel=task.cancel
        )
