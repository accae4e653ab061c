"""Encoding a clip as MP4 (H.264), animated GIF or animated WebP, every frame with its own timing,
and fitting a byte limit by re-encoding smaller (`encode_clip`), as `encode_image` does for stills.

MP4 is H.264 (libx264, bundled with PyAV's FFmpeg) in 4:2:0 with the index at the front
(`+faststart`), tagged BT.709: it plays inline in Discord and in browsers. Variable frame rate is
kept through per-frame timestamps in a 90 kHz time base, which holds the 1/100 s of GIF, the
milliseconds of WebP and NTSC's 1001/30000 s exactly.
"""

from __future__ import annotations

import io
import itertools
import math
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
from av.video.stream import VideoStream
from PIL import Image

from ..errors import OptionsError
from .animation_decode import MIN_HONOURED_MS
from .clip import Clip

OutputFormat = Literal["mp4", "gif", "webp"]

#: MP4 timestamps count in this unit (MPEG's 90 kHz clock).
MP4_TIME_BASE = Fraction(1, 90_000)
#: Browsers play a frame of MIN_HONOURED_MS or less at a tenth of a second, so no GIF or WebP
#: frame is written that short: at least 2/100 s in a GIF, 11 ms in a WebP.
GIF_MIN_CENTISECONDS = MIN_HONOURED_MS // 10 + 1
WEBP_MIN_MILLISECONDS = MIN_HONOURED_MS + 1
#: The quality ladders `encode_clip` steps down before it scales the clip down: x264's constant rate
#: factor (lower is better; 23 is its default), WebP's quality, GIF's palette size.
MP4_CRF = (20, 26, 32, 38, 44)
WEBP_QUALITY = (80, 60, 40, 20)
GIF_COLOURS = (256, 128, 64, 32)
#: Each size step scales the longest side by this, down to MIN_SIDE.
SIZE_STEP = 0.75
MIN_SIDE = 16


@dataclass(frozen=True)
class EncodedClip:
    """An encoded clip. `frames` is the clip's frame count (GIF and WebP merge identical neighbours
    into one longer frame). `quality` is the ladder rung used (CRF for MP4, quality for WebP,
    colours for GIF). `fit` says what was done to fit the byte limit, as a sentence for the user
    ("re-encoded at 320 px to fit 8 MiB"); None when the first encoding fit."""

    data: bytes
    format: OutputFormat
    width: int
    height: int
    frames: int
    quality: int
    fit: str | None = None

    @property
    def extension(self) -> str:
        return self.format


def encode_clip(clip: Clip, format: OutputFormat, *, max_bytes: int | None = None) -> EncodedClip:
    """Encode `clip` as `format`; with `max_bytes`, the result is guaranteed to fit.

    Too big, it is re-encoded at the next quality rung, then (all rungs tried) at a smaller size,
    until it fits; it only fails when even the smallest attempt (MIN_SIDE px, the lowest quality)
    is over. Every frame is kept, with its timing; GIF and WebP loop like the source (a video,
    which has no loop count, loops forever, as chat apps show short clips).
    """
    if format not in ("mp4", "gif", "webp"):
        raise OptionsError(f"clip output format must be mp4, gif or webp, not {format!r}")
    if max_bytes is not None and max_bytes < 1024:
        raise OptionsError(f"a byte budget under 1 KiB cannot hold a clip (got {max_bytes})")
    ladder = {"mp4": MP4_CRF, "webp": WEBP_QUALITY, "gif": GIF_COLOURS}[format]
    side = max(clip.size)
    current = clip
    while True:
        for rung, quality in enumerate(ladder):
            data = _encode(current, format, quality)
            if max_bytes is None or len(data) <= max_bytes:
                width, height = _output_size(current, format)
                fit = _fit_note(rung > 0, max(current.size) if current is not clip else None, max_bytes)
                return EncodedClip(data, format, width, height, len(clip.frames), quality, fit)
        if max(current.size) <= MIN_SIDE:
            raise OptionsError(
                f"cannot fit the clip into {_bytes_text(max_bytes or 0)}, even at {MIN_SIDE} px and the lowest quality"
            )
        side = max(MIN_SIDE, math.floor(side * SIZE_STEP))
        current = clip.resized(side)


def _encode(clip: Clip, format: OutputFormat, quality: int) -> bytes:
    if format == "mp4":
        return _mp4(clip, quality)
    if format == "gif":
        return _gif(clip, quality)
    return _webp(clip, quality)


def _output_size(clip: Clip, format: OutputFormat) -> tuple[int, int]:
    return _even_size(clip.size) if format == "mp4" else clip.size


def _even_size(size: tuple[int, int]) -> tuple[int, int]:
    """H.264 in 4:2:0 stores colour per 2×2 block, so x264 needs even sides: an odd side grows by
    one pixel. Scaling by under a pixel is invisible, where padding would show a line at the
    edge and cropping would lose one."""
    width, height = size
    return width + width % 2, height + height % 2


def _mp4(clip: Clip, crf: int) -> bytes:
    size = _even_size(clip.size)
    pts = _ticks(clip, MP4_TIME_BASE)
    durations = {start: end - start for start, end in itertools.pairwise(pts)}
    with tempfile.TemporaryDirectory() as folder:
        # +faststart moves the index to the front in a second pass over the written file, which
        # FFmpeg reopens by name: it needs a real file, not a buffer.
        path = Path(folder) / "clip.mp4"
        with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as output:
            # No B-frames: the muxer takes each frame's duration from decode-order timestamps,
            # which B-frames reorder, so variable frame durations would be scrambled.
            stream = output.add_stream("libx264", options={"crf": str(crf), "bf": "0", "preset": "medium"})
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.time_base = MP4_TIME_BASE
            context = stream.codec_context
            context.time_base = MP4_TIME_BASE
            context.colorspace = context.color_primaries = context.color_trc = 1  # BT.709, as browsers assume
            context.color_range = 1  # limited ("TV") range, what every player expects of H.264
            for image, start in zip(clip.frames, pts[:-1], strict=True):
                picture = image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)
                frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24").reformat(
                    format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG"
                )
                frame.pts, frame.time_base = start, MP4_TIME_BASE
                _mux(output, stream.encode(frame), durations)
            _mux(output, stream.encode(), durations)
        return path.read_bytes()


def _mux(
    output: av.container.OutputContainer, packets: list[av.Packet[VideoStream]], durations: dict[int, int]
) -> None:
    """Write packets with their frame's duration: the muxer would otherwise guess the last one's."""
    for packet in packets:
        if packet.pts is not None:
            packet.duration = durations[packet.pts]
        output.mux(packet)


def _gif(clip: Clip, colours: int) -> bytes:
    centiseconds = _ticks(clip, Fraction(1, 100), minimum=GIF_MIN_CENTISECONDS)
    frames = [frame.quantize(colors=colours) for frame in clip.frames]
    loop = {} if clip.plays == 1 else {"loop": max(0, (clip.plays or 0) - 1)}
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[10 * (end - start) for start, end in itertools.pairwise(centiseconds)],
        optimize=False,
        **loop,
    )
    return buffer.getvalue()


def _webp(clip: Clip, quality: int) -> bytes:
    milliseconds = _ticks(clip, Fraction(1, 1000), minimum=WEBP_MIN_MILLISECONDS)
    buffer = io.BytesIO()
    clip.frames[0].save(
        buffer,
        "WEBP",
        save_all=True,
        append_images=list(clip.frames[1:]),
        duration=[end - start for start, end in itertools.pairwise(milliseconds)],
        loop=clip.plays or 0,
        quality=quality,
        method=4,
    )
    return buffer.getvalue()


def _ticks(clip: Clip, unit: Fraction, *, minimum: int = 1) -> list[int]:
    """Each frame's start and the clip's end in whole `unit`s, rounded from the exact times so that
    rounding never accumulates, and at least `minimum` units apart."""
    ticks: list[int] = []
    for time in (*clip.timestamps, clip.duration):
        tick = round(time / unit)
        ticks.append(max(tick, ticks[-1] + minimum) if ticks else tick)
    return ticks


def _fit_note(lower_quality: bool, side: int | None, max_bytes: int | None) -> str | None:
    changes = (["at lower quality"] if lower_quality else []) + ([f"at {side} px"] if side else [])
    if not changes or max_bytes is None:
        return None
    return f"re-encoded {' and '.join(changes)} to fit {_bytes_text(max_bytes)}"


def _bytes_text(count: int) -> str:
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} bytes"
