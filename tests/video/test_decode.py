"""load_clip on good input: every format by content, frames in order, timing and loop count kept."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from fractions import Fraction

import clips
import numpy as np
import pytest
from PIL import Image

from stylecore.images import resize_to
from stylecore.video import Clip, Still, detect_format, load_clip


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per colour value, 0–255."""
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())


def _assert_same_pictures(clip: Clip, originals: list[Image.Image], tolerance: float) -> None:
    """Each decoded frame looks like its original, and more like it than like any other frame (order)."""
    assert len(clip.frames) == len(originals)
    for index, frame in enumerate(clip.frames):
        differences = [_difference(frame, original) for original in originals]
        assert differences[index] < tolerance, (index, differences[index])
        assert int(np.argmin(differences)) == index


def _clip(result: Clip | Still) -> Clip:
    assert isinstance(result, Clip), result
    return result


def test_mp4_at_ntsc_rate_keeps_every_frame_in_order_with_its_exact_duration(pan: clips.Pan, ntsc_mp4: bytes) -> None:
    clip = _clip(load_clip(ntsc_mp4, name="clip.mp4"))
    assert clip.source_format == "mp4"
    assert clip.size == (64, 48)
    assert clip.durations == (Fraction(1001, 30000),) * 8  # B-frames reordered, the rate exact
    assert clip.plays is None
    _assert_same_pictures(clip, pan.frames, tolerance=12)


def test_variable_frame_rate_mp4_keeps_each_frames_own_duration(pan: clips.Pan) -> None:
    data, pts = clips.mp4_vfr(pan.frames)
    clip = _clip(load_clip(data))
    written = [Fraction(later - earlier) * clips.VFR_TIME_BASE for earlier, later in itertools.pairwise(pts)]
    assert list(clip.durations[:-1]) == written
    assert clip.timestamps == tuple(Fraction(p) * clips.VFR_TIME_BASE for p in pts)
    _assert_same_pictures(clip, pan.frames, tolerance=12)


@pytest.mark.parametrize(
    ("make", "kind", "duration"),
    [
        (clips.webm, "webm", Fraction(1, 24)),  # stored in milliseconds (42, 41, 42…): the rate is recovered
        (clips.live_webm, "webm", Fraction(1, 24)),
        (clips.mov, "mov", Fraction(1, 30)),
    ],
)
def test_webm_and_mov_decode_by_content_with_their_rate(
    pan: clips.Pan, make: Callable[[list[Image.Image]], bytes], kind: str, duration: Fraction
) -> None:
    data = make(pan.frames)
    clip = _clip(load_clip(data, name="named.gif"))  # the name says GIF: it is ignored
    assert clip.source_format == kind
    assert clip.durations == (duration,) * 8
    _assert_same_pictures(clip, pan.frames, tolerance=12)


def test_gif_is_composited_as_a_viewer_shows_it_with_transparency_over_white(pan: clips.Pan) -> None:
    holes = [(4 + 3 * t, 6, 20 + 3 * t, 18) for t in range(6)]
    frames = [clips.with_hole(frame, hole) for frame, hole in zip(pan.frames[:6], holes, strict=True)]
    durations = [30, 50, 70, 90, 110, 130]
    clip = _clip(load_clip(clips.gif(frames, durations, loop=0, transparency=True)))
    assert clip.source_format == "gif"
    assert clip.durations == tuple(Fraction(ms, 1000) for ms in durations)
    assert clip.plays == 0
    for frame, original, (left, top, right, bottom) in zip(clip.frames, pan.frames, holes, strict=False):
        pixels = np.asarray(frame)
        # Disposal 2 restores each frame's area to transparent, so the hole shows the (white) page,
        # not the previous frame's pixels there.
        assert (pixels[top:bottom, left:right] == 255).all()
        outside = np.asarray(original).copy()
        outside[top:bottom, left:right] = 255
        assert _difference(frame, Image.fromarray(outside)) < 6  # the rest: the picture (255 colours)


def test_gif_without_transparency_keeps_each_frames_picture(pan: clips.Pan) -> None:
    # Pillow hands out later GIF frames as RGB on the file object itself: each must be a copy.
    clip = _clip(load_clip(clips.gif(pan.frames, [50] * 8)))
    _assert_same_pictures(clip, pan.frames, tolerance=6)


