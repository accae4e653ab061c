"""Loss terms as tiny modules. Content and style losses are relative errors, so their weights mean the
same thing at every image size, layer and weight source."""

from __future__ import annotations

import torch
from torch import nn

_EPS = 1e-8
#: Style loss is a relative Gram error (about 0.01-1); this puts style_weight=1 at a painterly balance.
STYLE_SCALE = 10.0
#: TV loss is a mean squared pixel difference in 0-255 units; this makes tv_weight=1 a light smoothing.
TV_SCALE = 1.0


def gram(features: torch.Tensor) -> torch.Tensor:
    """Channel co-activation (N, C, C), averaged over positions so it does not depend on image size.

    Computed in float32: under autocast, a bf16 Gram loses the small differences style loss lives on.
    """
    n, c, h, w = features.shape
    flat = features.float().reshape(n, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (h * w)


class ContentLoss(nn.Module):
    """||F - F_content||² / ||F_content||² at one layer."""

    target: torch.Tensor
    norm: torch.Tensor

    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target.detach().float())
        self.register_buffer("norm", self.target.pow(2).sum().clamp_min(_EPS))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features.float() - self.target).pow(2).sum() / self.norm


class StyleLoss(nn.Module):
    """||G(F) - G_style||² / ||G_style||² at one layer; the target may be a blend of several styles."""

    target: torch.Tensor
    norm: torch.Tensor

    def __init__(self, target_gram: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target_gram.detach().float())
        self.register_buffer("norm", self.target.pow(2).sum().clamp_min(_EPS))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (gram(features) - self.target).pow(2).sum() / self.norm


class TVLoss(nn.Module):
    """Mean squared difference of neighbouring pixels, in units of the 0-255 range."""

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        dx = pixels[..., :, 1:] - pixels[..., :, :-1]
        dy = pixels[..., 1:, :] - pixels[..., :-1, :]
        return (dx.pow(2).mean() + dy.pow(2).mean()) / 255.0**2
