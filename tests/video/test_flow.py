"""Optical flow, warping (NumPy and PyTorch) and the reliability mask, on clips with known motion."""

from __future__ import annotations

import clips
import numpy as np
import pytest
import torch

from stylecore.errors import OptionsError
from stylecore.video import dense_flow, reliability_mask, temporal_guide, warp_image
from stylecore.video.tensor_warp import warp_tensor

MARGIN = 8  # the interior: away from the strip that enters or leaves the picture


def _interior(array: np.ndarray, margin: int = MARGIN) -> np.ndarray:
    return array[margin:-margin, margin:-margin]


def _endpoint_error(flow: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(_interior(flow) - _interior(truth), axis=2).mean())


@pytest.mark.parametrize("preset", ["ultrafast", "fast", "medium"])
def test_flow_of_a_known_pan_is_accurate(pan: clips.Pan, preset: str) -> None:
    for earlier, later in zip(pan.frames, pan.frames[1:], strict=False):
        assert _endpoint_error(dense_flow(earlier, later, preset=preset), pan.forward_flow()) < 0.25
        assert _endpoint_error(dense_flow(later, earlier, preset=preset), pan.backward_flow()) < 0.25


def test_flow_of_a_known_zoom_is_accurate() -> None:
    zoom = clips.zoom(size=(96, 72))
    truth = zoom.forward_flow()
    for earlier, later in zip(zoom.frames, zoom.frames[1:], strict=False):
        assert _endpoint_error(dense_flow(earlier, later), truth) < 0.3
    # The flow is not just a constant: the zoom moves the corners several pixels apart.
    assert np.abs(truth).max() > 1.5


def test_flow_takes_float_and_uint8_arrays_alike(pan: clips.Pan) -> None:
    a, b = np.asarray(pan.frames[0]), np.asarray(pan.frames[1])
    from_uint8 = dense_flow(a, b)
    from_float = dense_flow(a.astype(np.float32) / 255, b.astype(np.float32) / 255)
    assert from_uint8.shape == (48, 64, 2)
    assert from_uint8.dtype == np.float32
    np.testing.assert_allclose(from_uint8, from_float, atol=1e-3)


def test_warping_a_frame_by_the_true_flow_gives_the_next_frame(pan: clips.Pan) -> None:
    for earlier, later in zip(pan.frames, pan.frames[1:], strict=False):
        warped = warp_image(np.asarray(earlier), pan.backward_flow())
        assert warped.dtype == np.uint8
        # Integer steps: the interior is the same pixels, exactly.
        np.testing.assert_array_equal(_interior(warped), _interior(np.asarray(later)))


def test_warping_by_the_estimated_flow_nearly_gives_the_next_frame(pan: clips.Pan) -> None:
    earlier, later = np.asarray(pan.frames[0], np.float32) / 255, np.asarray(pan.frames[1], np.float32) / 255
    warped = warp_image(earlier, dense_flow(pan.frames[1], pan.frames[0]))
    assert float(np.abs(_interior(warped) - _interior(later)).mean()) < 0.02
    unwarped = float(np.abs(_interior(earlier) - _interior(later)).mean())
    assert unwarped > 0.05  # without the warp the frames differ: the test above means something


def test_tensor_warp_matches_the_numpy_warp(pan: clips.Pan) -> None:
    zoom = clips.zoom()
    flow = zoom.forward_flow() + np.float32(0.3)  # fractional, and pointing outside at the edges
    image = np.asarray(zoom.frames[0], np.float32) / 255
    expected = warp_image(image, flow)
    batch = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).repeat(2, 1, 1, 1)
    warped = warp_tensor(batch, flow)
    assert warped.shape == (2, 3, 48, 64)
    np.testing.assert_allclose(warped[1].permute(1, 2, 0).numpy(), expected, atol=1e-4)
    # A per-item flow (N, H, W, 2) as a tensor works too.
    per_item = torch.from_numpy(np.stack([flow, np.zeros_like(flow)]))
    both = warp_tensor(batch, per_item)
    np.testing.assert_allclose(both[0].permute(1, 2, 0).numpy(), expected, atol=1e-4)
    torch.testing.assert_close(both[1], batch[1])


def test_tensor_warp_passes_gradients_to_the_image(pan: clips.Pan) -> None:
    image = torch.rand(1, 3, 48, 64, requires_grad=True)
    warp_tensor(image, pan.backward_flow()).sum().backward()
    assert image.grad is not None
    assert float(image.grad.abs().sum()) > 0


def test_the_mask_marks_the_strip_that_enters_the_picture(pan: clips.Pan) -> None:
    # The pan moves the content by (-3, -1) a frame: in frame t+1 the right 3 columns and the bottom
    # row were outside frame t. Everything else is visible in both and moves rigidly.
    mask = reliability_mask(pan.forward_flow(), pan.backward_flow())
    assert mask.dtype == np.float32
    assert (mask[:, -3:] == 0).all()
    assert (mask[-1:, :] == 0).all()
    assert (mask[:-1, :-3] == 1).all()


def test_the_mask_from_estimated_flow_marks_the_entering_strip(pan: clips.Pan) -> None:
    guide = temporal_guide(pan.frames[0], pan.frames[1])
    assert _endpoint_error(guide.flow, pan.backward_flow()) < 0.25
    assert (guide.mask[:, -3:] == 0).all()
    assert guide.mask[:-2, :-5].mean() > 0.95


def test_the_mask_marks_disagreeing_flows_as_occluded() -> None:
    # Backward says "came from 5 px left", forward (at that place) says "went 5 px up": occluded,
    # except where both are small (the 0.5 px² slack of the test).
    backward = np.zeros((20, 20, 2), np.float32)
    backward[..., 0] = -5
    forward = np.zeros((20, 20, 2), np.float32)
    forward[..., 1] = -5
    assert (reliability_mask(forward, backward)[:, 5:] == 0).all()
    consistent = forward.copy()
    consistent[..., 1] = 0
    consistent[..., 0] = 5
    assert (reliability_mask(consistent, backward)[:, 5:] == 1).all()


def test_the_mask_marks_motion_boundaries() -> None:
    # Left half still, right half moving 4 px: the seam between them is a motion boundary.
    backward = np.zeros((16, 32, 2), np.float32)
    backward[:, 16:, 0] = 4
    forward = np.zeros_like(backward)
    forward[:, 20:, 0] = -4  # consistent with the backward flow everywhere it lands
    with_boundaries = reliability_mask(forward, backward)
    assert (with_boundaries[:, 15:17] == 0).all()
    assert (with_boundaries[:, :14] == 1).all()
    without = reliability_mask(forward, backward, motion_boundaries=False)
    assert (without[:, 15] == 1).all()


def test_flow_arguments_are_checked(pan: clips.Pan) -> None:
    with pytest.raises(OptionsError, match="preset"):
        dense_flow(pan.frames[0], pan.frames[1], preset="slow")
    with pytest.raises(OptionsError, match="one size"):
        dense_flow(pan.frames[0], pan.frames[1].resize((32, 24)))
    with pytest.raises(OptionsError, match="same size"):
        warp_image(np.asarray(pan.frames[0]), np.zeros((10, 10, 2), np.float32))
