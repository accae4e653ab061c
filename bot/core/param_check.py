"""Turn the options a user typed into a job's parameters, under the server's settings, and the one check of
a job's parameters, which also makes its engine options."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.errors import UserError
from bot.core.params import EngineSettings, JobParams, StyleRef, new_seed
from bot.core.server_settings import ServerSettings
from bot.limits import ENGINE_DEFAULTS, STYLE_STRENGTH
from stylecore.errors import OptionsError
from stylecore.options import ColorMode, OptimizerName, StyleOptions


@dataclass(frozen=True)
class UserOptions:
    """What the user gave on /stylize; None means "use the server's default"."""

    iterations: int | None = None
    size: int | None = None
    style_strength: float | None = None
    optimizer: OptimizerName | None = None
    learning_rate: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    epsilon: float | None = None
    preserve_colors: ColorMode | None = None
    style_weights: str | None = None
    seed: int | None = None


def resolve_params(
    options: UserOptions,
    settings: ServerSettings,
    roles: Sequence[str],
    *,
    named: Sequence[StyleRef] = (),
    own_defaults: Mapping[str, float] | None = None,
    frames: int = 1,
) -> JobParams:
    """The job's parameters (to be checked: `check_params`); UserError for style weights that do not fit.

    `roles` names the option that gave each style, in blend order; `named` are the presets and built-ins
    among them. `own_defaults` are a lone built-in's own settings (`BuiltinStyle.defaults`, by engine
    option name): they replace the server's defaults, and what the member chose replaces them. `frames`:
    the content's frame count (a clip when more than one).
    """
    own = own_defaults or {}
    if options.style_strength is not None:
        strength = options.style_strength
    else:
        strength = own.get("style_weight", settings.style_strength)
    # A server's defaults may exceed a limit lowered later; the limit wins. A clip has a limit of its own.
    max_size = min(settings.max_size, settings.max_video_size) if frames > 1 else settings.max_size
    return JobParams(
        size=options.size or min(settings.size, max_size),
        iterations=options.iterations or min(settings.iterations, settings.max_iterations),
        style_strength=STYLE_STRENGTH.clamp(strength),
        optimizer=options.optimizer or settings.optimizer,
        learning_rate=options.learning_rate if options.learning_rate is not None else settings.learning_rate,
        preserve_colors=options.preserve_colors or settings.preserve_colors,
        seed=new_seed() if options.seed is None else options.seed,
        beta1=ENGINE_DEFAULTS.beta1 if options.beta1 is None else options.beta1,
        beta2=ENGINE_DEFAULTS.beta2 if options.beta2 is None else options.beta2,
        epsilon=ENGINE_DEFAULTS.epsilon if options.epsilon is None else options.epsilon,
        style_weights=parse_style_weights(options.style_weights, roles),
        style_scale=own.get("style_scale", ENGINE_DEFAULTS.style_scale),
        named_styles=tuple(named),
        frames=frames,
    )


def check_params(params: JobParams, settings: ServerSettings, engine: EngineSettings) -> StyleOptions:
    """The one check of a job's parameters: the server's limits, then the engine's own rules; the job's
    engine options, made once here, or UserError naming the option that breaks a limit.

    Also for re-runs, whose parameters were fixed under older settings.
    """
    if params.clip:
        if params.upscale_from:
            raise UserError("Upscale ×2 works on still images, and this job's content is a clip.")
        if params.frames > settings.max_frames:
            raise UserError(f"This clip has {params.frames} frames; this server allows {settings.max_frames}.")
        if params.size > settings.max_video_size:
            raise UserError(
                f"size {params.size} is above this server's limit of {settings.max_video_size} pixels for clips "
                "(max_video_size)."
            )
    # An upscale has a limit of its own; everything else, the server's max_size.
    max_size = settings.max_upscale_size if params.upscale_from else settings.max_size
    if params.size > max_size:
        raise UserError(f"size {params.size} is above this server's limit of {max_size} pixels.")
    if params.iterations > settings.max_iterations:
        raise UserError(f"iterations {params.iterations} is above this server's limit of {settings.max_iterations}.")
    try:
        return engine.options(params)
    except OptionsError as exc:
        raise UserError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None


def parse_style_weights(text: str | None, roles: Sequence[str]) -> tuple[float, ...] | None:
    """ "2,1" -> (2.0, 1.0): one blend weight per style, in the order of `roles` (the options that gave them)."""
    if text is None or not text.strip():
        return None
    parts = [part.strip() for part in text.replace(";", ",").split(",")]
    try:
        weights = tuple(float(part) for part in parts)
    except ValueError:
        raise UserError(f"style_weights must be numbers separated by commas, like “2,1”, not “{text}”.") from None
    if len(weights) != len(roles):
        raise UserError(
            f"style_weights has {len(weights)} weight(s) but the job has {len(roles)} style(s); "
            f"give one weight per style, in this order: {', '.join(roles)}."
        )
    if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        raise UserError("style_weights must be zero or positive, and at least one must be above zero.")
    return weights
