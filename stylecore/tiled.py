"""The objective of one scale restricted to one tile's window, so that a large image is optimised a
window at a time (block coordinate descent), with the rest of the image held fixed.

The network sees the window with its context (tiling.MARGIN) and the losses count every position it
computes there, so the window's gradient is the whole image's up to about 1% (tested); content and
TV terms are normalised by whole-image totals, as untiled.

The style loss is global: the image's Gram matrices are kept as sums over all positions. Matching them
from one window alone would have the first tiles of a pass take all the correction the image needs
(and the last ones none: patches of strong and weak style). So each window is asked to move its own
Gram matrices by the image's remaining error, ΔG = target − image: if every window does, the image
lands on the target, and the regions keep their differences. At the window's start its gradient is the
untiled one (the loss is weighted by the window's share of positions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .devices import autocast
from .losses import STYLE_SCALE, TV_SCALE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from .options import StyleOptions
    from .tiling import Box, Tile, TileGrid
    from .vgg import VGG19Features

#: A tile's content target is kept between its visits when it takes at most this many bytes per pixel
#: (relu4_x: 32, relu5_x: 8); shallower layers' features are larger, and cheap to compute again.
KEEP_CONTENT_BYTES_PER_PIXEL = 32
#: Stride of each VGG block's layers relative to the input.
_STRIDES = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}


def stride(layer: str) -> int:
    return _STRIDES[int(layer[4])]


def positions(layer: str, height: int, width: int) -> int:
    """Feature positions of `layer` over a whole image (VGG pools with ceil_mode)."""
    s = stride(layer)
    return -(-height // s) * -(-width // s)


def core_features(
    model: VGG19Features,
    pixels: torch.Tensor,
    grid: TileGrid,
    layers: Sequence[str],
    options: StyleOptions,
    device: torch.device,
    autocast_dtype: torch.dtype | None,
    network_input: Callable[[torch.Tensor], torch.Tensor],
) -> Iterator[dict[str, torch.Tensor]]:
    """The features of `layers` over each core of `grid`, computed with context: together, exactly the
    whole image's features, one tile in memory at a time. `pixels` may live on the CPU."""
    for tile in grid.tiles:
        with torch.no_grad(), autocast(device, autocast_dtype):
            crop = pixels[..., tile.padded.y0 : tile.padded.y1, tile.padded.x0 : tile.padded.x1]
            features = model(network_input(crop.to(device)), layers, options.pooling)
        yield {layer: _crop(features[layer], tile.core.within(tile.padded), stride(layer)) for layer in layers}


