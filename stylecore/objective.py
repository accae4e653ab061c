"""One scale's objective: the weighted sum of content, style and TV losses over the whole image."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch

from .devices import autocast
from .losses import STYLE_SCALE, TV_SCALE, ContentLoss, StyleLoss, TVLoss

if TYPE_CHECKING:
    from collections.abc import Callable

    from .options import StyleOptions
    from .vgg import VGG19Features


class ScaleObjective:
    """The weighted sum of content, style and TV losses for one scale, untiled (tiled.py has the tiled one).

    On CUDA the forward and backward passes are captured once as CUDA graphs and replayed each
    iteration: at these sizes the GPU finishes faster than Python can launch the ~300 kernels.
    """

    def __init__(
        self,
        *,
        model: VGG19Features,
        options: StyleOptions,
        content: ContentLoss,
        styles: dict[str, StyleLoss],
        layer_weights: dict[str, float],
        device: torch.device,
        autocast_dtype: torch.dtype | None,
        network_input: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        self.model = model
        self.options = options
        self.content = content.to(device)
        self.styles = {layer: loss.to(device) for layer, loss in styles.items()}
        self.layer_weights = layer_weights
        self.tv = TVLoss()
        self.layers = [options.content_layer, *options.style_layers]
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.network_input = network_input
        self._graphed: Callable[[torch.Tensor], tuple[torch.Tensor, ...]] | None = None

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, content, style) for `image`; differentiable with respect to it."""
        if self._graphed is not None:
            total, content, style = self._graphed(image)
            return total, content, style
        return self.terms(image)

    def capture(self, image: torch.Tensor) -> None:
        """Record the CUDA graphs for images shaped like `image` (runs a few warm-up passes)."""
        graphed = torch.cuda.make_graphed_callables(self.terms, (image,), num_warmup_iters=3)
        # Typed as module-or-callable; given a function it returns a function.
        self._graphed = cast("Callable[[torch.Tensor], tuple[torch.Tensor, ...]]", graphed)

    def terms(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        opts = self.options
        with autocast(self.device, self.autocast_dtype):
            features = self.model(self.network_input(image), self.layers, opts.pooling)
        content = self.content(features[opts.content_layer])
        style = sum(self.layer_weights[layer] * loss(features[layer]) for layer, loss in self.styles.items())
        total = (
            opts.content_weight * content
            + opts.style_weight * STYLE_SCALE * style
            + opts.tv_weight * TV_SCALE * self.tv(image)
        )
        return total, content, style
