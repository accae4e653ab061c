"""One style-transfer run: targets per scale, the optimisation loop (whole or tiled), progress, cancel and deadline."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from PIL import Image

from . import colors
from .devices import autocast, is_out_of_memory
from .errors import Cancelled
from .images import resize_to
from .lbfgs import LBFGS
from .losses import ContentLoss, StyleLoss, gram
from .objective import ScaleObjective
from .optimizers import make_optimizer
from .pixels import resize, to_pil, to_tensor
from .records import Progress, StopReason, StyleResult
from .schedule import Scale, fit_to_time, plan_scales
from .tiled import WindowObjective, core_features, gram_sums, positions
from .tiling import TileGrid, choose_tile, tile_grid
from .timelapse import FrameKeeper, frame_size

if TYPE_CHECKING:
    import threading

    from .options import StyleOptions
    from .vgg import VGG19Features

#: The losses are relative errors, so their gradient per pixel shrinks with the pixel count. The
#: optimiser sees the loss times pixels times this, which keeps gradients near one 0-255 unit per pixel:
#: L-BFGS's first steps (taken before it has curvature) then move pixels visibly instead of stalling.
OBJECTIVE_SCALE_PER_PIXEL = 10.0
#: Pixel noise added to a content init, so that the seed matters (a "new seed" gives a new variation).
CONTENT_INIT_NOISE = 8.0
#: A tiled scale visits its tiles in up to MAX_PASSES passes, as many as leave each visit this many
#: steps: more passes spread the style evenly, but each visit starts a fresh optimiser, whose first
#: step is a small gradient step. (128 px, 6 tiles, 20 iterations, referee style error: 1 pass 0.25,
#: 2 passes 0.16, 3-4 passes 0.11-0.12, untiled 0.13; 10 passes of 2 steps 0.30.)
MIN_VISIT_STEPS = 6
MAX_PASSES = 3

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
        memory_budget: int | None = None,
    ) -> None:
        self.model = model
        self.memory_budget = memory_budget
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.options = options
        self.progress = progress
        self.cancel = cancel
        self.channels_last = device.type == "cuda"
        # Full-size inputs on the CPU; each scale resizes from these.
        self.content_full = to_tensor(resize_to(content, options.size))
        self.height, self.width = self.content_full.shape[-2:]
        style_side = max(16, round(options.size * options.style_scale))
        self.styles_full = [to_tensor(resize_to(style, style_side)) for style in styles]
        self.init_full = (
            to_tensor(init_image.resize((self.width, self.height), Image.Resampling.LANCZOS))
            if init_image is not None
            else None
        )
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
            self.styles_full = [
                colors.match_luminance(colors.luminance(s), self.optimised_content) for s in self.styles_full
            ]
            if self.init_full is not None:
                self.init_full = colors.luminance(self.init_full)
        elif mode == "color":
            self.styles_full = [colors.match_colors(s, self.content_full) for s in self.styles_full]

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> StyleResult:
        opts = self.options
        self.started = time.perf_counter()
        plan = plan_scales(max(self.width, self.height), opts.iterations, opts.multiscale, above=opts.upscale_from or 0)
        self.planned = tuple(plan)  # what a time budget fits from, each time afresh
        self.grids = {s.longest_side: self._grid(self._scale_size(s)) for s in plan}
        self.done = 0.0  # iterations; a tiled scale's tile step is 1/tiles of one
        self.pixel_iterations = 0.0
        self.optimising_seconds = 0.0
        self.timed_first_step = False
        self.scale_rate = (0.0, 0.0)  # (seconds, pixel-iterations) in the current scale: the best speed estimate
        self.total = sum(s.iterations for s in plan)
        self.previewed = 0  # the last whole iteration a preview went out at
        self.budget_cut = False
        self.reported = -1.0
        self.step_scale: float | None = None  # L-BFGS's latest inverse-curvature scale, for tiled visits
        self.last = (math.nan, math.nan, math.nan)
        self.frames = FrameKeeper(opts.timelapse_frames) if opts.timelapse_frames else None
        image: torch.Tensor | None = None
        for scale_index in range(len(plan)):  # a time budget shrinks scales' iterations, never their number
            size = self._scale_size(plan[scale_index])
            image = self._initial_image(size, image)
            self.scale_rate = (0.0, 0.0)
            self.scale_start = self.done
            if self.frames is not None and self.done == 0:
                self._keep_frame(image)
            grid = self.grids[plan[scale_index].longest_side]
            if grid is None:
                image, completed = self._optimise(image, self._losses(size), scale_index, plan)
            else:
                image, completed = self._optimise_tiled(image, grid, scale_index, plan)
            if not completed:
                break
        assert image is not None
        stopped: StopReason = "deadline" if self.budget_cut or not completed else "finished"
        final = self._finished_image(image, (self.height, self.width))
        frames = self.frames.finish(self._frame(image), self.done) if self.frames is not None else ()
        loss, content_loss, style_loss = self.last
        return StyleResult(
            image=final,
            options=opts,
            iterations=int(self.done),
            elapsed=time.perf_counter() - self.started,
            stopped=stopped,
            loss=loss,
            content_loss=content_loss,
            style_loss=style_loss,
            device=str(self.device),
            frames=frames,
        )

    def _optimise(
        self, image: torch.Tensor, losses: ScaleObjective, scale_index: int, plan: list[Scale]
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

        closure = self._closure(optimizer, losses, image, objective_scale)
        step = 0
        last_iteration_seconds = 0.0
        while True:
            if opts.max_seconds is not None:
                # Before the end test too: a scale cut short by a slow start gets iterations back.
                plan[scale_index:] = self._fit(plan, scale_index, step, opts.max_seconds)
            if step >= plan[scale_index].iterations:
                break
            if self._deadline_reached(last_iteration_seconds):
                return (image.detach() if math.isfinite(self.last[0]) else last_good), False
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
            self._count(last_iteration_seconds, pixels)
            step += 1
            self.done += 1
            self._ticked(image, scale_index, plan, step, step == plan[scale_index].iterations)
        self._learn_step_scale(optimizer)
        return image.detach(), True

    def _optimise_tiled(
        self, image: torch.Tensor, grid: TileGrid, scale_index: int, plan: list[Scale]
    ) -> tuple[torch.Tensor, bool]:
        """Run one scale a window at a time (see tiled.py). An iteration steps every tile once.

        Tiles are visited in passes, each visit running a fresh optimiser for its share of the steps;
        the window is feathered into the image after every step, so previews and a deadline stop see it.
        """
        opts = self.options
        size = (grid.height, grid.width)
        tiles = len(grid.tiles)
        objective = WindowObjective(
            model=self.model,
            options=opts,
            grid=grid,
            content=resize(self.optimised_content, size),
            style_targets=self._style_targets(size, grid),
            layer_weights=self._layer_weights(),
            device=self.device,
            autocast_dtype=self.autocast_dtype,
            network_input=self._network_input,
        )
        image = image.detach()
        objective_scale = grid.height * grid.width * OBJECTIVE_SCALE_PER_PIXEL  # the whole image's, as untiled
        clamp = opts.optimizer != "lbfgs"
        passes = max(1, min(MAX_PASSES, plan[scale_index].iterations // MIN_VISIT_STEPS))
        visits = [(p, t) for p in range(passes) for t in (range(tiles) if p % 2 == 0 else reversed(range(tiles)))]
        steps_done = 0  # tile steps in this scale
        last_step_seconds = 0.0
        for visit, (pass_index, tile_index) in enumerate(visits):
            if visit == 0 or visits[visit - 1][0] != pass_index:
                objective.measure(image)
            # An even share of the steps still planned; every tile gets at least one in the first pass.
            share = (plan[scale_index].iterations * tiles - steps_done) // (len(visits) - visit)
            steps = max(share, 1 if pass_index == 0 else 0)
            tile = grid.tiles[tile_index]
            box = tile.window
            window = objective.enter(tile, image).requires_grad_(True)
            start = window.detach().clone()
            last_good = start.clone()
            weight = grid.feather(tile).to(self.device)
            # A fresh optimiser per visit, but not a cold one: its first step takes the scale learned
            # so far (the losses are scaled per pixel, so it carries across windows and scales).
            # Without it, each visit's first step is a tiny one and tiles move unevenly.
            optimizer = make_optimizer(window, opts, initial_scale=self.step_scale)
            closure = self._closure(optimizer, objective, window, objective_scale)
            for step in range(steps):
                if self._deadline_reached(last_step_seconds):
                    objective.leave()
                    return image, False
                if opts.max_seconds is not None:
                    plan[scale_index:] = self._fit(plan, scale_index, steps_done // tiles, opts.max_seconds)
                tick = time.perf_counter()
                optimizer.step(closure)
                last_step_seconds = time.perf_counter() - tick
                diverged = not math.isfinite(self.last[0])
                with torch.no_grad():
                    if diverged:
                        window.copy_(last_good)
                    elif clamp:
                        window.clamp_(0, 255)
                    last_good.copy_(window)
                    image[..., box.y0 : box.y1, box.x0 : box.x1] = start + weight * (window - start)
                steps_done += steps - step if diverged else 1
                self.done = self.scale_start + steps_done / tiles
                if diverged:
                    break
                self._count(last_step_seconds, tile.padded.area)
                self._ticked(image, scale_index, plan, steps_done / tiles, False, tile=tile_index, tiles=tiles)
            self._learn_step_scale(optimizer)
            objective.leave()
        if self.progress is not None and self.reported != self.done:
            self._report(image, scale_index, plan, steps_done / tiles, tile_index, tiles)  # the scale's end
        return image, True

    def _learn_step_scale(self, optimizer: torch.optim.Optimizer) -> None:
        if isinstance(optimizer, LBFGS) and optimizer.step_scale is not None:
            self.step_scale = optimizer.step_scale

    def _closure(
        self,
        optimizer: torch.optim.Optimizer,
        losses: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        image: torch.Tensor,
        objective_scale: float,
    ) -> Callable[[], float]:
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

        return closure

    def _deadline_reached(self, next_step_seconds: float) -> bool:
        """Raises Cancelled when asked to; True when the next step would end past the deadline.

        Never before the first step: a result has at least one step and a measured loss, even when
        loading the inputs alone used up the budget."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")
        deadline = self.options.max_seconds
        return deadline is not None and self.done > 0 and self._elapsed() + next_step_seconds >= deadline

    def _count(self, seconds: float, pixels: int) -> None:
        if not self.timed_first_step:
            # The run's first step pays one-off costs (kernels, allocations): it would make the time
            # budget plan far fewer iterations than the machine runs.
            self.timed_first_step = True
            return
        self.optimising_seconds += seconds
        self.pixel_iterations += pixels
        scale_seconds, scale_pixels = self.scale_rate
        self.scale_rate = (scale_seconds + seconds, scale_pixels + pixels)

    def _ticked(
        self,
        image: torch.Tensor,
        scale_index: int,
        plan: list[Scale],
        step: float,
        scale_done: bool,
        tile: int = 0,
        tiles: int = 1,
    ) -> None:
        """After each optimiser step: a timelapse frame and a progress report when due."""
        if self.frames is not None and self.frames.due(self.done, self.total):
            self._keep_frame(image)
        # A tiled scale reports every tile's step: those are the slow ones, and show the run is alive.
        due = tiles > 1 or self.done % self.options.progress_every == 0 or scale_done
        if self.progress is not None and due:
            self._report(image, scale_index, plan, step, tile, tiles)

    def _fit(self, plan: list[Scale], scale_index: int, step: int, deadline: float) -> list[Scale]:
        """Shrink the plan from the current scale on to the time left, once there is a speed estimate.

        `step`: iterations already run at the current scale (for a tiled scale, whole passes' worth).
        The current scale is fitted whole, its steps so far costed at the current speed and counted as
        time still to spend: then every refit shares the time in the same proportions, and only a
        changed speed estimate moves the counts. Fitting what is left of each scale instead would hand
        the current scale its share of the remaining time again at every step, and it would never end.
        From the original plan, not the last fit, so that refits do not compound their rounding.
        """
        rate = self._seconds_per_pixel_iteration()
        if rate is None:
            return plan[scale_index:]
        remaining = list(self.planned[scale_index:])
        costs = [self._cost(s) for s in remaining]
        seconds = deadline - self._elapsed() + step * costs[0] * rate
        fitted = fit_to_time(remaining, seconds, rate, costs)
        if fitted != remaining:
            self.budget_cut = True
        self.total = round(self.scale_start) + sum(s.iterations for s in fitted)
        return fitted

    # -- tiling --------------------------------------------------------------------------------

    def _grid(self, size: tuple[int, int]) -> TileGrid | None:
        """How a scale of this size is tiled, or None to run it whole."""
        h, w = size
        setting = self.options.tile
        if setting == "off":
            return None
        if setting == "auto":
            if self.memory_budget is None:
                return None
            precision = "fp32" if self.autocast_dtype is None else "bf16"
            chosen = choose_tile(w, h, self.device, precision, self.memory_budget)
            if chosen is None:
                return None
            setting = chosen
        grid = tile_grid(h, w, setting)
        return grid if len(grid.tiles) > 1 else None

    def _cost(self, scale: Scale) -> int:
        """Pixels the network sees in one iteration of `scale` (a tiled one sees each tile's context too)."""
        grid = self.grids[scale.longest_side]
        if grid is not None:
            return grid.pixels_per_pass
        h, w = self._scale_size(scale)
        return h * w

    # -- targets and losses --------------------------------------------------------------------

    def _losses(self, size: tuple[int, int]) -> ScaleObjective:
        opts = self.options
        with torch.no_grad(), autocast(self.device, self.autocast_dtype):
            content = self._network_input(self._on_device(resize(self.optimised_content, size)))
            content_target = self.model(content, [opts.content_layer], opts.pooling)[opts.content_layer]
        blended = self._style_targets(size, None)
        return ScaleObjective(
            model=self.model,
            options=opts,
            content=ContentLoss(content_target),
            styles={layer: StyleLoss(blended[layer]) for layer in opts.style_layers},
            layer_weights=self._layer_weights(),
            device=self.device,
            autocast_dtype=self.autocast_dtype,
            network_input=self._network_input,
        )

    def _style_targets(self, size: tuple[int, int], grid: TileGrid | None) -> dict[str, torch.Tensor]:
        """The blended Gram matrices of the style images, each sized to the scale's `style_scale`.

        With a grid (the scale is tiled), each style's Gram is summed tile by tile, tiles of the
        grid's size, so the style image never has to fit whole either.
        """
        opts = self.options
        blended: dict[str, torch.Tensor] = {}
        longest = round(max(size) * opts.style_scale)
        for style, weight in zip(self.styles_full, self.style_blend, strict=True):
            h, w = style.shape[-2:]
            factor = max(16, longest) / max(h, w)
            style_size = (max(1, round(h * factor)), max(1, round(w * factor)))
            pixels = resize(style, style_size)
            grams: dict[str, torch.Tensor] = {}
            if grid is None:
                with torch.no_grad(), autocast(self.device, self.autocast_dtype):
                    features = self.model(self._network_input(self._on_device(pixels)), opts.style_layers, opts.pooling)
                grams = {layer: gram(features[layer]) for layer in opts.style_layers}
            else:
                tile = max(max(t.core.height, t.core.width) for t in grid.tiles)
                style_grid = tile_grid(style_size[0], style_size[1], tile)
                for features in core_features(
                    self.model,
                    pixels,
                    style_grid,
                    opts.style_layers,
                    opts,
                    self.device,
                    self.autocast_dtype,
                    self._network_input,
                ):
                    for layer, g in gram_sums(features).items():
                        grams[layer] = grams[layer] + g if layer in grams else g
                grams = {layer: g / positions(layer, *style_size) for layer, g in grams.items()}
            for layer in opts.style_layers:
                g = grams[layer] * weight
                blended[layer] = blended[layer] + g if layer in blended else g
        return blended

    def _layer_weights(self) -> dict[str, float]:
        return dict(zip(self.options.style_layers, self.layer_weights, strict=True))

    # -- images --------------------------------------------------------------------------------

    def _scale_size(self, scale: Scale) -> tuple[int, int]:
        longest = max(self.width, self.height)
        if scale.longest_side >= longest:
            return self.height, self.width
        factor = scale.longest_side / longest
        return max(1, round(self.height * factor)), max(1, round(self.width * factor))

    def _initial_image(self, size: tuple[int, int], previous: torch.Tensor | None) -> torch.Tensor:
        if previous is not None:
            return self._on_device(
                F.interpolate(previous.float(), size=size, mode="bicubic", align_corners=False).clamp(0, 255)
            )
        generator = torch.Generator().manual_seed(self.options.seed or 0)
        h, w = size
        if self.options.init == "noise":
            start = (127.5 + 40.0 * torch.randn(1, 3, h, w, generator=generator)).clamp(0, 255)
        else:
            base = self.init_full if self.init_full is not None else self.optimised_content
            noise = CONTENT_INIT_NOISE * torch.randn(1, 3, h, w, generator=generator)
            start = (resize(base, size) + noise).clamp(0, 255)
        return self._on_device(start)

    def _finished_image(self, image: torch.Tensor, size: tuple[int, int]) -> Image.Image:
        with torch.no_grad():
            pixels = image.detach().float()
            if tuple(pixels.shape[-2:]) != size:
                shrink = size[0] < pixels.shape[-2]
                pixels = F.interpolate(pixels, size=size, mode="bicubic", align_corners=False, antialias=shrink)
            pixels = pixels.cpu()
            if self.options.preserve_colors == "luminance":
                pixels = colors.with_chroma_of(colors.luminance(pixels.clamp(0, 255)), resize(self.content_full, size))
            return to_pil(pixels)

    def _frame(self, image: torch.Tensor) -> Image.Image:
        width, height = frame_size(self.width, self.height)
        return self._finished_image(image, (height, width))

    def _keep_frame(self, image: torch.Tensor) -> None:
        assert self.frames is not None, "only called when frames are kept"
        self.frames.keep(self._frame(image), self.done)

    def _report(self, image: torch.Tensor, scale: int, plan: list[Scale], step: float, tile: int, tiles: int) -> None:
        opts = self.options
        self.reported = self.done
        preview = None
        whole = int(self.done)
        due = opts.preview_every is not None and (whole % opts.preview_every == 0 or self.done == self.total)
        if due and whole > self.previewed:
            preview = self._finished_image(image, (image.shape[-2], image.shape[-1]))
            self.previewed = whole
        loss, content_loss, style_loss = self.last
        assert self.progress is not None
        self.progress(
            Progress(
                iteration=int(self.done),
                total=self.total,
                scale=scale,
                scales=len(plan),
                width=image.shape[-1],
                height=image.shape[-2],
                loss=loss,
                content_loss=content_loss,
                style_loss=style_loss,
                elapsed=self._elapsed(),
                eta=self._eta(plan, scale, step),
                preview=preview,
                tile=tile,
                tiles=tiles,
            )
        )

    def _eta(self, plan: list[Scale], scale_index: int, step: float) -> float | None:
        """Seconds left: each remaining iteration weighed by the pixels its scale (or its tiles) runs."""
        rate = self._seconds_per_pixel_iteration()
        if rate is None:
            return None
        left = 0.0
        for i in range(scale_index, len(plan)):
            iterations = plan[i].iterations - (step if i == scale_index else 0)
            left += iterations * self._cost(plan[i]) * rate
        return left

    def _seconds_per_pixel_iteration(self) -> float | None:
        """The current scale's speed once it has one (a CPU's cost per pixel grows with the size), else the run's."""
        seconds, pixels = self.scale_rate
        if pixels > 0:
            return seconds / pixels
        return self.optimising_seconds / self.pixel_iterations if self.pixel_iterations > 0 else None

    def _elapsed(self) -> float:
        return time.perf_counter() - self.started

    def _on_device(self, tensor: torch.Tensor) -> torch.Tensor:
        # The optimised image stays in the default layout: L-BFGS flattens its gradient with view().
        return tensor.to(self.device).contiguous()

    def _network_input(self, tensor: torch.Tensor) -> torch.Tensor:
        """The layout the convolutions run fastest in (NHWC for cuDNN); autograd copies back."""
        return tensor.contiguous(memory_format=torch.channels_last) if self.channels_last else tensor
