"""Test doubles and test images for the bot tests.

`FakeEngine` has `stylecore.Engine`'s signature and contract (progress with previews on the
calling thread, `cancel` honoured within one iteration, a StyleResult with the seed filled in) but
returns at once, so tests exercise the bot rather than VGG-19. Its `stylize_clip` follows issue 13's
contract (`tests/fake_clips.py`).
"""

from __future__ import annotations

import asyncio
import io
import struct
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from PIL import Image

from stylecore.errors import Cancelled, OutOfMemoryError
from stylecore.options import StyleOptions
from stylecore.records import Progress, StyleResult
from stylecore.video.clip import Clip
from tests.fake_clips import FakeClipResult, run_clip

FAKE_SEED = 4242


@dataclass(frozen=True)
class EngineCall:
    content_size: tuple[int, int]
    style_sizes: list[tuple[int, int]]
    options: StyleOptions
    init_size: tuple[int, int] | None = None
    frames: int = 1
    """A clip's frames (1: a still image)."""
    done: int = 0
    """The finished frames a clip's run was given, to go on from."""


class FakeEngine:
    def __init__(
        self,
        *,
        block: bool = False,
        error: Exception | None = None,
        oom_above: int | None = None,
        tiles: int = 1,
        block_at_frame: int | None = None,
    ) -> None:
        self.calls: list[EngineCall] = []
        self.block = block
        """Each job waits for `release()` (or its cancel event) before iterating."""
        self.block_at_frame = block_at_frame
        """A clip waits for `release()` (or its cancel event) before painting this frame: a stop mid-clip."""
        self.released = threading.Event()
        self.error = error
        self.oom_above = oom_above
        """Raise OutOfMemoryError for sizes above this, like a GPU that is too small."""
        self.loaded = False
        self.tiles = tiles
        """Like a tiled scale: each iteration reports one tick per tile; it is done at the last tile."""

    def load(self) -> None:
        self.loaded = True

    def release(self) -> None:
        self.released.set()

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
        self.calls.append(
            EngineCall(clip.size, [style.size for style in styles], options, frames=len(clip.frames), done=len(done))
        )
        if self.oom_above is not None and options.size > self.oom_above:
            raise OutOfMemoryError(f"CUDA out of memory at {options.size} px")
        if self.error is not None:
            raise self.error
        self._wait(cancel, self.block)

        def frame_done(index: int, image: Image.Image) -> None:
            if on_frame is not None:
                on_frame(index, image)
            if self.block_at_frame is not None and index + 1 == self.block_at_frame:
                self._wait(cancel, True)

        return run_clip(clip, options, done=done, on_frame=frame_done, progress=progress, cancel=cancel)

    def _wait(self, cancel: threading.Event | None, block: bool) -> None:
        while block and not self.released.wait(0.002):
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while waiting")

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
        self.calls.append(
            EngineCall(
                content.size,
                [style.size for style in styles],
                options,
                init_image.size if init_image is not None else None,
            )
        )
        if self.oom_above is not None and options.size > self.oom_above:
            raise OutOfMemoryError(f"CUDA out of memory at {options.size} px")
        if self.error is not None:
            raise self.error
        self._wait(cancel, self.block)
        scale = options.size / max(content.size)
        width, height = max(1, round(content.width * scale)), max(1, round(content.height * scale))
        for iteration in range(1, options.iterations + 1):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"cancelled at iteration {iteration}")
            if progress is None or (self.tiles == 1 and iteration % options.progress_every):
                continue
            for tile in range(self.tiles):
                done = iteration if tile == self.tiles - 1 else iteration - 1
                preview = None
                if options.preview_every and done == iteration and iteration % options.preview_every == 0:
                    preview = Image.new("RGB", (width, height), (iteration * 20 % 256, 80, 160))
                progress(
                    Progress(
                        done,
                        options.iterations,
                        0,
                        1,
                        width,
                        height,
                        1.0 / iteration,
                        0.5,
                        0.5,
                        iteration * 0.01,
                        (options.iterations - iteration) * 0.01,
                        preview,
                        tile=tile,
                        tiles=self.tiles,
                    )
                )
        seed = FAKE_SEED if options.seed is None else options.seed
        # Like the engine: the asked number of frames, from the start to the result.
        frames = tuple(
            Image.new("RGB", (width, height), (index * 30 % 256, 90, 120)) for index in range(options.timelapse_frames)
        )
        return StyleResult(
            content.resize((width, height)),
            replace(options, seed=seed),
            options.iterations,
            0.5,
            "finished",
            1.0,
            0.5,
            0.5,
            "fake",
            frames=frames,
        )


async def settle_until(world, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Settle until `condition` holds: for jobs running on the engine thread while simcord sees a declared wait."""
    deadline = time.monotonic() + timeout
    await world.env.settle()
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)  # let the engine thread report
        await world.env.settle()


def png(width: int = 48, height: int = 32, colour: tuple[int, int, int] = (200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def truncated_png() -> bytes:
    noisy = Image.effect_noise((256, 256), 64).convert("RGB")  # noise does not compress: a real cut
    buffer = io.BytesIO()
    noisy.save(buffer, "PNG")
    data = buffer.getvalue()
    return data[: len(data) // 2]


def decompression_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A few hundred bytes whose header claims width × height pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )
