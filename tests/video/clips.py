"""Test clips made by code: tiny (6–8 frames, 48–64 px), with exactly known motion and timing.

Reusable by every test and benchmark that needs a moving picture. The pictures are crops of
examples/cat.png (Chelsea the cat, CC0; see examples/LICENSES.md). Videos are written with PyAV
directly, not with `stylecore.video.encode`, so the decoder's tests do not rest on the encoder.
"""

from __future__ import annotations

import io
import math
import struct
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

SOURCE = Path(__file__).resolve().parents[2] / "examples" / "cat.png"
#: The fine time base the VFR clip is written in (90 kHz, as MPEG uses).
VFR_TIME_BASE = Fraction(1, 90_000)
NTSC_RATE = Fraction(30_000, 1_001)


def source_image(width: int = 160) -> Image.Image:
    """The cat, scaled to `width` px wide: big enough to pan over, with texture at every scale."""
    with Image.open(SOURCE) as image:
        rgb = image.convert("RGB")
    height = round(rgb.height * width / rgb.width)
    return rgb.resize((width, height), Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class Pan:
    """A camera pan: frame t is the window of `size` at `origin + t * step` over the source.

    The picture content therefore moves by `-step` pixels per frame, exactly (integer steps, no
    resampling), so the optical flow between any two neighbouring frames is known: from frame t to
    frame t+1 it is `-step` everywhere, and from t+1 back to t it is `+step`, except in the strip
    that enters the picture (it has no source in the earlier frame).
    """

    frames: list[Image.Image]
    step: tuple[int, int]

    def forward_flow(self) -> np.ndarray:
        """Flow from frame t to frame t+1, (H, W, 2) as (dx, dy)."""
        return self._constant((-self.step[0], -self.step[1]))

    def backward_flow(self) -> np.ndarray:
        """Flow from frame t+1 to frame t: where each pixel of t+1 was in t."""
        return self._constant(self.step)

    def _constant(self, value: tuple[int, int]) -> np.ndarray:
        width, height = self.frames[0].size
        flow = np.empty((height, width, 2), np.float32)
        flow[..., 0], flow[..., 1] = value
        return flow


def pan(
    count: int = 8, size: tuple[int, int] = (64, 48), step: tuple[int, int] = (3, 1), *, source_width: int = 160
) -> Pan:
    """`count` frames of `size` panning `step` px per frame over the cat (scaled to `source_width`)."""
    source = source_image(source_width)
    width, height = size
    origin = (source.width - width - step[0] * (count - 1)) // 2, (source.height - height - step[1] * (count - 1)) // 2
    if min(origin) < 0:
        raise ValueError("the pan leaves the source image: use fewer frames, a smaller step or a wider source")
    frames = []
    for t in range(count):
        left, top = origin[0] + t * step[0], origin[1] + t * step[1]
        frames.append(source.crop((left, top, left + width, top + height)))
    return Pan(frames, step)


@dataclass(frozen=True)
class Zoom:
    """A zoom in by `factor` per frame about the picture's centre: frame t samples the source at
    `centre + (x - centre) / factor**t`, so the point at x in frame t is at
    `centre + (x - centre) * factor` in frame t+1 (up to the bicubic sampling of the source)."""

    frames: list[Image.Image]
    factor: float

    def forward_flow(self) -> np.ndarray:
        """Flow from frame t to frame t+1, (H, W, 2) as (dx, dy)."""
        width, height = self.frames[0].size
        columns, rows = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
        return np.stack([(columns - centre_x), (rows - centre_y)], axis=2) * np.float32(self.factor - 1)


def zoom(count: int = 8, size: tuple[int, int] = (64, 48), factor: float = 1.04, *, source_width: int = 160) -> Zoom:
    """`count` frames of `size` zooming into the middle of the cat (scaled to `source_width`)."""
    source = source_image(source_width)
    width, height = size
    frames = []
    for t in range(count):
        scale = 1 / factor**t  # source pixels per frame pixel
        # Pixel centres: frame pixel x samples the source at centre + (x - frame centre) * scale.
        offset_x = (source.width - 1) / 2 - (width - 1) / 2 * scale
        offset_y = (source.height - 1) / 2 - (height - 1) / 2 * scale
        # Pillow's affine maps output pixel corners: shift by half a pixel on both sides.
        coefficients = (scale, 0, offset_x + 0.5 - 0.5 * scale, 0, scale, offset_y + 0.5 - 0.5 * scale)
        frames.append(source.transform(size, Image.Transform.AFFINE, coefficients, Image.Resampling.BICUBIC))
    return Zoom(frames, factor)


def flicker(frames: list[Image.Image], amplitude: float = 0.2, seed: int = 0) -> list[Image.Image]:
    """The frames with independent noise added to each: a clip with no temporal consistency."""
    rng = np.random.default_rng(seed)
    noisy = []
    for frame in frames:
        pixels = np.asarray(frame, np.float32) / 255
        pixels = pixels + rng.uniform(-amplitude, amplitude, pixels.shape).astype(np.float32)
        noisy.append(Image.fromarray((np.clip(pixels, 0, 1) * 255).round().astype(np.uint8), "RGB"))
    return noisy


# -- videos, written with PyAV ---------------------------------------------------------------------------


def write_video(
    frames: list[Image.Image],
    container: str,
    codec: str,
    *,
    rate: Fraction = Fraction(25),
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    display_rotation: int = 0,
    sound: bool = False,
) -> bytes:
    """Encode `frames` into `container` ("mp4", "mov", "webm", "matroska") with `codec`.

    Constant `rate` by default; with `pts` (in `time_base`), each frame's presentation time is given
    (variable frame rate). B-frames are off so that the muxer's sample durations follow the pts.
    `display_rotation` records how a player must turn the picture (counter-clockwise degrees), as
    phones do; `sound` adds a second of AAC tone.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip.{container}"
        with av.open(str(path), "w", format=container, options=container_options or {}) as output:
            stream = output.add_stream(codec, rate=rate, options={"bf": "0", **(options or {})})
            stream.width, stream.height = frames[0].size
            stream.pix_fmt = pix_fmt
            if time_base is not None:
                stream.time_base = time_base
                stream.codec_context.time_base = time_base
            if display_rotation:
                stream.set_display_rotation(display_rotation)
            if sound:
                _add_tone(output, output.add_stream("aac", rate=48_000, layout="mono"), seconds=1.0)
            for index, image in enumerate(frames):
                frame = av.VideoFrame.from_image(image)
                if pts is not None:
                    frame.pts = pts[index]
                    frame.time_base = time_base
                for packet in stream.encode(frame):
                    output.mux(packet)
            for packet in stream.encode():
                output.mux(packet)
        return path.read_bytes()


def mp4_ntsc(frames: list[Image.Image]) -> bytes:
    """H.264 MP4 at 30000/1001 fps (NTSC's 29.97), with B-frames (decoded out of order)."""
    return write_video(frames, "mp4", "libx264", rate=NTSC_RATE, options={"bf": "3"})


def vfr_pts(count: int) -> list[int]:
    """Presentation times (in VFR_TIME_BASE) with uneven gaps: 40, 40, 100, 20, 250, … ms."""
    gaps_ms = [40, 40, 100, 20, 250, 60, 33, 70, 45]
    pts, now = [], 0
    for index in range(count):
        pts.append(now)
        now += gaps_ms[index % len(gaps_ms)] * 90
    return pts


def mp4_vfr(frames: list[Image.Image]) -> tuple[bytes, list[int]]:
    """H.264 MP4 with variable frame rate; also the pts written (in VFR_TIME_BASE)."""
    pts = vfr_pts(len(frames))
    return write_video(frames, "mp4", "libx264", pts=pts, time_base=VFR_TIME_BASE), pts


def webm(frames: list[Image.Image], rate: Fraction = Fraction(24)) -> bytes:
    """VP9 WebM."""
    return write_video(frames, "webm", "libvpx-vp9", rate=rate, options={"lossless": "1"})


def live_webm(frames: list[Image.Image], rate: Fraction = Fraction(24)) -> bytes:
    """VP9 WebM as a browser's MediaRecorder writes it: no duration and no frame count in the header."""
    return write_video(frames, "webm", "libvpx-vp9", rate=rate, container_options={"live": "1"})


def webm_claiming(frames: list[Image.Image], seconds: float, rate: Fraction = Fraction(24)) -> bytes:
    """A WebM whose header lies about its length: its Duration says `seconds` whatever it holds."""
    data = bytearray(webm(frames, rate))
    position = data.find(b"\x44\x89\x88")  # the Duration element: ID 0x4489, an 8-byte float
    data[position + 3 : position + 11] = struct.pack(">d", seconds * 1000)  # in milliseconds
    return bytes(data)


def mov(frames: list[Image.Image], rate: Fraction = Fraction(30)) -> bytes:
    """H.264 in a QuickTime MOV (brand 'qt  ')."""
    return write_video(frames, "mov", "libx264", rate=rate)


def qtrle_mov(frames: list[Image.Image]) -> bytes:
    """QuickTime Animation (qtrle) in a MOV: a real codec outside the decoder's allow-list."""
    return write_video(frames, "mov", "qtrle", pix_fmt="rgb24")


def zero_frame_mp4(size: tuple[int, int] = (64, 48)) -> bytes:
    """An MP4 whose H.264 track lists no samples: a recording stopped before its first frame.

    FFmpeg's muxer leaves out a track without samples, so this writes one frame and then sets the
    entry counts of the track's sample tables to zero.
    """
    data = bytearray(write_video([Image.new("RGB", size, (90, 120, 150))], "mp4", "libx264"))
    # (box, offset of its count after the 4-byte type): version/flags first, stsz a sample size too.
    for box, offset in ((b"stts", 4), (b"stsc", 4), (b"stsz", 8), (b"stco", 4)):
        position = data.find(box) + 4 + offset
        data[position : position + 4] = bytes(4)
    return bytes(data)


def audio_only(container: str = "mp4", seconds: float = 0.5) -> bytes:
    """A sine tone and no video track: AAC in MP4 (an .m4a), or Opus in WebM."""
    codec = "aac" if container in ("mp4", "mov") else "libopus"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"tone.{container}"
        with av.open(str(path), "w", format=container) as output:
            _add_tone(output, output.add_stream(codec, rate=48_000, layout="mono"), seconds=seconds)
        return path.read_bytes()


def _add_tone(output: av.container.OutputContainer, stream: av.AudioStream, *, seconds: float) -> None:
    """Encode and mux `seconds` of a 440 Hz sine into the audio `stream`."""
    rate = stream.codec_context.sample_rate
    samples = np.sin(2 * math.pi * 440 * np.arange(int(rate * seconds)) / rate).astype(np.float32)
    size = stream.codec_context.frame_size or 1024
    for start in range(0, len(samples) - size + 1, size):
        frame = av.AudioFrame.from_ndarray(samples[start : start + size].reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode():
        output.mux(packet)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first `keep` share of a file, as an interrupted download leaves it."""
    return data[: int(len(data) * keep)]


def garbled(data: bytes, start: float = 0.3, seed: int = 0) -> bytes:
    """The file with everything after `start` (a share of its length) replaced by random bytes."""
    cut = int(len(data) * start)
    noise = np.random.default_rng(seed).integers(0, 256, len(data) - cut, dtype=np.uint8).tobytes()
    return data[:cut] + noise


def garbled_box(data: bytes, box: bytes, seed: int = 0) -> bytes:
    """An MP4/MOV with the contents of its top-level `box` (b"moov": the index) replaced by noise,
    its size and everything else intact."""
    start = data.index(box) - 4
    size = int.from_bytes(data[start : start + 4], "big")
    noise = np.random.default_rng(seed).integers(0, 256, size - 8, dtype=np.uint8).tobytes()
    return data[: start + 8] + noise + data[start + size :]


# -- animated images, written with Pillow -----------------------------------------------------------------


def gif(
    frames: list[Image.Image], durations_ms: list[int], *, loop: int | None = 0, transparency: bool = False
) -> bytes:
    """An animated GIF with per-frame durations; `loop` None writes no loop extension (plays once).

    With `transparency`, the frames must be RGBA: fully transparent pixels become the GIF's
    transparent index, and each frame is restored to the background (disposal 2), so a viewer shows
    the page through them.
    """
    buffer = io.BytesIO()
    extra: dict[str, object] = {} if loop is None else {"loop": loop}
    if transparency:
        paletted = [_paletted_with_transparency(frame) for frame in frames]
        paletted[0].save(
            buffer,
            "GIF",
            save_all=True,
            append_images=paletted[1:],
            duration=durations_ms,
            disposal=2,
            transparency=255,
            optimize=False,
            **extra,
        )
    else:
        frames[0].save(
            buffer, "GIF", save_all=True, append_images=frames[1:], duration=durations_ms, optimize=False, **extra
        )
    return buffer.getvalue()


def _paletted_with_transparency(frame: Image.Image) -> Image.Image:
    """RGBA to a palette image whose index 255 marks the fully transparent pixels."""
    rgba = np.asarray(frame.convert("RGBA"))
    paletted = frame.convert("RGB").quantize(colors=255)
    indices = np.asarray(paletted).copy()
    indices[rgba[..., 3] == 0] = 255
    result = Image.fromarray(indices, "P")
    palette = paletted.getpalette() or []
    result.putpalette(palette[: 255 * 3] + [0, 0, 0] * (256 - len(palette[: 255 * 3]) // 3))
    return result


def webp(frames: list[Image.Image], durations_ms: list[int], *, loop: int = 0) -> bytes:
    """A lossless animated WebP with per-frame durations."""
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "WEBP", save_all=True, append_images=frames[1:], duration=durations_ms, loop=loop, lossless=True
    )
    return buffer.getvalue()


def with_hole(frame: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """`frame` as RGBA with `box` (left, top, right, bottom) fully transparent."""
    rgba = np.asarray(frame.convert("RGBA")).copy()
    left, top, right, bottom = box
    rgba[top:bottom, left:right, 3] = 0
    return Image.fromarray(rgba, "RGBA")
