"""The warping error (Lai et al. 2018): 0 for outputs that move exactly with the inputs, large for
flicker, and in between for small independent changes."""

from __future__ import annotations

import clips
import numpy as np
import pytest
from PIL import Image

from stylecore.errors import OptionsError
from stylecore.video import warping_error


def _recoloured(frames: list[Image.Image]) -> list[Image.Image]:
    """A stand-in for a stylised clip that is perfectly consistent: the same recolouring on every
    frame moves exactly with the content."""
    return [Image.fromarray(255 - np.asarray(frame)[..., ::-1]) for frame in frames]


def test_outputs_that_move_with_the_inputs_have_no_warping_error(pan: clips.Pan) -> None:
    assert warping_error(pan.frames, pan.frames) < 1e-4
    assert warping_error(pan.frames, _recoloured(pan.frames)) < 1e-4


def test_flicker_has_a_large_warping_error(pan: clips.Pan) -> None:
    steady = warping_error(pan.frames, _recoloured(pan.frames))
    slight = warping_error(pan.frames, clips.flicker(_recoloured(pan.frames), amplitude=0.05))
    strong = warping_error(pan.frames, clips.flicker(_recoloured(pan.frames), amplitude=0.3))
    assert steady < 1e-4 < slight < strong
    # Independent uniform noise of amplitude a in both frames: E[(n1 - n2)²] = 2 a² / 3 per value.
    assert strong == pytest.approx(2 * 0.3**2 / 3, rel=0.25)


def test_a_clip_that_ignores_the_motion_has_an_error(pan: clips.Pan) -> None:
    frozen = [pan.frames[0]] * len(pan.frames)  # the output stands still while the input pans
    assert warping_error(pan.frames, frozen) > 10 * warping_error(pan.frames, pan.frames) + 1e-3


def test_outputs_at_another_size_are_compared_at_their_size(pan: clips.Pan) -> None:
    smaller = [frame.resize((32, 24), Image.Resampling.LANCZOS) for frame in pan.frames]
    assert warping_error(pan.frames, smaller) < 2e-3
    arrays = [np.asarray(frame, np.float32) / 255 for frame in pan.frames]
    assert warping_error(arrays, arrays) < 1e-4


def test_arguments_are_checked(pan: clips.Pan) -> None:
    with pytest.raises(OptionsError, match="one output per input"):
        warping_error(pan.frames, pan.frames[:3])
    with pytest.raises(OptionsError, match="at least two"):
        warping_error(pan.frames[:1], pan.frames[:1])
