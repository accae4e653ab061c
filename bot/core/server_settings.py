"""Per-server settings: defaults a server picks for its members and limits it tightens.

A server stores only the keys it changed; everything else comes from the config's [defaults]
and [limits]. Servers can lower the global limits, never raise them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from bot.config import Config
from bot.core.errors import UserError
from bot.limits import FRAMES, ITERATIONS, LEARNING_RATE, SIZE, STYLE_STRENGTH, Span
from stylecore.options import COLOR_MODES, OPTIMIZERS, ColorMode, OptimizerName

if TYPE_CHECKING:
    from bot.core.store import Store


@dataclass(frozen=True)
class ServerSettings:
    """The settings in force for one server (or for DMs, with no overrides)."""

    size: int
    iterations: int
    optimizer: OptimizerName
    learning_rate: float | None
    style_strength: float
    preserve_colors: ColorMode
    max_size: int
    max_upscale_size: int
    max_iterations: int
    jobs_per_user: int
    allowed_channels: tuple[int, ...]
    """Channels where /stylize works; empty: every channel."""
    builtin_styles: bool
    """The built-in styles are offered besides the server's presets."""
    max_frames: int
    """Frames a clip may have."""
    max_video_size: int
    """Largest size of a clip's result (longest side, px)."""

    @classmethod
    def resolve(cls, config: Config, overrides: Mapping[str, Any]) -> ServerSettings:
        """Global settings overlaid with a server's stored overrides (unknown keys are ignored)."""
        base = cls(
            size=config.defaults.size,
            iterations=config.defaults.iterations,
            optimizer=config.defaults.optimizer,
            learning_rate=config.defaults.learning_rate,
            style_strength=config.defaults.style_strength,
            preserve_colors=config.defaults.preserve_colors,
            max_size=config.limits.max_size,
            max_upscale_size=config.defaults.max_upscale_size,
            max_iterations=config.limits.max_iterations,
            jobs_per_user=config.limits.jobs_per_user,
            allowed_channels=(),
            builtin_styles=config.defaults.builtin_styles,
            max_frames=config.limits.max_frames,
            max_video_size=config.limits.max_video_size,
        )
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {
            key: tuple(value) if key == "allowed_channels" else value
            for key, value in overrides.items()
            if key in known
        }
        merged = replace(base, **values)
        # The config may have tightened a limit since the server stored its value.
        return replace(
            merged,
            max_size=min(merged.max_size, config.limits.max_size),
            max_upscale_size=min(merged.max_upscale_size, config.limits.max_upscale_size),
            max_iterations=min(merged.max_iterations, config.limits.max_iterations),
            jobs_per_user=min(merged.jobs_per_user, config.limits.jobs_per_user),
            max_frames=min(merged.max_frames, config.limits.max_frames),
            max_video_size=min(merged.max_video_size, config.limits.max_video_size),
        )


async def load_settings(store: Store, config: Config, guild_id: int | None) -> tuple[ServerSettings, dict[str, Any]]:
    """The settings in force where a command runs, and the server's own overrides (none in DMs)."""
    overrides = await store.guild_settings(guild_id) if guild_id is not None else {}
    return ServerSettings.resolve(config, overrides), overrides


@dataclass(frozen=True)
class SettingKey:
    name: str
    description: str
    parse: Callable[[str, Config], Any]
    """Turn what an admin typed into the stored value, or raise UserError."""


def _int_in(name: str, lo: Callable[[Config], int], hi: Callable[[Config], int]) -> Callable[[str, Config], int]:
    def parse(text: str, config: Config) -> int:
        low, high = lo(config), hi(config)
        try:
            value = int(text.strip())
        except ValueError:
            raise UserError(f"{name} must be a whole number from {low} to {high}, not “{text}”.") from None
        if not low <= value <= high:
            raise UserError(f"{name} must be from {low} to {high} on this bot, not {value}.")
        return value

    return parse


