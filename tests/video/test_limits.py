"""The frame limit and the frames × pixels (bomb) limit: refused from the header before any frame is
decoded, enforced again while decoding (headers can lie or say nothing), and truncation on request.

Every decoded frame passes through the decode's `DecodeBudget`; `RecordingLimits` keeps the budgets
a decode made, which is how these tests see whether (and how far) decoding started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise

import clips
import pytest

from stylecore.errors import OptionsError
from stylecore.video import Clip, TooManyFramesError, VideoLimits, VideoTooLargeError, load_clip
from stylecore.video.limits import DecodeBudget

FRAME = 64 * 48  # the pan's frame size in pixels


@dataclass(frozen=True)
class RecordingLimits(VideoLimits):
    budgets: list[DecodeBudget] = field(default_factory=list)

    def budget(self, label: str, *, truncate: bool) -> DecodeBudget:
        budget = super().budget(label, truncate=truncate)
        self.budgets.append(budget)
        return budget


def _clip(result: object) -> Clip:
    assert isinstance(result, Clip)
    return result


def test_too_many_frames_in_the_header_is_refused_before_decoding(ntsc_mp4: bytes) -> None:
    limits = RecordingLimits(max_frames=5)
    with pytest.raises(TooManyFramesError, match=r"^clip\.mp4 has 8 frames; the limit is 5\.$"):
        load_clip(ntsc_mp4, name="clip.mp4", limits=limits)
    assert limits.budgets == []  # no decode began


def test_the_header_check_does_not_need_decodable_frames(pan: clips.Pan) -> None:
    # The header is intact, the frames are noise: refused for its length, not for the damage, so
    # the refusal came from the header alone.
    faststart = clips.write_video(pan.frames, "mp4", "libx264", container_options={"movflags": "+faststart"})
    damaged = clips.garbled(faststart, start=faststart.index(b"mdat") / len(faststart) + 0.05)
    with pytest.raises(TooManyFramesError, match="has 8 frames"):
        load_clip(damaged, limits=VideoLimits(max_frames=5))
    with pytest.raises(VideoTooLargeError, match="8 frames"):
        load_clip(damaged, limits=VideoLimits(max_total_pixels=8 * FRAME - 1))


@pytest.mark.parametrize("make", ["gif", "webm"])
def test_gif_and_webm_frame_counts_are_checked_before_decoding(pan: clips.Pan, make: str) -> None:
    # GIF: Pillow counts frames by walking the blocks; WebM states no count: duration × rate.
    data = clips.gif(pan.frames, [50] * 8) if make == "gif" else clips.webm(pan.frames)
    limits = RecordingLimits(max_frames=5)
    with pytest.raises(TooManyFramesError, match="has 8 frames"):
        load_clip(data, limits=limits)
    assert limits.budgets == []


def test_frames_times_pixels_over_the_limit_is_refused_from_the_header(ntsc_mp4: bytes) -> None:
    limits = RecordingLimits(max_total_pixels=8 * FRAME - 1)
    with pytest.raises(VideoTooLargeError, match=r"64×48 × 8 frames = 24,576 pixels; the limit is 24,575\."):
        load_clip(ntsc_mp4, limits=limits)
    assert limits.budgets == []
    assert len(_clip(load_clip(ntsc_mp4, limits=VideoLimits(max_total_pixels=8 * FRAME))).frames) == 8


def test_a_frame_over_the_still_image_limit_is_refused(ntsc_mp4: bytes) -> None:
    with pytest.raises(VideoTooLargeError, match="pixels a frame"):
        load_clip(ntsc_mp4, limits=VideoLimits(max_frame_pixels=FRAME - 1))


def test_a_header_that_says_nothing_is_enforced_while_decoding(pan: clips.Pan) -> None:
    # A browser's live WebM declares neither a frame count nor a duration.
    data = clips.live_webm(pan.frames)
    limits = RecordingLimits(max_frames=5)
    with pytest.raises(TooManyFramesError, match="more than 5 frames"):
        load_clip(data, limits=limits)
    assert limits.budgets[0].frames == 5  # stopped at the sixth frame

    bomb = RecordingLimits(max_total_pixels=3 * FRAME)
    with pytest.raises(VideoTooLargeError, match="decodes to more than 9,216 pixels"):
        load_clip(data, limits=bomb)
    assert bomb.budgets[0].frames == 3


def test_a_header_that_lies_is_caught_while_decoding(pan: clips.Pan) -> None:
    # Its Duration claims 40 ms (one frame at 24 fps) for eight frames.
    liar = clips.webm_claiming(pan.frames, seconds=0.04)
    limits = RecordingLimits(max_frames=2)
    with pytest.raises(TooManyFramesError, match="more than 2 frames"):
        load_clip(liar, limits=limits)
    assert limits.budgets[0].frames == 2


def test_truncate_keeps_the_first_frames_with_their_own_durations(pan: clips.Pan) -> None:
    data, pts = clips.mp4_vfr(pan.frames)
    clip = _clip(load_clip(data, limits=VideoLimits(max_frames=5), truncate=True))
    gaps = [Fraction(later - earlier) * clips.VFR_TIME_BASE for earlier, later in pairwise(pts)]
    assert clip.durations == tuple(gaps[:5])  # the fifth lasts until the sixth would start


def test_truncate_counts_only_the_kept_frames_against_the_bomb_limit(ntsc_mp4: bytes) -> None:
    limits = VideoLimits(max_frames=5, max_total_pixels=5 * FRAME)
    clip = _clip(load_clip(ntsc_mp4, limits=limits, truncate=True))
    assert len(clip.frames) == 5
    with pytest.raises(VideoTooLargeError):
        load_clip(ntsc_mp4, limits=VideoLimits(max_frames=5, max_total_pixels=5 * FRAME - 1), truncate=True)


@pytest.mark.parametrize("make", ["gif", "live_webm"])
def test_truncate_works_for_every_decoder(pan: clips.Pan, make: str) -> None:
    data = clips.gif(pan.frames, [30, 40, 50, 60, 70, 80, 90, 100]) if make == "gif" else clips.live_webm(pan.frames)
    clip = _clip(load_clip(data, limits=VideoLimits(max_frames=3), truncate=True))
    assert len(clip.frames) == 3
    if make == "gif":
        assert clip.durations == (Fraction(3, 100), Fraction(4, 100), Fraction(5, 100))


def test_limits_must_be_positive() -> None:
    with pytest.raises(OptionsError, match="max_frames"):
        VideoLimits(max_frames=0)
