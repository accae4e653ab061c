"""encode_clip: every output kind decodes back to the same frames with their timing and loop count,
MP4 is what browsers and Discord play inline, odd sizes work, and a byte limit is met by
re-encoding smaller, saying how."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import clips
import numpy as np
import pytest
from PIL import Image

from stylecore.errors import OptionsError
from stylecore.video import Clip, encode_clip, load_clip
from stylecore.video.encode import GIF_COLOURS, MP4_CRF, WEBP_QUALITY, _encode


def _clip(result: object) -> Clip:
    assert isinstance(result, Clip)
    return result


def _difference(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())


@pytest.fixture(scope="module")
def vfr_clip(pan: clips.Pan) -> Clip:
    return _clip(load_clip(clips.mp4_vfr(pan.frames)[0]))


@pytest.fixture(scope="module")
def gif_clip(pan: clips.Pan) -> Clip:
    return _clip(load_clip(clips.gif(pan.frames, [30, 40, 50, 60, 70, 80, 90, 100], loop=2)))


def test_mp4_keeps_every_frames_exact_timing(vfr_clip: Clip, gif_clip: Clip) -> None:
    for clip in (vfr_clip, gif_clip):
        encoded = encode_clip(clip, "mp4")
        back = _clip(load_clip(encoded.data))
        assert (encoded.format, encoded.frames, encoded.fit) == ("mp4", 8, None)
        assert back.durations == clip.durations  # variable frame rate, last frame included
        assert back.size == clip.size
        for frame, original in zip(back.frames, clip.frames, strict=True):
            assert _difference(frame, original) < 10


def test_mp4_is_what_browsers_play_inline(vfr_clip: Clip) -> None:
    data = encode_clip(vfr_clip, "mp4").data
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: playable while downloading
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.codec.canonical_name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.time_base == Fraction(1, 90_000)
        frame = next(container.decode(stream))
        assert (frame.colorspace, frame.color_primaries, frame.color_trc, frame.color_range) == (1, 1, 1, 1)


def test_mp4_colours_survive(pan: clips.Pan) -> None:
    colours = [(200, 30, 40), (20, 180, 60), (30, 60, 220), (240, 240, 240), (10, 10, 10), (128, 128, 128)]
    clip = Clip(tuple(Image.new("RGB", (32, 32), c) for c in colours), (Fraction(1, 10),) * 6, "mp4")
    back = _clip(load_clip(encode_clip(clip, "mp4").data))
    for frame, colour in zip(back.frames, colours, strict=True):
        assert np.abs(np.asarray(frame, np.float32).mean(axis=(0, 1)) - colour).max() < 4


@pytest.mark.parametrize("size", [(63, 47), (64, 47), (33, 64)])
def test_odd_sizes_become_even_for_h264_and_stay_for_gif_and_webp(pan: clips.Pan, size: tuple[int, int]) -> None:
    frames = tuple(frame.resize(size) for frame in pan.frames[:4])
    clip = Clip(frames, (Fraction(1, 20),) * 4, "mp4")
    mp4 = encode_clip(clip, "mp4")
    even = (size[0] + size[0] % 2, size[1] + size[1] % 2)
    assert (mp4.width, mp4.height) == even
    back = _clip(load_clip(mp4.data))
    assert back.size == even
    assert _difference(back.frames[0].resize(size), frames[0]) < 10
    for kind in ("gif", "webp"):
        assert _clip(load_clip(encode_clip(clip, kind).data)).size == size


def test_gif_and_webp_keep_timing_at_their_resolution(vfr_clip: Clip) -> None:
    # GIF counts hundredths, WebP milliseconds: times are rounded, never drifting.
    for kind, unit in (("gif", Fraction(1, 100)), ("webp", Fraction(1, 1000))):
        back = _clip(load_clip(encode_clip(vfr_clip, kind).data))
        assert len(back.frames) == 8
        for exact, kept in zip(vfr_clip.timestamps, back.timestamps, strict=True):
            assert abs(exact - kept) <= unit / 2
        assert abs(back.duration - vfr_clip.duration) <= unit / 2


def test_frames_are_never_shorter_than_browsers_play(pan: clips.Pan) -> None:
    clip = Clip(tuple(pan.frames[:4]), (Fraction(1, 60), Fraction(1, 60), Fraction(1, 200), Fraction(1, 200)), "mp4")
    gif = _clip(load_clip(encode_clip(clip, "gif").data))
    # 1/60 s becomes 2 hundredths (not 1, which browsers would play as 1/10 s), and so does 5 ms.
    assert gif.durations == (Fraction(2, 100),) * 4
    webp = _clip(load_clip(encode_clip(clip, "webp").data))
    assert webp.durations[:2] == (Fraction(17, 1000), Fraction(16, 1000))  # 16.7 ms, rounding kept even
    assert webp.durations[2:] == (Fraction(11, 1000),) * 2


@pytest.mark.parametrize("plays", [0, 1, 3, None])
@pytest.mark.parametrize("kind", ["gif", "webp"])
def test_animations_loop_like_the_source(pan: clips.Pan, plays: int | None, kind: str) -> None:
    clip = Clip(tuple(pan.frames[:3]), (Fraction(1, 10),) * 3, "gif", plays)
    back = _clip(load_clip(encode_clip(clip, kind).data))
    assert back.plays == (0 if plays is None else plays)  # a video (no loop count) loops forever


def test_gif_and_webp_pictures_survive(gif_clip: Clip) -> None:
    for kind, tolerance in (("gif", 8), ("webp", 8)):
        back = _clip(load_clip(encode_clip(gif_clip, kind).data))
        for frame, original in zip(back.frames, gif_clip.frames, strict=True):
            assert _difference(frame, original) < tolerance


@pytest.fixture(scope="module")
def bigger_clip() -> Clip:
    pan = clips.pan(size=(128, 96), source_width=300)
    return _clip(load_clip(clips.webp(pan.frames, [40] * 8)))


@pytest.mark.parametrize(("kind", "ladder"), [("mp4", MP4_CRF), ("webp", WEBP_QUALITY), ("gif", GIF_COLOURS)])
def test_a_byte_limit_is_met_by_lower_quality_first(bigger_clip: Clip, kind: str, ladder: tuple[int, ...]) -> None:
    best = len(_encode(bigger_clip, kind, ladder[0]))
    lowest = len(_encode(bigger_clip, kind, ladder[-1]))
    limit = (best + lowest) // 2
    encoded = encode_clip(bigger_clip, kind, max_bytes=limit)
    assert len(encoded.data) <= limit
    assert (encoded.width, encoded.height) == (128, 96)
    assert encoded.quality != ladder[0]
    assert encoded.fit is not None
    assert encoded.fit.startswith("re-encoded at lower quality to fit")


@pytest.mark.parametrize(("kind", "ladder"), [("mp4", MP4_CRF), ("webp", WEBP_QUALITY), ("gif", GIF_COLOURS)])
def test_a_byte_limit_is_met_by_a_smaller_size_when_quality_is_not_enough(
    bigger_clip: Clip, kind: str, ladder: tuple[int, ...]
) -> None:
    limit = len(_encode(bigger_clip, kind, ladder[-1])) - 1
    encoded = encode_clip(bigger_clip, kind, max_bytes=limit)
    assert len(encoded.data) <= limit
    assert encoded.width < 128
    assert encoded.fit is not None
    assert f"at {encoded.width} px" in encoded.fit
    back = _clip(load_clip(encoded.data))
    assert len(back.frames) == 8  # every frame kept, with its timing
    assert back.durations == bigger_clip.durations


def test_a_limit_nothing_fits_is_a_clear_error(bigger_clip: Clip) -> None:
    # An MP4 has about 1.6 KB of headers whatever it holds.
    with pytest.raises(OptionsError, match=r"cannot fit the clip into 1 KiB, even at 16 px"):
        encode_clip(bigger_clip, "mp4", max_bytes=1024)


def test_bad_arguments(bigger_clip: Clip) -> None:
    with pytest.raises(OptionsError, match="mp4, gif or webp"):
        encode_clip(bigger_clip, "avi")
    with pytest.raises(OptionsError, match="under 1 KiB"):
        encode_clip(bigger_clip, "gif", max_bytes=500)


def test_a_clip_needs_consistent_frames_and_durations(pan: clips.Pan) -> None:
    with pytest.raises(OptionsError, match="one duration per frame"):
        Clip(tuple(pan.frames), (Fraction(1, 10),), "mp4")
    with pytest.raises(OptionsError, match="positive"):
        Clip(tuple(pan.frames[:2]), (Fraction(1, 10), Fraction(0)), "mp4")
    with pytest.raises(OptionsError, match="RGB images of 64×48"):
        Clip((pan.frames[0], pan.frames[1].resize((10, 10))), (Fraction(1, 10),) * 2, "mp4")
