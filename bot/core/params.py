"""A job's parameters (every engine option it uses), the re-runs its result card offers, and the engine
settings that turn parameters into the engine's options."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from bot.config import Config
from bot.limits import ENGINE_DEFAULTS, MAX_SEED, PREVIEW_TICKS, PROGRESS_TICKS, STYLE_STRENGTH, TIMELAPSE_FRAMES
from stylecore.options import ColorMode, OptimizerName, StyleOptions


class Rerun(StrEnum):
    """The result card's buttons: each starts a new job from the same inputs."""

    STRONGER = "stronger"
    WEAKER = "weaker"
    COLOURS = "colours"
    SEED = "seed"
    UPSCALE = "upscale"  # twice the size, starting from the result: same inputs, seed and options

    def label(self, params: JobParams) -> str:
        """The button's label under a card whose job has `params`."""
        if self is Rerun.COLOURS:
            return "Keep colours" if params.preserve_colors == "none" else "Full colour"
        return RERUN_LABELS[self]

    def change(self, params: JobParams) -> str:
        """What a re-run with `params` (the new job's) changed, as its card says it."""
        if self is Rerun.COLOURS:
            return "full colour" if params.preserve_colors == "none" else "keep colours"
        return RERUN_LABELS[self].lower()


class StyleKind(StrEnum):
    """Where a named style comes from."""

    BUILTIN = "built-in"
    """One of the paintings that come with the bot (`stylecore.gallery`)."""
    PRESET = "preset"
    """One of a server's own style images (/stylepreset)."""


@dataclass(frozen=True)
class StyleRef:
    """A named style a job used: kept with its parameters, so a re-run can tell whether it is still offered."""

    kind: StyleKind
    name: str

    @property
    def label(self) -> str:
        """How cards and messages name it: "built-in great-wave", "preset Monet"."""
        return f"{self.kind} {self.name}"


RERUN_LABELS = {
    Rerun.STRONGER: "Stronger style",
    Rerun.WEAKER: "Weaker style",
    Rerun.SEED: "New seed",
    Rerun.UPSCALE: "Upscale ×2",
}


@dataclass(frozen=True)
class JobParams:
    """Every engine option a job uses, resolved (server defaults applied, seed drawn)."""

    size: int
    iterations: int
    style_strength: float
    optimizer: OptimizerName
    learning_rate: float | None
    preserve_colors: ColorMode
    seed: int
    beta1: float = ENGINE_DEFAULTS.beta1
    beta2: float = ENGINE_DEFAULTS.beta2
    epsilon: float = ENGINE_DEFAULTS.epsilon
    style_weights: tuple[float, ...] | None = None
    style_scale: float = ENGINE_DEFAULTS.style_scale
    """Style image size relative to the result: a lone built-in style may bring its own."""
    named_styles: tuple[StyleRef, ...] = ()
    """The presets and built-ins among the job's styles (the images themselves are the job's files)."""
    upscale_from: int | None = None
    """An upscale of a result this many pixels a side: the job starts from that result (its init image)."""
    frames: int = 1
    """The content's frames: more than one for a clip (an animated GIF or WebP, a video), painted frame by
    frame; `size` is then the clip's size (the server's `max_video_size` applies)."""

    @property
    def clip(self) -> bool:
        return self.frames > 1

    def rerun(self, variant: Rerun) -> JobParams:
        """The parameters of a re-run: same inputs and seed, one thing changed (Upscale: `EngineSettings.upscaled`)."""
        if variant is Rerun.STRONGER:
            return replace(self, style_strength=STYLE_STRENGTH.clamp(self.style_strength * 2))
        if variant is Rerun.WEAKER:
            return replace(self, style_strength=STYLE_STRENGTH.clamp(self.style_strength / 2))
        if variant is Rerun.COLOURS:
            return replace(self, preserve_colors="luminance" if self.preserve_colors == "none" else "none")
        if variant is Rerun.SEED:
            return replace(self, seed=new_seed())
        raise ValueError(f"{variant} needs the result's size: use EngineSettings.upscaled()")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobParams:
        weights = data.get("style_weights")
        named = tuple(StyleRef(StyleKind(ref["kind"]), ref["name"]) for ref in data.get("named_styles", ()))
        return cls(**{**data, "style_weights": tuple(weights) if weights is not None else None, "named_styles": named})


@dataclass(frozen=True)
class EngineSettings:
    """What the config adds to every job's parameters to make the engine's options: the multiscale
    schedule, the time limit of a job, and the pixel limit its images are loaded under.

    The one place a job's parameters become `StyleOptions` (`options`), checked by the engine's own rules:
    intake does it once per job (`param_check.check_params`) and the job carries them to the ledger; a job
    resumed after a restart has them made again, under the config and engine of that run.
    """

    multiscale: bool
    max_seconds: float
    max_pixels: int

    @classmethod
    def of(cls, config: Config) -> EngineSettings:
        return cls(config.engine.multiscale, config.limits.max_job_seconds, config.limits.max_pixels)

    def options(self, params: JobParams) -> StyleOptions:
        """The engine's options for a job with `params`; OptionsError if they are inconsistent."""
        every = max(1, params.iterations // PROGRESS_TICKS)
        return StyleOptions(
            size=params.size,
            iterations=params.iterations,
            optimizer=params.optimizer,
            learning_rate=params.learning_rate,
            beta1=params.beta1,
            beta2=params.beta2,
            epsilon=params.epsilon,
            style_weight=params.style_strength,
            style_weights=params.style_weights,
            style_scale=params.style_scale,
            preserve_colors=params.preserve_colors,
            seed=params.seed,
            multiscale=self.multiscale,
            max_seconds=self.max_seconds,
            progress_every=every,
            preview_every=max(every, params.iterations // PREVIEW_TICKS),
            init="image" if params.upscale_from else "content",
            upscale_from=params.upscale_from,
            # A clip is its own animation: no timelapse of its run.
            timelapse_frames=0 if params.clip else TIMELAPSE_FRAMES,
        ).validated()

    def upscaled(self, params: JobParams, result_size: int) -> JobParams:
        """An Upscale ×2 of a result `result_size` pixels a side, made with `params`; the engine decides its
        iterations (from the parent's options: the new job's own are made when it is checked)."""
        options = self.options(params).upscaled(result_size)
        return replace(params, size=options.size, iterations=options.iterations, upscale_from=result_size)


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)