def _float_in(name: str, span: Span[float], *, auto: bool = False) -> Callable[[str, Config], float | None]:
    def parse(text: str, config: Config) -> float | None:
        if auto and text.strip().lower() == "auto":
            return None
        try:
            value = float(text.strip())
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value in span):
            extra = " or “auto”" if auto else ""
            raise UserError(f"{name} must be a number {span.text()}{extra}, not “{text}”.")
        return value

    return parse


def _choice(name: str, choices: tuple[str, ...]) -> Callable[[str, Config], str]:
    def parse(text: str, config: Config) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise UserError(f"{name} must be one of {', '.join(choices)}, not “{text}”.")
        return value

    return parse


SWITCH_WORDS = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}


def _switch(name: str) -> Callable[[str, Config], bool]:
    def parse(text: str, config: Config) -> bool:
        value = SWITCH_WORDS.get(text.strip().lower())
        if value is None:
            raise UserError(f"{name} must be on or off, not “{text}”.")
        return value

    return parse


def _channels(text: str, config: Config) -> list[int]:
    if text.strip().lower() in ("all", "any", "everywhere", "*"):
        return []
    ids = {int(mention or bare) for mention, bare in re.findall(r"<#(\d+)>|\b(\d{15,21})\b", text)}
    if not ids:
        raise UserError("allowed_channels takes channel mentions (#general #art) or “all”.")
    return sorted(ids)


SETTING_KEYS: dict[str, SettingKey] = {
    key.name: key
    for key in (
        SettingKey(
            "size",
            "default output size (longest side, px)",
            _int_in("size", lambda c: SIZE.lo, lambda c: c.limits.max_size),
        ),
        SettingKey(
            "iterations",
            "default number of iterations",
            _int_in("iterations", lambda c: ITERATIONS.lo, lambda c: c.limits.max_iterations),
        ),
        SettingKey("optimizer", "default optimizer", _choice("optimizer", OPTIMIZERS)),
        SettingKey(
            "learning_rate",
            "default learning rate (auto: the optimizer's own)",
            _float_in("learning_rate", LEARNING_RATE, auto=True),
        ),
        SettingKey("style_strength", "default style strength", _float_in("style_strength", STYLE_STRENGTH)),
        SettingKey("preserve_colors", "default colour preservation", _choice("preserve_colors", COLOR_MODES)),
        SettingKey(
            "max_size",
            "largest size members may ask for",
            _int_in("max_size", lambda c: SIZE.lo, lambda c: c.limits.max_size),
        ),
        SettingKey(
            "max_upscale_size",
            "largest result Upscale ×2 may make",
            _int_in("max_upscale_size", lambda c: SIZE.lo, lambda c: c.limits.max_upscale_size),
        ),
        SettingKey(
            "max_iterations",
            "most iterations members may ask for",
            _int_in("max_iterations", lambda c: ITERATIONS.lo, lambda c: c.limits.max_iterations),
        ),
        SettingKey(
            "jobs_per_user",
            "queued plus running jobs per member",
            _int_in("jobs_per_user", lambda c: 1, lambda c: c.limits.jobs_per_user),
        ),
        SettingKey("allowed_channels", "channels where /stylize works (all: everywhere)", _channels),
        SettingKey(
            "builtin_styles", "offer the built-in styles besides this server's presets", _switch("builtin_styles")
        ),
        SettingKey(
            "max_frames",
            "most frames a clip (GIF, video) may have",
            _int_in("max_frames", lambda c: FRAMES.lo, lambda c: c.limits.max_frames),
        ),
        SettingKey(
            "max_video_size",
            "largest size of a clip's result (px)",
            _int_in("max_video_size", lambda c: SIZE.lo, lambda c: c.limits.max_video_size),
        ),
    )
}


def format_setting(key: str, value: Any) -> str:
    if key == "allowed_channels":
        return " ".join(f"<#{channel}>" for channel in value) if value else "all channels"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "auto"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