def test_gif_delays_browsers_ignore_become_a_tenth_of_a_second(pan: clips.Pan) -> None:
    clip = _clip(load_clip(clips.gif(pan.frames[:4], [0, 10, 20, 40])))
    assert clip.durations == (Fraction(1, 10), Fraction(1, 10), Fraction(1, 50), Fraction(1, 25))


@pytest.mark.parametrize(("loop", "plays"), [(0, 0), (None, 1), (2, 3)])
def test_gif_loop_count_becomes_the_number_of_plays(pan: clips.Pan, loop: int | None, plays: int) -> None:
    # NETSCAPE loop=2 repeats twice after the first play; no extension plays once.
    assert _clip(load_clip(clips.gif(pan.frames[:3], [50] * 3, loop=loop))).plays == plays


def test_animated_webp_keeps_durations_and_loop_count(pan: clips.Pan) -> None:
    durations = [40, 60, 80, 100, 120, 140, 160, 180]
    clip = _clip(load_clip(clips.webp(pan.frames, durations, loop=3)))
    assert clip.source_format == "webp"
    assert clip.durations == tuple(Fraction(ms, 1000) for ms in durations)
    assert clip.plays == 3
    _assert_same_pictures(clip, pan.frames, tolerance=1)  # lossless


@pytest.mark.parametrize("make", [clips.gif, clips.webp])
def test_a_one_frame_animation_is_a_still(
    pan: clips.Pan, make: Callable[[list[Image.Image], list[int]], bytes]
) -> None:
    result = load_clip(make([pan.frames[0]], [100]))
    assert isinstance(result, Still)
    assert result.image.size == (64, 48)
    assert _difference(result.image, pan.frames[0]) < 6


def test_a_still_image_is_a_still() -> None:
    result = load_clip(clips.SOURCE)
    assert isinstance(result, Still)
    assert result.image.size == (451, 300)


def test_display_rotation_is_applied_like_a_player(pan: clips.Pan) -> None:
    clip = _clip(load_clip(clips.write_video(pan.frames, "mp4", "libx264", display_rotation=90)))
    assert clip.size == (48, 64)
    turned = [frame.transpose(Image.Transpose.ROTATE_90) for frame in pan.frames]  # counter-clockwise
    _assert_same_pictures(clip, turned, tolerance=12)


def test_sound_is_dropped_and_the_pictures_kept(pan: clips.Pan) -> None:
    clip = _clip(load_clip(clips.write_video(pan.frames, "mp4", "libx264", sound=True)))
    assert len(clip.frames) == 8
    assert clip.durations == (Fraction(1, 25),) * 8


def test_size_scales_frames_like_a_still_while_decoding(pan: clips.Pan, ntsc_mp4: bytes) -> None:
    clip = _clip(load_clip(ntsc_mp4, size=32))
    assert clip.size == (32, 24)
    _assert_same_pictures(clip, [resize_to(frame, 32) for frame in pan.frames], tolerance=12)
    gif = _clip(load_clip(clips.gif(pan.frames, [50] * 8), size=32))
    assert gif.size == (32, 24)


def test_resized_keeps_timing_and_loop(pan: clips.Pan) -> None:
    clip = _clip(load_clip(clips.gif(pan.frames[:3], [30, 40, 50], loop=None)))
    smaller = clip.resized(20)
    assert smaller.size == (20, 15)
    assert (smaller.durations, smaller.plays, smaller.source_format) == (clip.durations, 1, "gif")


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"GIF89a", "gif"),
        (b"RIFF\0\0\0\0WEBPVP8X", "webp"),
        (b"\x1a\x45\xdf\xa3", "webm"),
        (b"\0\0\0\x20ftypisom", "mp4"),
        (b"\0\0\0\x14ftypqt  ", "mov"),
        (b"\0\0\0\x20ftypheic", None),  # a HEIF photo: still-image path
        (b"\x89PNG\r\n\x1a\n", None),
        (b"hello world", None),
    ],
)
def test_format_is_detected_from_the_first_bytes(head: bytes, kind: str | None) -> None:
    assert detect_format(head + bytes(32)) == kind


def test_bytes_after_the_last_box_do_not_make_an_mp4_truncated(pan: clips.Pan, ntsc_mp4: bytes) -> None:
    # Some writers pad or leave junk at the end; only a real box that runs past the end is truncation.
    clip = _clip(load_clip(ntsc_mp4 + bytes(range(200, 256))))
    _assert_same_pictures(clip, pan.frames, tolerance=12)
