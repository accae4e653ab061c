"""MP4, MOV and WebM, decoded with PyAV (FFmpeg) into frames with their presentation times.

Only the first video track is read; audio (and subtitle, data) tracks are ignored: a clip has no
sound. Each frame keeps its own presentation time, so variable frame rate survives.
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Literal

import av
from av.stream import Disposition
from av.video.stream import VideoStream
from PIL import Image

from ..images import resize_to
from .clip import Clip
from .containers import missing_bytes
from .errors import CorruptVideoError, EmptyVideoError, NoVideoStreamError, UnsupportedCodecError
from .limits import VideoLimits

#: Codecs we decode, by FFmpeg's codec name: what phones, browsers and screen recorders write.
#: Everything else (and FFmpeg has hundreds of decoders) is refused before a packet is decoded.
ALLOWED_CODECS: dict[str, str] = {
    "h264": "H.264",
    "hevc": "H.265",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "mpeg4": "MPEG-4 Part 2",
}
#: The one demuxer each detected format may use (FFmpeg's names).
_DEMUXERS = {"mp4": "mov", "mov": "mov", "webm": "matroska"}
#: When a stream states no usable rate.
_FALLBACK_RATE = Fraction(25)
#: A stated rate above this is not a frame rate: FFmpeg falls back to the time base (1/12800 s
#: gives "12800 fps") when a header says nothing better.
_MAX_PLAUSIBLE_RATE = 240


def decode_video(
    data: bytes,
    label: str,
    format: Literal["mp4", "mov", "webm"],
    limits: VideoLimits,
    *,
    truncate: bool,
    size: int | None,
) -> Clip:
    """The first video track's frames as RGB images (display rotation applied), with durations from
    their presentation times. Size and frame count (declared, or estimated from duration × rate)
    are checked against `limits` before decoding, and again frame by frame while decoding."""
    missing = missing_bytes(data, format)
    if missing:
        raise CorruptVideoError(
            f"{label} is truncated or damaged: its structure declares {len(data) + missing:,} bytes "
            f"but the file has {len(data):,}."
        )
    try:
        container = av.open(io.BytesIO(data), mode="r", format=_DEMUXERS[format])
    except av.FFmpegError as exc:
        raise CorruptVideoError(
            f"{label} could not be read: the file is truncated or damaged ({_reason(exc)})."
        ) from None
    with container:
        stream = _video_stream(container, label)
        context = stream.codec_context
        width, height = context.width, context.height
        if width < 1 or height < 1:
            raise CorruptVideoError(f"{label} could not be read: its video track states no picture size.")
        declared = stream.frames or _estimated_frames(stream, container.duration)
        limits.check_declared(label, width, height, declared, truncate=truncate)

        budget = limits.budget(label, truncate=truncate)
        nominal = 1 / (_rate(stream) or _FALLBACK_RATE)
        images: list[Image.Image] = []
        starts: list[Fraction] = []
        end: Fraction | None = None  # when the last kept frame stops showing, if known
        # FFmpeg's default threading (slices): frame threads drop a damaged frame silently instead
        # of reporting it, and decoding is a sliver of a style transfer's time anyway.
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    if frame.pts is not None and frame.time_base is not None:
                        start = frame.pts * frame.time_base
                    else:
                        start = starts[-1] + nominal if starts else Fraction(0)
                    if not budget.admit(frame.width, frame.height):
                        return _clip(images, starts, start, nominal, stream.time_base, format)
                    starts.append(start)
                    images.append(_picture(frame, (width, height), size))
                    end = start + frame.duration * frame.time_base if frame.duration and frame.time_base else None
        except av.error.DecoderNotFoundError:
            raise UnsupportedCodecError(f"{label} uses a codec this FFmpeg cannot decode.") from None
        except av.FFmpegError as exc:
            raise CorruptVideoError(
                f"{label} could not be decoded after {len(images)} frames: the file is damaged ({_reason(exc)})."
            ) from None
        if not images:
            if stream.frames:
                raise CorruptVideoError(
                    f"{label} could not be decoded: none of the {stream.frames} frames its header lists came out."
                )
            raise EmptyVideoError(f"{label} has a video track with no frames in it.")
        return _clip(images, starts, end, nominal, stream.time_base, format)


def _video_stream(container: av.container.InputContainer, label: str) -> VideoStream:
    """The first real video track (cover art in an audio file is a picture, not a video)."""
    if not len(container.streams):
        # FFmpeg opens a file whose index is noise without complaint, and finds nothing in it.
        raise CorruptVideoError(f"{label} could not be read: no tracks were found, so the file is damaged.")
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            break
    else:
        kinds = sorted({stream.type for stream in container.streams if stream.type != "video"})
        if kinds:
            raise NoVideoStreamError(f"{label} has no video, only {' and '.join(kinds)}.")
        raise NoVideoStreamError(f"{label} has no video track.")
    codec = stream.codec_context.codec if stream.codec_context else None
    if codec is None or codec.canonical_name not in ALLOWED_CODECS:
        named = f"{codec.long_name} ({codec.canonical_name})" if codec else "an unknown codec"
        supported = ", ".join(ALLOWED_CODECS.values())
        raise UnsupportedCodecError(f"{label} is {named} video, which is not supported; supported codecs: {supported}.")
    return stream


def _estimated_frames(stream: VideoStream, container_duration: int | None) -> int | None:
    """Frames from duration × rate, when the header states no count (WebM); None if it says neither."""
    rate = _rate(stream)
    if rate is None:
        return None
    if stream.duration and stream.time_base:
        seconds = stream.duration * stream.time_base
    elif container_duration:
        seconds = Fraction(container_duration, av.time_base)
    else:
        return None
    return round(seconds * rate)  # the duration ends with the last frame: a whole number of frames


def _rate(stream: VideoStream) -> Fraction | None:
    """The stream's frame rate: measured from its first frames, else declared; None if implausible."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate and 0 < rate <= _MAX_PLAUSIBLE_RATE:
            return rate
    return None


