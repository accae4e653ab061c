"""One style-transfer run: targets per scale, the optimisation loop, progress, cancel and deadline."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from PIL import Image

from . import colors
from .devices import autocast, is_out_of_memory
from .errors import Cancelled
from .images import resize_to
from .losses import ContentLoss, StyleLoss, TVLoss, gram
from .optimizers import make_optimizer
from .records import Progress, StopReason, StyleResult
from .schedule import Scale, fit_to_time, plan_scales

if TYPE_CHECKING:
    import threading

    from .options import StyleOptions
    from .vgg import VGG19Features

#: Style loss is a relative Gram error (about 0.01-1); this puts style_weight=1 at a painterly balance.
STYLE_SCALE = 10.0
#: TV loss is a mean squared pixel difference in 0-255 units; this makes tv_weight=1 a light smoothing.
TV_SCALE = 1.0
#: The losses are relative errors, so their gradient per pixel shrinks with the pixel count. The
#: optimiser sees the loss times pixels times this, which keeps gradients near one 0-255 unit per pixel:
#: L-BFGS's first steps (taken before it has curvature) then move pixels visibly instead of stalling.
OBJECTIVE_SCALE_PER_PIXEL = 10.0
#: Pixel noise added to a content init, so that the seed matters (a "new seed" gives a new variation).
CONTENT_INIT_NOISE = 8.0

ProgressCallback = Callable[[Progress], None]

log = logging.getLogger(__name__)


class StyleJob:
    def __init__(
        self,
        model: VGG19Features,
        device: torch.device,
        autocast_dtype: torch.dtype | None,
        content: Image.Image,
        styles: Sequence[Image.Image],
        options: StyleOptions,
        init_image: Image.Image | None,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
    ) -> None:
        self.model = model
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.options = options
        self.progress = progress
        self.cancel = cancel
        self.channels_last = device.type == "cuda"
        # Full-size inputs on the CPU; each scale resizes from these.
        self.content_full = _to_tensor(resize_to(content, options.size))
        self.height, self.width = self.content_full.shape[-2:]
        style_side = max(16, round(options.size * options.style_scale))
        self.styles_full = [_to_tensor(resize_to(style, style_side)) for style in styles]
        self.init_full = _to_tensor(init_image.resize((self.width, self.height), Image.Resampling.LANCZOS)) \
            if init_image is not None else None
        weights = options.style_weights or (1.0,) * len(styles)
        self.style_blend = [w / sum(weights) for w in weights]
        layer_weights = options.style_layer_weights or (1.0,) * len(options.style_layers)
        total = sum(layer_weights) or 1.0
        self.layer_weights = [w / total for w in layer_weights]
        self._prepare_colors()

    def _prepare_colors(self) -> None:
        mode = self.options.preserve_colors
        self.optimised_content = self.content_full
        if mode == "luminance":
            self.optimised_content = colors.luminance(self.content_full)
            self.styles_full = [colors.match_luminance(colors.luminance(s), self.optimised_content)
                                for s in self.styles_full]
            if self.init_full is not None:
                self.init_full = colors.luminance(self.init_full)
        elif mode == "color":
            self.styles_full = [colors.match_colors(s, self.content_full) for s in self.styles_full]

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> StyleResult:
        opts = self.options
        self.started = time.perf_counter()
        plan = plan_scales(max(self.width, self.height), opts.iterations, opts.multiscale)
        aspect = min(self.width, self.height) / max(self.width, self.height)
        self.done = 0
        self.pixel_iterations = 0.0
        self.optimising_seconds = 0.0
        self.total = sum(s.iterations for s in plan)
        self.budget_cut = False
        self.last = (math.nan, math.nan, math.nan)
        image: torch.Tensor | None = None
        for scale_index in range(len(plan)):  # a time budget shrinks scales' iterations, never their number
            size = self._scale_size(plan[scale_index])
            image = self._initial_image(size, image)
            image, completed = self._optimise(image, self._losses(size), scale_index, plan, aspect)
            if not completed:
                break
        assert image is not None
        stopped: StopReason = "deadline" if self.budget_cut or not completed else "finished"
        final = self._finished_image(image, (self.height, self.width))
        loss, content_loss, style_loss = self.last
        return StyleResult(
            image=final,
            options=opts,
            iterations=self.done,
            elapsed=time.perf_counter() - self.started,
            stopped=stopped,
            loss=loss,
            content_loss=content_loss,
            style_loss=style_loss,
            device=str(self.device),
        )

    def _optimise(
        self, image: torch.Tensor, losses: _Losses, scale_index: int, plan: list[Scale], aspect: float
    ) -> tuple[torch.Tensor, bool]:
        """Run one scale. Returns the image and False when the deadline stopped the run."""
        opts = self.options
        image = image.detach().requires_grad_(True)
        optimizer = make_optimizer(image, opts)
        pixels = image.shape[-1] * image.shape[-2]
        last_good = image.detach().clone()
        clamp = opts.optimizer != "lbfgs"  # clamping under L-BFGS would desync its curvature history
        objective_scale = pixels * OBJECTIVE_SCALE_PER_PIXEL

        if self.device.type == "cuda":
            try:
                # A stand-in leaf for the warm-up passes, so the real image's gradient node stays on this stream.
                losses.capture(image.detach().clone().requires_grad_(True))
            except RuntimeError as exc:
                if is_out_of_memory(exc):
                    raise
                log.warning("CUDA graph capture failed (%s); running without graphs", exc)

        def closure() -> float:
            optimizer.zero_grad(set_to_none=True)
            total, content, style = losses(image)
            torch.autograd.backward(total * objective_scale)
            values: list[float] = torch.stack([total, content, style]).tolist()  # one device sync, not three
            loss, content_loss, style_loss = values
            self.last = (loss, content_loss, style_loss)
            # A float, not the loss tensor: a returned graph would outlive its backward pass, and under
            # CUDA graphs that left the image's gradient node on a stale stream.
            return loss * objective_scale

        step = 0
        last_iteration_seconds = 0.0
        while step < plan[scale_index].iterations:
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled("cancelled")
            if opts.max_seconds is not None:
                # Stop when the next iteration would end past the deadline, not after it has.
                if self._elapsed() + last_iteration_seconds >= opts.max_seconds:
                    return (image.detach() if math.isfinite(self.last[0]) else last_good), False
                plan[scale_index:] = self._fit(plan, scale_index, step, aspect, opts.max_seconds)
                if step >= plan[scale_index].iterations:
                    break
            tick = time.perf_counter()
            optimizer.step(closure)
            last_iteration_seconds = time.perf_counter() - tick
            if not math.isfinite(self.last[0]):
                # Diverged (a learning rate far too high): keep the last finite image and move on.
                with torch.no_grad():
                    image.copy_(last_good)
                self.done += plan[scale_index].iterations - step
                break
            with torch.no_grad():
                if clamp:
                    image.clamp_(0, 255)
                last_good.copy_(image)
            self.optimising_seconds += last_iteration_seconds
            self.pixel_iterations += pixels
            step += 1
            self.done += 1
            scale_done = step == plan[scale_index].iterations
            if self.progress is not None and (self.done % opts.progress_every == 0 or scale_done):
                self._report(image, scale_index, len(plan), plan, step)
        return image.detach(), True

    def _fit(self, plan: list[Scale], scale_index: int, step: int, aspect: float, deadline: float) -> list[Scale]:
        """Shrink what is left of the plan to the remaining time, once there is a speed estimate."""
        if self.pixel_iterations == 0:
            return plan[scale_index:]
        per_pixel_iteration = self.optimising_seconds / self.pixel_iterations
        current = plan[scale_index]
        remaining = [Scale(current.longest_side, current.iterations - step), *plan[scale_index + 1:]]
        fitted = fit_to_time(remaining, deadline - self._elapsed(), per_pixel_iteration, aspect)
        if fitted != remaining:
            self.budget_cut = True
        fitted[0] = Scale(current.longest_side, fitted[0].iterations + step)
        self.total = self.done - step + sum(s.iterations for s in fitted)
        return fitted

    # -- targets and losses --------------------------------------------------------------------

    def _losses(self, size: tuple[int, int]) -> _Losses:
        opts = self.options
        with torch.no_grad(), autocast(self.device, self.autocast_dtype):
            content = self._network_input(self._on_device(_resize(self.optimised_content, size)))
            content_target = self.model(content, [opts.content_layer], opts.pooling)[opts.content_layer]
            blended: dict[str, torch.Tensor] = {}
            longest = round(max(size) * opts.style_scale)
            for style, weight in zip(self.styles_full, self.style_blend, strict=True):
                h, w = style.shape[-2:]
                factor = max(16, longest) / max(h, w)
                style_size = (max(1, round(h * factor)), max(1, round(w * factor)))
                features = self.model(self._network_input(self._on_device(_resize(style, style_size))),
                                      opts.style_layers, opts.pooling)
                for layer in opts.style_layers:
                    g = gram(features[layer]) * weight
                    blended[layer] = blended[layer] + g if layer in blended else g
        return _Losses(
            model=self.model,
            options=opts,
            content=ContentLoss(content_target),
            styles={layer: StyleLoss(blended[layer]) for layer in opts.style_layers},
            layer_weights=dict(zip(opts.style_layers, self.layer_weights, strict=True)),
            device=self.device,
            autocast_dtype=self.autocast_dtype,
            network_input=self._network_input,
        )

    # -- images --------------------------------------------------------------------------------

    def _scale_size(self, scale: Scale) -> tuple[int, int]:
        longest = max(self.width, self.height)
        if scale.longest_side >= longest:
            return self.height, self.width
        factor = scale.longest_side / longest
        return max(1, round(self.height * factor)), max(1, round(self.width * factor))

    def _initial_image(self, size: tuple[int, int], previous: torch.Tensor | None) -> torch.Tensor:
        if previous is not None:
            return self._on_device(F.interpolate(previous.float(), size=size, mode="bicubic",
                                                 align_corners=False).clamp(0, 255))
        generator = torch.Generator().manual_seed(self.options.seed or 0)
        h, w = size
        if self.options.init == "noise":
            start = (127.5 + 40.0 * torch.randn(1, 3, h, w, generator=generator)).clamp(0, 255)
        else:
            base = self.init_full if self.init_full is not None else self.optimised_content
            noise = CONTENT_INIT_NOISE * torch.randn(1, 3, h, w, generator=generator)
            start = (_resize(base, size) + noise).clamp(0, 255)
        return self._on_device(start)

    def _finished_image(self, image: torch.Tensor, size: tuple[int, int]) -> Image.Image:
        with torch.no_grad():
            pixels = image.detach().float()
            if tuple(pixels.shape[-2:]) != size:
                pixels = F.interpolate(pixels, size=size, mode="bicubic", align_corners=False)
            pixels = pixels.cpu()
            if self.options.preserve_colors == "luminance":
                pixels = colors.with_chroma_of(colors.luminance(pixels.clamp(0, 255)), _resize(self.content_full, size))
            return _to_pil(pixels)

    def _report(self, image: torch.Tensor, scale: int, scales: int, plan: list[Scale], step: int) -> None:
        opts = self.options
        preview = None
        if opts.preview_every is not None and (self.done % opts.preview_every == 0 or self.done == self.total):
            preview = self._finished_image(image, (image.shape[-2], image.shape[-1]))
        loss, content_loss, style_loss = self.last
        assert self.progress is not None
        self.progress(Progress(
            iteration=self.done, total=self.total, scale=scale, scales=scales,
            width=image.shape[-1], height=image.shape[-2],
            loss=loss, content_loss=content_loss, style_loss=style_loss,
            elapsed=self._elapsed(), eta=self._eta(plan, scale, step), preview=preview,
        ))

    def _eta(self, plan: list[Scale], scale_index: int, step: int) -> float | None:
        if self.pixel_iterations == 0:
            return None
        per_pixel_iteration = self.optimising_seconds / self.pixel_iterations
        left = 0.0
        for i in range(scale_index, len(plan)):
            h, w = self._scale_size(plan[i])
            iterations = plan[i].iterations - (step if i == scale_index else 0)
            left += iterations * h * w * per_pixel_iteration
        return left

    def _elapsed(self) -> float:
        return time.perf_counter() - self.started

    def _on_device(self, tensor: torch.Tensor) -> torch.Tensor:
        # The optimised image stays in the default layout: L-BFGS flattens its gradient with view().
        return tensor.to(self.device).contiguous()

    def _network_input(self, tensor: torch.Tensor) -> torch.Tensor:
        """The layout the convolutions run fastest in (NHWC for cuDNN); autograd copies back."""
        return tensor.contiguous(memory_format=torch.channels_last) if self.channels_last else tensor


class _Losses:
    """The weighted sum of content, style and TV losses for one scale.

    On CUDA the forward and backward passes are captured once as CUDA graphs and replayed each
    iteration: at these sizes the GPU finishes faster than Python can launch the ~300 kernels.
    """

    def __init__(self, *, model: VGG19Features, options: StyleOptions, content: ContentLoss,
                 styles: dict[str, StyleLoss], layer_weights: dict[str, float],
                 device: torch.device, autocast_dtype: torch.dtype | None,
                 network_input: Callable[[torch.Tensor], torch.Tensor]) -> None:
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
        style = sum(self.layer_weights[layer] * loss(features[layer])
                    for layer, loss in self.styles.items())
        total = (opts.content_weight * content + opts.style_weight * STYLE_SCALE * style
                 + opts.tv_weight * TV_SCALE * self.tv(image))
        return total, content, style


def _to_tensor(image: Image.Image) -> torch.Tensor:
    data = torch.frombuffer(bytearray(image.convert("RGB").tobytes()), dtype=torch.uint8)
    return data.view(image.height, image.width, 3).permute(2, 0, 1).unsqueeze(0).float().contiguous()


def _to_pil(pixels: torch.Tensor) -> Image.Image:
    data = pixels[0].clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).contiguous()
    return Image.frombytes("RGB", (data.shape[1], data.shape[0]), data.numpy().tobytes())


def _resize(pixels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(pixels.shape[-2:]) == tuple(size):
        return pixels
    return F.interpolate(pixels, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 255)

