"""The options of one style-transfer job, validated once, shared by the CLI and the bot."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

from .errors import OptionsError
from .schedule import plan_scales

OptimizerName = Literal["lbfgs", "adam", "adagrad", "sgd"]
ColorMode = Literal["none", "luminance", "color"]
InitMode = Literal["content", "noise", "image"]
Pooling = Literal["max", "avg"]
#: A tile size in pixels, "auto" (tile only what does not fit the device) or "off".
TileSetting = int | Literal["auto", "off"]

OPTIMIZERS: tuple[str, ...] = ("lbfgs", "adam", "adagrad", "sgd")
COLOR_MODES: tuple[str, ...] = ("none", "luminance", "color")
INIT_MODES: tuple[str, ...] = ("content", "noise", "image")
POOLINGS: tuple[str, ...] = ("max", "avg")
#: Engine precisions (an engine setting, not a job option). No fp16: the Caffe VGG-19's activations
#: (0-255 inputs) exceed fp16's range and the loss overflows.
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")

#: Each optimizer's learning rate when none is given (pixel units of the 0-255 VGG input).
DEFAULT_LEARNING_RATES: dict[str, float] = {"lbfgs": 1.0, "adam": 10.0, "adagrad": 10.0, "sgd": 1.0}

CONTENT_LAYERS: tuple[str, ...] = (
    "relu1_1",
    "relu1_2",
    "relu2_1",
    "relu2_2",
    "relu3_1",
    "relu3_2",
    "relu3_3",
    "relu3_4",
    "relu4_1",
    "relu4_2",
    "relu4_3",
    "relu4_4",
    "relu5_1",
    "relu5_2",
    "relu5_3",
    "relu5_4",
)

MAX_SIZE = 4096
#: The smallest tile: a tile needs room inside its context (stylecore.tiling).
MIN_TILE = 32
#: More timelapse frames than this make a file too large to share without showing more.
MAX_TIMELAPSE_FRAMES = 240


@dataclass(frozen=True)
class StyleOptions:
    """Everything that shapes one job's result. Construct, then call `validated()`."""

    size: int = 512
    """Longest side of the output, in pixels."""
    iterations: int = 300
    """Total optimiser iterations, summed over all scales."""
    optimizer: OptimizerName = "lbfgs"
    learning_rate: float | None = None
    """None takes the optimizer's default from DEFAULT_LEARNING_RATES."""
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    content_weight: float = 1.0
    style_weight: float = 1.0
    """Overall style strength relative to content."""
    style_weights: tuple[float, ...] | None = None
    """Blend weight per style image; None blends them equally. Normalised to sum to 1."""
    tv_weight: float = 1.0
    """Total-variation smoothing; removes high-frequency noise."""
    style_scale: float = 1.0
    """Style image size relative to the content size: smaller gives finer brush strokes."""
    content_layer: str = "relu4_2"
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    style_layer_weights: tuple[float, ...] | None = None
    """Per-layer style weights; None weighs the layers equally."""
    preserve_colors: ColorMode = "none"
    init: InitMode = "content"
    """"image" needs an init image passed to `stylize`."""
    seed: int | None = None
    """None draws a seed; the one used is in the result."""
    pooling: Pooling = "max"
    multiscale: bool = True
    """Coarse-to-fine: most iterations at low resolution, the last ones at full size."""
    max_seconds: float | None = None
    """Stop at this deadline and return the best image so far."""
    progress_every: int = 10
    """Call the progress callback every N iterations (and at each scale's end)."""
    preview_every: int | None = None
    """Attach a preview image to the progress record every N iterations; None: never."""
    tile: TileSetting = "auto"
    """Optimise scales larger than this many pixels a side in overlapping tiles, so memory depends on
    the tile, not the image. "auto": only scales whose estimated memory exceeds what the device has
    free (stylecore.tiling); "off": never. In a tiled scale an iteration steps every tile once."""
    upscale_from: int | None = None
    """Upscaling a result (init "image", the result as the init image): the result's longest side. The
    run starts from the upsampled result and spends its iterations at the scales above this size only.
    `upscaled()` sets it."""
    timelapse_frames: int = 0
    """Keep this many frames, evenly spaced over the run, in `StyleResult.frames` (0: none)."""

    def validated(self) -> StyleOptions:
        """Return a copy with defaults resolved, or raise OptionsError naming the bad option."""
        _check(16 <= self.size <= MAX_SIZE, f"size must be between 16 and {MAX_SIZE} pixels, not {self.size}")
        _check(1 <= self.iterations <= 100_000, f"iterations must be between 1 and 100000, not {self.iterations}")
        _check(
            self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}"
        )
        lr = DEFAULT_LEARNING_RATES[self.optimizer] if self.learning_rate is None else self.learning_rate
        _check(_finite(lr) and lr > 0, f"learning rate must be a positive number, not {lr}")
        _check(_finite(self.beta1) and 0 <= self.beta1 < 1, f"beta1 must be in [0, 1), not {self.beta1}")
        _check(_finite(self.beta2) and 0 <= self.beta2 < 1, f"beta2 must be in [0, 1), not {self.beta2}")
        _check(_finite(self.epsilon) and self.epsilon > 0, f"epsilon must be positive, not {self.epsilon}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            _check(_finite(value) and value >= 0, f"{name.replace('_', ' ')} must be zero or positive, not {value}")
        _check(self.content_weight + self.style_weight > 0, "content weight and style weight cannot both be zero")
        _check(
            _finite(self.style_scale) and 0.05 <= self.style_scale <= 4,
            f"style scale must be between 0.05 and 4, not {self.style_scale}",
        )
        _check(self.content_layer in CONTENT_LAYERS, f"unknown content layer {self.content_layer!r}")
        _check(len(self.style_layers) > 0, "at least one style layer is needed")
        for layer in self.style_layers:
            _check(layer in CONTENT_LAYERS, f"unknown style layer {layer!r}")
        if self.style_layer_weights is not None:
            _check(
                len(self.style_layer_weights) == len(self.style_layers),
                f"{len(self.style_layers)} style layers need as many layer weights, "
                f"not {len(self.style_layer_weights)}",
            )
            _check(all(_finite(w) and w >= 0 for w in self.style_layer_weights), "style layer weights must be >= 0")
        if self.style_weights is not None:
            _check(len(self.style_weights) >= 1, "style weights cannot be empty")
            _check(all(_finite(w) and w >= 0 for w in self.style_weights), "style weights must be zero or positive")
            _check(sum(self.style_weights) > 0, "at least one style weight must be positive")
        _check(
            self.preserve_colors in COLOR_MODES,
            f"preserve colors must be one of {', '.join(COLOR_MODES)}, not {self.preserve_colors!r}",
        )
        _check(self.init in INIT_MODES, f"init must be one of {', '.join(INIT_MODES)}, not {self.init!r}")
        _check(self.pooling in POOLINGS, f"pooling must be max or avg, not {self.pooling!r}")
        if self.seed is not None:
            _check(0 <= self.seed < 2**63, f"seed must be between 0 and 2**63-1, not {self.seed}")
        if self.max_seconds is not None:
            _check(
                _finite(self.max_seconds) and self.max_seconds > 0,
                f"max seconds must be positive, not {self.max_seconds}",
            )
        _check(self.progress_every >= 1, f"progress every must be at least 1, not {self.progress_every}")
        if self.preview_every is not None:
            _check(self.preview_every >= 1, f"preview every must be at least 1, not {self.preview_every}")
        if self.tile not in ("auto", "off"):
            _check(
                isinstance(self.tile, int) and not isinstance(self.tile, bool) and MIN_TILE <= self.tile <= MAX_SIZE,
                f"tile must be auto, off or a size between {MIN_TILE} and {MAX_SIZE} pixels, not {self.tile!r}",
            )
        if self.upscale_from is not None:
            _check(self.init == "image", "upscaling a result needs init 'image' (the result)")
            _check(
                16 <= self.upscale_from < self.size,
                f"upscale from must be between 16 and the size ({self.size}), not {self.upscale_from}",
            )
        _check(
            0 <= self.timelapse_frames <= MAX_TIMELAPSE_FRAMES and self.timelapse_frames != 1,
            f"timelapse frames must be 0 or between 2 and {MAX_TIMELAPSE_FRAMES}, not {self.timelapse_frames}",
        )
        return replace(self, learning_rate=float(lr))

    def upscaled(self, result_size: int, factor: float = 2.0, *, iterations: int | None = None) -> StyleOptions:
        """Options that upscale a result of these options `factor` times: same seed and look.

        `result_size` is the result's longest side. Unless `iterations` is given, each new scale gets
        as many iterations as these options spent at their top scale.
        """
        _check(_finite(factor) and factor > 1, f"an upscale factor must be above 1, not {factor}")
        size = min(MAX_SIZE, round(result_size * factor))
        _check(size > result_size, f"a result of {result_size} px cannot be upscaled past {MAX_SIZE} px")
        if iterations is None:
            top = plan_scales(self.size, self.iterations, self.multiscale)[-1].iterations
            new_scales = len(plan_scales(size, 2**20, self.multiscale, above=result_size))
            iterations = top * new_scales
        return replace(self, size=size, iterations=iterations, init="image", upscale_from=result_size)

    def to_json(self) -> str:
        """The options as JSON (the CLI stores them in its PNGs, so an upscale can keep them)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StyleOptions:
        """Options from `to_json()`'s output, validated; unknown keys or bad values are an OptionsError."""
        try:
            values = json.loads(text)
        except ValueError:
            raise OptionsError("stored options are not valid JSON") from None
        _check(isinstance(values, dict), "stored options are not a JSON object")
        for name in ("style_weights", "style_layers", "style_layer_weights"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls().with_values(**values).validated()

    def with_values(self, **changes: object) -> StyleOptions:
        """`dataclasses.replace` that names an unknown key instead of a TypeError about __init__."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        _check(not unknown, f"unknown option(s): {', '.join(unknown)}")
        return replace(self, **changes)  # type: ignore[arg-type]  # values are typed and checked by validated()


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise OptionsError(message)


__all__ = [
    "COLOR_MODES",
    "DEFAULT_LEARNING_RATES",
    "INIT_MODES",
    "MAX_TIMELAPSE_FRAMES",
    "MIN_TILE",
    "OPTIMIZERS",
    "POOLINGS",
    "StyleOptions",
    "TileSetting",
]