def _picture(frame: av.VideoFrame, size: tuple[int, int], longest_side: int | None) -> Image.Image:
    image = Image.fromarray(frame.to_ndarray(format="rgb24", src_color_range=frame.color_range or None), "RGB")
    if image.size != size:
        # The stream changed resolution midway: keep one frame size, as players scale to the window.
        image = image.resize(size, Image.Resampling.LANCZOS)
    # The display matrix (phones film sideways and record how to turn it): FFmpeg's angle is
    # counter-clockwise, as is Pillow's.
    quarter_turns = round(frame.rotation / 90) % 4
    if quarter_turns:
        image = image.transpose(
            (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)[quarter_turns - 1]
        )
    return resize_to(image, longest_side) if longest_side else image


def _clip(
    images: list[Image.Image],
    starts: list[Fraction],
    end: Fraction | None,
    nominal: Fraction,
    tick: Fraction | None,
    format: Literal["mp4", "mov", "webm"],
) -> Clip:
    """Durations from successive presentation times, the last up to `end`.

    A gap that is not positive (a broken timestamp, or no `end`) becomes the nominal frame
    duration. A gap within one tick of the time base of it is the nominal duration rounded by the
    container (WebM counts milliseconds: 24 fps is stored as 42, 41, 42 ms), so it is that.
    """
    ends = [*starts[1:], end if end is not None else starts[-1]]
    durations = []
    for earlier, later in zip(starts, ends, strict=True):
        gap = later - earlier
        durations.append(nominal if gap <= 0 or (tick is not None and abs(gap - nominal) <= tick) else gap)
    return Clip(tuple(images), tuple(durations), format)


def _reason(exc: av.FFmpegError) -> str:
    """FFmpeg's own words for what went wrong, without PyAV's errno and file name."""
    return str(exc.strerror or exc).rstrip(".").lower()
