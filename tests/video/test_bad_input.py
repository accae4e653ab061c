"""load_clip on bad input: each kind of fault gets its typed error and a one-line message naming it.

Every error is also an ImageError (and the matching still-image error), so callers that handle
stills keep working.
"""

from __future__ import annotations

from pathlib import Path

import clips
import pytest

from stylecore.errors import (
    CorruptImageError,
    EmptyImageError,
    ImageError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from stylecore.video import (
    CorruptVideoError,
    EmptyVideoError,
    NotAVideoError,
    NoVideoStreamError,
    TooManyFramesError,
    UnsupportedCodecError,
    VideoTooLargeError,
    load_clip,
)


def _refused(data: bytes, error: type[Exception], name: str = "clip.mp4") -> str:
    with pytest.raises(error) as caught:
        load_clip(data, name=name)
    assert isinstance(caught.value, ImageError)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(name)
    return message


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_mp4_is_corrupt(ntsc_mp4: bytes, keep: float) -> None:
    message = _refused(clips.truncated(ntsc_mp4, keep), CorruptVideoError)
    assert "truncated" in message


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_mp4_with_its_index_in_front_is_corrupt(pan: clips.Pan, keep: float) -> None:
    faststart = clips.write_video(pan.frames, "mp4", "libx264", container_options={"movflags": "+faststart"})
    assert faststart.index(b"moov") < faststart.index(b"mdat")
    assert "truncated" in _refused(clips.truncated(faststart, keep), CorruptVideoError)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_webm_is_corrupt(pan: clips.Pan, keep: float) -> None:
    # FFmpeg decodes what is there without complaint; the Segment's declared size gives it away.
    message = _refused(clips.truncated(clips.webm(pan.frames), keep), CorruptVideoError, "clip.webm")
    assert "truncated" in message


def test_damaged_webm_data_is_corrupt(pan: clips.Pan) -> None:
    # The structure is intact (the file has its full length); the frames are noise.
    message = _refused(clips.garbled(clips.webm(pan.frames), start=0.6), CorruptVideoError, "clip.webm")
    assert "damaged" in message


def test_damaged_mp4_is_corrupt(pan: clips.Pan) -> None:
    faststart = clips.write_video(pan.frames, "mp4", "libx264", container_options={"movflags": "+faststart"})
    damaged = clips.garbled(faststart, start=faststart.index(b"mdat") / len(faststart) + 0.05)
    assert len(damaged) == len(faststart)
    assert "damaged" in _refused(damaged, CorruptVideoError)


def test_mp4_whose_index_is_noise_is_corrupt(ntsc_mp4: bytes) -> None:
    assert "damaged" in _refused(clips.garbled_box(ntsc_mp4, b"moov"), CorruptVideoError)


def test_webm_whose_header_is_noise_is_corrupt(pan: clips.Pan) -> None:
    # The EBML header and the Segment's size are intact; what follows is noise: FFmpeg cannot open it.
    data = clips.garbled(clips.webm(pan.frames), start=0.02)
    assert "truncated or damaged" in _refused(data, CorruptVideoError, "clip.webm")


def test_truncated_gif_is_corrupt(pan: clips.Pan) -> None:
    data = clips.gif(pan.frames, [50] * 8)
    assert "truncated" in _refused(clips.truncated(data, 0.7), CorruptVideoError, "a.gif")


@pytest.mark.parametrize("container", ["mp4", "webm"])
def test_audio_only_file_has_no_video(container: str) -> None:
    message = _refused(clips.audio_only(container), NoVideoStreamError, "song.m4a")
    assert "no video" in message
    assert "audio" in message


def test_video_track_without_frames_is_empty() -> None:
    message = _refused(clips.zero_frame_mp4(), EmptyVideoError)
    assert "no frames" in message


def test_codec_outside_the_allow_list_is_unsupported(pan: clips.Pan) -> None:
    # QuickTime Animation: FFmpeg could decode it, but only common codecs reach a decoder.
    message = _refused(clips.qtrle_mov(pan.frames), UnsupportedCodecError, "old.mov")
    assert "qtrle" in message
    assert "H.264" in message


@pytest.mark.parametrize(
    "data",
    [b"just some text, not a video at all" * 4, b"\x00\x01\x02\x03" * 64, b"%PDF-1.7\n" + bytes(200)],
)
def test_not_a_video_at_all(data: bytes) -> None:
    message = _refused(data, NotAVideoError, "notes.mp4")
    assert "not a video" in message
    assert "MP4" in message


def test_empty_file_and_missing_file() -> None:
    _refused(b"", EmptyImageError)
    with pytest.raises(UnsupportedImageError, match="no such file"):
        load_clip(Path("/nonexistent/clip.mp4"))


def test_errors_are_the_matching_still_image_errors() -> None:
    assert issubclass(CorruptVideoError, CorruptImageError)
    assert issubclass(VideoTooLargeError, ImageTooLargeError)
    assert issubclass(TooManyFramesError, ImageTooLargeError)
    for unsupported in (NotAVideoError, NoVideoStreamError, UnsupportedCodecError):
        assert issubclass(unsupported, UnsupportedImageError)
    assert issubclass(EmptyVideoError, ImageError)
