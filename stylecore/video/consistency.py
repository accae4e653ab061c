"""How temporally consistent a processed clip is: the warping error of Lai et al. (2018)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from ..errors import OptionsError
from .flow import DEFAULT_PRESET, FlowPreset, Frame, dense_flow, reliability_mask, warp_image


def warping_error(inputs: Sequence[Frame], outputs: Sequence[Frame], *, preset: FlowPreset = DEFAULT_PRESET) -> float:
    """The warping error of Lai, Huang, Wang, Shechtman, Yumer and Yang, "Learning Blind Video
    Temporal Consistency" (ECCV 2018): lower is steadier, 0 for outputs that move exactly with the
    inputs.

    For each pair of neighbouring frames, output frame t is warped to t+1 along the optical flow of
    the INPUT frames t+1 → t, and compared with output frame t+1 on the pixels the flow can be
    trusted for (not occluded, not out of view: `reliability_mask` without motion boundaries):

        E_t = Σ_x M(x) ‖O_{t+1}(x) − warp(O_t)(x)‖² / (3 Σ_x M(x))

    with frames in [0, 1], so E_t is the mean squared error per colour value, as Lai et al.'s
    evaluate_WarpError.py counts it (each channel of the mask). The result is the mean of E_t over
    the pairs. Inputs are scaled to the outputs' size when they differ (flow from the scaled inputs).
    """
    if len(inputs) != len(outputs):
        raise OptionsError(f"need one output per input frame, not {len(outputs)} for {len(inputs)}")
    if len(inputs) < 2:
        raise OptionsError("the warping error needs at least two frames")
    frames = [_unit_rgb(frame) for frame in outputs]
    height, width = frames[0].shape[:2]
    guides = [_resized(frame, (width, height)) for frame in inputs]
    errors = []
    for t in range(len(frames) - 1):
        forward = dense_flow(guides[t], guides[t + 1], preset=preset)
        backward = dense_flow(guides[t + 1], guides[t], preset=preset)
        mask = reliability_mask(forward, backward, motion_boundaries=False)
        difference = (frames[t + 1] - warp_image(frames[t], backward)) * mask[..., None]
        counted = 3 * mask.sum()
        errors.append(float(np.sum(difference**2) / counted) if counted else 0.0)
    return float(np.mean(errors))


def _unit_rgb(frame: Frame) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1]."""
    if isinstance(frame, Image.Image):
        return np.asarray(frame.convert("RGB"), dtype=np.float32) / 255
    pixels = np.asarray(frame)
    return pixels.astype(np.float32) / 255 if pixels.dtype == np.uint8 else pixels.astype(np.float32)


def _resized(frame: Frame, size: tuple[int, int]) -> Image.Image:
    if not isinstance(frame, Image.Image):
        frame = Image.fromarray((_unit_rgb(frame) * 255).round().astype(np.uint8), "RGB")
    return frame if frame.size == size else frame.convert("RGB").resize(size, Image.Resampling.LANCZOS)
