"""VGG-19's convolutional part as a feature extractor that stops after the deepest layer asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .weights import BLOCKS, VGGWeights

if TYPE_CHECKING:
    from collections.abc import Collection

#: Layer names in network order: relu{block}_{conv}.
LAYER_NAMES: tuple[str, ...] = tuple(f"relu{b + 1}_{c + 1}" for b, n in enumerate(BLOCKS) for c in range(n))


class VGG19Features(nn.Module):
    """Frozen VGG-19 convolutions. Input: RGB pixels in 0-255; the weights' normalisation is applied here."""

    input_mean: torch.Tensor
    input_std: torch.Tensor

    def __init__(self, weights: VGGWeights) -> None:
        super().__init__()
        self.normalization = weights.normalization
        self.source = weights.source
        # As buffers, so they live on the model's device: no host-to-device copy per forward pass.
        mean, std = weights.normalization.tensors()
        self.register_buffer("input_mean", mean)
        self.register_buffer("input_std", std)
        self.convs = nn.ModuleList()
        for weight, bias in weights.convs:
            conv = nn.Conv2d(weight.shape[1], weight.shape[0], kernel_size=3, padding=1)
            conv.load_state_dict({"weight": weight, "bias": bias})
            self.convs.append(conv)
        self.requires_grad_(False)
        self.eval()

    def forward(self, pixels: torch.Tensor, layers: Collection[str], pooling: str = "max") -> dict[str, torch.Tensor]:
        """Activations of `layers` for `pixels` (N, 3, H, W); layers after the deepest one are skipped."""
        wanted = set(layers)
        last = max(LAYER_NAMES.index(name) for name in wanted)
        pool = F.max_pool2d if pooling == "max" else F.avg_pool2d
        x = self.normalization.to_network(pixels, (self.input_mean, self.input_std))
        out: dict[str, torch.Tensor] = {}
        index = 0
        for block, count in enumerate(BLOCKS):
            if block:
                # ceil_mode, as in Caffe: odd sizes keep their last row, and tiny inputs never pool to 0.
                x = pool(x, kernel_size=2, stride=2, ceil_mode=True)
            for _ in range(count):
                # In place: the ReLU's output is all autograd keeps, and it halves memory traffic.
                x = F.relu(self.convs[index](x), inplace=True)
                name = LAYER_NAMES[index]
                if name in wanted:
                    out[name] = x
                if index == last:
                    return out
                index += 1
        return out
