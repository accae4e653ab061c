"""Colour preservation (Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer").

All functions take and return float tensors (N, 3, H, W) of RGB pixels in 0-255.
"""

from __future__ import annotations

import torch

# NTSC YIQ: Y carries luminance, I and Q the chroma.
_RGB_TO_YIQ = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ]
)


def rgb_to_yiq(rgb: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", _RGB_TO_YIQ.to(rgb), rgb)


def yiq_to_rgb(yiq: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_YIQ).to(yiq), yiq)


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """Grey image (Y in all three channels)."""
    return rgb_to_yiq(rgb)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style_grey: torch.Tensor, content_grey: torch.Tensor) -> torch.Tensor:
    """Shift and scale the style's luminance to the content's mean and spread, so only texture transfers."""
    s_mean, s_std = style_grey.mean(), style_grey.std().clamp_min(1e-5)
    c_mean, c_std = content_grey.mean(), content_grey.std()
    return ((style_grey - s_mean) * (c_std / s_std) + c_mean).clamp(0, 255)


def with_chroma_of(grey_result: torch.Tensor, colour_source: torch.Tensor) -> torch.Tensor:
    """Luminance of `grey_result` with the I/Q chroma of `colour_source` (same size)."""
    yiq = rgb_to_yiq(colour_source)
    yiq = torch.cat([rgb_to_yiq(grey_result)[:, :1], yiq[:, 1:]], dim=1)
    return yiq_to_rgb(yiq).clamp(0, 255)


def match_colors(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Recolour `style` so its colour mean and covariance equal the content's (linear histogram matching)."""
    s = style.reshape(3, -1).double()
    c = content.reshape(3, -1).double()
    s_mean, c_mean = s.mean(1, keepdim=True), c.mean(1, keepdim=True)
    s_cov = torch.cov(s) + 1e-3 * torch.eye(3, dtype=s.dtype)
    c_cov = torch.cov(c) + 1e-3 * torch.eye(3, dtype=s.dtype)
    transform = torch.matmul(_sqrtm(c_cov), torch.linalg.inv(_sqrtm(s_cov)))
    out = torch.matmul(transform, s - s_mean) + c_mean
    return out.reshape(style.shape).to(style.dtype).clamp(0, 255)


def _sqrtm(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return torch.matmul(vectors * values.clamp_min(0).sqrt(), vectors.transpose(0, 1))  # V diag(√λ) Vᵀ
