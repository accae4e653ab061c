"""Backward warping of image tensors by a flow, on any device: `warp_image`'s twin for PyTorch."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import OptionsError


def warp_tensor(images: torch.Tensor, flow: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Backward warping: `out[n, :, y, x] = images[n, :, y + dy, x + dx]`, bilinear, the border
    repeated where the flow points outside (the same sampling as `flow.warp_image`).

    `images` is (N, C, H, W); `flow` is (H, W, 2) or (N, H, W, 2) of (dx, dy) in pixels, as
    `flow.dense_flow` gives it; a NumPy flow is moved to the images' device and dtype.
    Differentiable with respect to `images`.
    """
    if images.ndim != 4:
        raise OptionsError(f"images must be (N, C, H, W), not {tuple(images.shape)}")
    batch, _, height, width = images.shape
    field = torch.as_tensor(flow, device=images.device, dtype=images.dtype)
    if field.ndim == 3:
        field = field.unsqueeze(0).expand(batch, -1, -1, -1)
    if tuple(field.shape) != (batch, height, width, 2):
        raise OptionsError(f"the flow is {tuple(field.shape)}, the images {tuple(images.shape)}: they must match")
    rows, columns = torch.meshgrid(
        torch.arange(height, device=images.device, dtype=images.dtype),
        torch.arange(width, device=images.device, dtype=images.dtype),
        indexing="ij",
    )
    # grid_sample wants positions in [-1, 1], the corner pixels' centres at ±1 (align_corners=True).
    x = (columns + field[..., 0]) * (2 / max(width - 1, 1)) - 1
    y = (rows + field[..., 1]) * (2 / max(height - 1, 1)) - 1
    grid = torch.stack((x, y), dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)
