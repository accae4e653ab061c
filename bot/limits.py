"""Every range a job's parameters must stay in, and the engine defaults the bot relies on, once.

The Discord option ranges (/stylize), config validation ([defaults], [limits]), server settings
(/stylesettings) and the job's parameter check all derive from these; the defaults of the limits
themselves are the config's (`bot.config.LimitsConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from stylecore.options import MAX_SIZE, StyleOptions

N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Span(Generic[N]):
    """An inclusive range of numbers."""

    lo: N
    hi: N

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.lo <= value <= self.hi

    def clamp(self, value: N) -> N:
        return min(self.hi, max(self.lo, value))

    def text(self) -> str:
        return f"from {self.lo:g} to {self.hi:g}"


#: Longest side of a result. Smaller images leave VGG's deepest style layers no room.
SIZE = Span(64, MAX_SIZE)
ITERATIONS = Span(1, 10_000)
#: Frames of a clip (an animated GIF or WebP, a video): each is painted, so a clip costs about its
#: frame count in stills. Up to 1000 (40 s at 25 fps) for a server with time to spare.
FRAMES = Span(1, 1000)
LEARNING_RATE = Span(1e-6, 1e4)
STYLE_STRENGTH = Span(0.01, 100.0)
BETA1 = Span(0.0, 0.9999)
BETA2 = Span(0.0, 0.99999)
EPSILON = Span(1e-12, 1.0)
#: Largest seed a user can type back: Discord integer options stop at 2**53.
MAX_SEED = 2**53 - 1
SEED = Span(0, MAX_SEED)
#: The engine's own values of what members cannot choose or leave out: Adam's beta1, beta2 and epsilon,
#: and the style scale (which a lone built-in style may bring its own of).
ENGINE_DEFAULTS = StyleOptions()
#: Styles one job may blend: style images, server presets and built-in styles together.
MAX_STYLES = 3
#: The engine reports progress about this many times per job...
PROGRESS_TICKS = 100
#: ...and attaches a preview image about this many times.
PREVIEW_TICKS = 20
#: Frames kept for a job's timelapse, evenly spaced over its run.
TIMELAPSE_FRAMES = 24
