"""Test doubles and test images for the bot tests.

`FakeEngine` has `stylecore.Engine`'s signature and contract (progress with previews on the
calling thread, `cancel` honoured within one iteration, a StyleResult with the seed filled in) but
returns at once, so tests exercise the bot rather than VGG-19.
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

FAKE_SEED = 4242


@dataclass(frozen=True)
class EngineCall:
    content_size: tuple[int, int]
    style_sizes: list[tuple[int, int]]
    options: StyleOptions
    init_size: tuple[int, int] | None = None


class FakeEngine:
    def __init__(
        self, *, block: bool = False, error: Exception | None = None, oom_above: int | None = None, tiles: int = 1
    ) -> None:
        self.calls: list[EngineCall] = []
        self.block = block
        """Each job waits for `release()` (or its cancel event) before iterating."""
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
        while self.block and not self.released.wait(0.002):
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while waiting")
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