def gram_sums(features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per layer, the sum over positions of f fᵀ (C, C) in float32 (the Gram matrix times positions)."""
    sums = {}
    for layer, f in features.items():
        flat = f.float().reshape(f.shape[1], -1)
        sums[layer] = flat @ flat.T
    return sums


class WindowObjective:
    """The scale's objective as a function of one window's pixels, the rest of the image held fixed."""

    def __init__(
        self,
        *,
        model: VGG19Features,
        options: StyleOptions,
        grid: TileGrid,
        content: torch.Tensor,
        style_targets: dict[str, torch.Tensor],
        layer_weights: dict[str, float],
        device: torch.device,
        autocast_dtype: torch.dtype | None,
        network_input: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        self.model = model
        self.options = options
        self.grid = grid
        self.content = content
        self.targets = {layer: t.float().to(device) for layer, t in style_targets.items()}
        self.target_norms = {layer: t.pow(2).sum().clamp_min(1e-8) for layer, t in self.targets.items()}
        self.layer_weights = layer_weights
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.network_input = network_input
        self.layers = [options.content_layer, *options.style_layers]
        self.positions = {layer: positions(layer, grid.height, grid.width) for layer in options.style_layers}
        h, w = grid.height, grid.width
        self.tv_counts = (max(1, h * (w - 1)), max(1, (h - 1) * w))
        self.content_norm = torch.zeros((), device=device)
        self._kept_content: dict[Tile, torch.Tensor] = {}
        layer_stride = stride(options.content_layer)
        for tile in grid.tiles:
            target = self._content_features(tile)
            self.content_norm += _crop(target, tile.core.within(tile.padded), layer_stride).pow(2).sum()
            if target.element_size() * target.numel() <= KEEP_CONTENT_BYTES_PER_PIXEL * tile.padded.area:
                self._kept_content[tile] = target.to(content.device)  # where the content lives: off the GPU
        self.gram_sums: dict[str, torch.Tensor] = {}
        self._tile: Tile | None = None
        self._start: dict[str, torch.Tensor] | None = None  # the window's Gram sums at its first evaluation
        self._last_sums: dict[str, torch.Tensor] = {}

    def measure(self, image: torch.Tensor) -> None:
        """The image's Gram sums, from scratch: at the start of each pass over the tiles."""
        sums = {layer: torch.zeros((), device=self.device) for layer in self.options.style_layers}
        for features in self._core_features(image, self.options.style_layers):
            for layer, g in gram_sums(features).items():
                sums[layer] = sums[layer] + g
        self.gram_sums = sums

    def enter(self, tile: Tile, image: torch.Tensor) -> torch.Tensor:
        """Start optimising `tile`: returns its window's pixels as a new leaf to optimise."""
        self._tile = tile
        padded, window = tile.padded, tile.window.within(tile.padded)
        kept = self._kept_content.get(tile)
        self._window_content = self._content_features(tile) if kept is None else kept.to(self.device)
        context = image[..., padded.y0 : padded.y1, padded.x0 : padded.x1].detach().clone()
        start = context[..., window.y0 : window.y1, window.x0 : window.x1].clone()
        context[..., window.y0 : window.y1, window.x0 : window.x1] = 0
        self._context = context
        self._pad = (window.x0, padded.width - window.x1, window.y0, padded.height - window.y1)
        self._start = None
        return start

    def leave(self) -> None:
        """Update the image's Gram sums by the window's change (as last evaluated)."""
        if self._start is not None:
            self.gram_sums = {
                layer: self.gram_sums[layer] + self._last_sums[layer] - self._start[layer]
                for layer in self.options.style_layers
            }

    def __call__(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, content, style) with `window` in place; differentiable in it. The style value is the
        whole image's style loss; content covers the window's context."""
        opts = self.options
        assert self._tile is not None, "enter() a tile first"
        pixels = self._context + F.pad(window, self._pad)
        with autocast(self.device, self.autocast_dtype):
            features = self.model(self.network_input(pixels), self.layers, opts.pooling)
        sums = gram_sums({layer: features[layer] for layer in opts.style_layers})
        self._last_sums = {layer: s.detach() for layer, s in sums.items()}
        if self._start is None:
            self._start = self._last_sums  # the first evaluation is at the window's starting pixels
        start = self._start
        style_terms, image_style = [], []
        for layer in opts.style_layers:
            target, norm, weight = self.targets[layer], self.target_norms[layer], self.layer_weights[layer]
            n_image, n_window = self.positions[layer], features[layer].shape[-2] * features[layer].shape[-1]
            error = target - self.gram_sums[layer] / n_image  # ΔG: what the whole image still has to move
            moved = (sums[layer] - start[layer]) / n_window
            style_terms.append(weight * n_window / n_image * (moved - error).pow(2).sum() / norm)
            with torch.no_grad():
                now = (self.gram_sums[layer] + self._last_sums[layer] - start[layer]) / n_image
                image_style.append(weight * (now - target).pow(2).sum() / norm)
        content = (features[opts.content_layer].float() - self._window_content).pow(2).sum() / self.content_norm
        total = (
            opts.content_weight * content
            + opts.style_weight * STYLE_SCALE * torch.stack(style_terms).sum()
            + opts.tv_weight * TV_SCALE * self._tv(pixels, self._tile.window.within(self._tile.padded))
        )
        return total, content, torch.stack(image_style).sum()

    def _content_features(self, tile: Tile) -> torch.Tensor:
        """The content's features over the tile's padded window: its content target."""
        padded, layer = tile.padded, self.options.content_layer
        with torch.no_grad(), autocast(self.device, self.autocast_dtype):
            content = self.content[..., padded.y0 : padded.y1, padded.x0 : padded.x1].to(self.device)
            features = self.model(self.network_input(content), [layer], self.options.pooling)
        target: torch.Tensor = features[layer].float()
        return target

    def _tv(self, pixels: torch.Tensor, window: Box) -> torch.Tensor:
        """The image's TV loss terms that involve the window's pixels (differences to the context too)."""
        top, left = max(0, window.y0 - 1), max(0, window.x0 - 1)
        bottom, right = min(pixels.shape[-2], window.y1 + 1), min(pixels.shape[-1], window.x1 + 1)
        rows = pixels[..., window.y0 : window.y1, left:right]
        cols = pixels[..., top:bottom, window.x0 : window.x1]
        dx = rows[..., :, 1:] - rows[..., :, :-1]
        dy = cols[..., 1:, :] - cols[..., :-1, :]
        return (dx.pow(2).sum() / self.tv_counts[0] + dy.pow(2).sum() / self.tv_counts[1]) / 255.0**2

    def _core_features(self, pixels: torch.Tensor, layers: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
        return core_features(
            self.model, pixels, self.grid, layers, self.options, self.device, self.autocast_dtype, self.network_input
        )


def _crop(features: torch.Tensor, box: Box, layer_stride: int) -> torch.Tensor:
    cells = box.on_grid(layer_stride)
    return features[..., cells.y0 : cells.y1, cells.x0 : cells.x1]
