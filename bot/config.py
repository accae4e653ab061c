"""The bot's configuration: a TOML file, then `STYLEBOT_<SECTION>_<KEY>` environment overrides.

Every key has a default and a range here; `config.example.toml` lists the same keys (a test keeps
the two in step). Loading checks everything once and reports every problem in one message, so a
typo never surfaces later as a crash or as a silently ignored setting.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from bot.limits import FRAMES, ITERATIONS, LEARNING_RATE, SIZE, STYLE_STRENGTH, Span
from stylecore.options import COLOR_MODES, OPTIMIZERS, PRECISIONS, ColorMode, OptimizerName

ENV_PREFIX = "STYLEBOT_"
MIB = 1024 * 1024


class ConfigError(Exception):
    """The configuration cannot be used; `str()` says every problem, one per line."""


def _key(
    default: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    span: Span[Any] | None = None,
    choices: tuple[str, ...] | None = None,
    pattern: str | None = None,
) -> Any:
    if span is not None:
        lo, hi = span.lo, span.hi
    return field(default=default, metadata={"lo": lo, "hi": hi, "choices": choices, "pattern": pattern})


@dataclass(frozen=True)
class BotConfig:
    sync_guild_ids: tuple[int, ...] = ()
    """Sync commands to these guilds only (instant; for development). Empty: sync globally."""
    progress_interval: float = _key(5.0, lo=0.0, hi=600.0)
    """Seconds between two edits of a running job's card. 0 edits on every change (tests only)."""
    log_level: str = _key("INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


@dataclass(frozen=True)
class EngineConfig:
    weights: str = _key("caffe", pattern=r".+")
    device: str = _key("auto", pattern=r"auto|cpu|mps|cuda(:\d+)?")
    precision: str = _key("auto", choices=PRECISIONS)
    multiscale: bool = True
    """Coarse-to-fine schedule: most iterations at low resolution. Faster for the same quality."""
    warm_up: bool = True
    """Run one tiny job at start-up, so the first user's job does not pay for the device's set-up."""


@dataclass(frozen=True)
class DefaultsConfig:
    """What a job uses for options the user leaves out; each server can override them."""

    size: int = _key(512, span=SIZE)
    iterations: int = _key(300, span=ITERATIONS)
    optimizer: OptimizerName = _key("lbfgs", choices=OPTIMIZERS)
    learning_rate: float | None = _key(None, span=LEARNING_RATE)
    """None ("auto" in TOML) takes the optimizer's own default."""
    style_strength: float = _key(1.0, span=STYLE_STRENGTH)
    preserve_colors: ColorMode = _key("none", choices=COLOR_MODES)
    max_upscale_size: int = _key(2048, span=SIZE)
    """The largest result the Upscale ×2 button may make; admins may raise it up to [limits] max_upscale_size."""
    builtin_styles: bool = True
    """Offer the built-in styles (stylecore.gallery) besides a server's presets; each server can turn them off."""


@dataclass(frozen=True)
class LimitsConfig:
    """Hard limits for everyone; a server can only tighten them."""

    max_attachment_bytes: int = _key(10 * MIB, lo=1024, hi=100 * MIB)
    max_pixels: int = _key(25_000_000, lo=4096, hi=200_000_000)
    max_size: int = _key(1024, span=SIZE)
    max_upscale_size: int = _key(4096, span=SIZE)
    """The most any server may allow for Upscale ×2 results (its own setting defaults to less)."""
    max_iterations: int = _key(1000, span=ITERATIONS)
    max_frames: int = _key(48, span=FRAMES)
    """Frames a clip may have (animated GIF or WebP, MP4, WebM, MOV); checked from the file's header."""
    max_video_size: int = _key(384, span=SIZE)
    """Longest side of a clip's result, px: smaller than stills, since every frame is painted."""
    max_job_seconds: float = _key(1800.0, lo=10.0, hi=86_400.0)
    """A job that runs longer is stopped and delivers its best image so far."""
    queue_max: int = _key(50, lo=1, hi=10_000)
    """Jobs waiting (not counting the running one) before new ones are refused."""
    jobs_per_user: int = _key(3, lo=1, hi=100)
    """Queued plus running jobs one user may have at a time."""
    cooldown_s: float = _key(10.0, lo=0.0, hi=3600.0)
    """Seconds between two /stylize commands of one user. 0 turns the cooldown off."""


@dataclass(frozen=True)
class StorageConfig:
    data_dir: str = _key("data", pattern=r".+")
    """Everything the bot keeps: database, job inputs, presets. "/data" in Docker."""
    database: str = _key("stylebot.sqlite3", pattern=r".+")
    """SQLite file, relative to data_dir unless absolute."""
    retention_hours: float = _key(72.0, lo=1.0, hi=24.0 * 365)
    """How long a finished job's inputs stay on disk for the re-run buttons."""


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = False
    host: str = _key("0.0.0.0", pattern=r".+")
    port: int = _key(9100, lo=0, hi=65535)
    """0 takes any free port (logged at start-up): for tests, which must not depend on a fixed port."""


@dataclass(frozen=True)
class HealthConfig:
    heartbeat_file: str = _key("heartbeat.json", pattern=r".+")
    """Relative to data_dir unless absolute."""
    interval_s: float = _key(15.0, lo=1.0, hi=3600.0)
    max_age_s: float = _key(60.0, lo=2.0, hi=86_400.0)
    """The healthcheck fails when the heartbeat or the worker's last report is older than this."""


@dataclass(frozen=True)
class QueueConfig:
    """Where jobs wait and run: in this process ("memory"), or on worker processes through Redis."""

    backend: str = _key("memory", choices=("memory", "redis"))
    redis_url: str = _key("redis://localhost:6379/0", pattern=r"(redis|rediss|unix)://.+")
    """May hold the password; never logged. `redis_url_file` wins when set."""
    redis_url_file: str = ""
    """A file holding the URL (a Docker secret), so the password stays out of the config."""
    key_prefix: str = _key("stylebot", pattern=r"[A-Za-z0-9_.:-]+")
    reclaim_after_s: float = _key(60.0, lo=5.0, hi=3600.0)
    """A job whose worker sent no sign of life for this long is run again by another worker."""
    max_deliveries: int = _key(3, lo=1, hi=100)
    """A job handed out this many times (its workers died each time) fails instead."""


@dataclass(frozen=True)
class Config:
    bot: BotConfig = field(default_factory=BotConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    defaults: DefaultsConfig = field(default_factory=DefaultsConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.data_dir)

    @property
    def database_path(self) -> Path:
        return self.data_dir / self.storage.database

    @property
    def heartbeat_path(self) -> Path:
        return self.data_dir / self.health.heartbeat_file

    def with_values(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys changed, e.g. `with_values(limits={"max_size": 256})`; unchecked."""
        return replace(self, **{name: replace(getattr(self, name), **values) for name, values in sections.items()})


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in fields(Config)}  # type: ignore[misc]  # every Config field has a default_factory; mypy sees the MISSING sentinel too


def schema() -> dict[str, tuple[str, ...]]:
    """Every section and its keys, in declaration order."""
    return {name: tuple(f.name for f in fields(section)) for name, section in SECTIONS.items()}


def load_config(path: str | os.PathLike[str] | None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read `path` (None: defaults only), apply `STYLEBOT_*` overrides, check every value.

    Raises ConfigError naming each bad key, value or unknown name.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            with open(path, "rb") as handle:
                raw = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"config file {source} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read {source}: {exc.strerror or exc}") from None

    problems: list[str] = []
    values: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for section, table in raw.items():
        if section not in SECTIONS:
            problems.append(f"{source}: [{section}] is not a known section{suggest(section, SECTIONS)}")
        elif not isinstance(table, dict):
            problems.append(f"{source}: {section} must be a [{section}] table")
        else:
            for key, value in table.items():
                values[section][key] = (value, f"{source}: [{section}] {key}")

    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section not in SECTIONS or key not in schema()[section]:
            problems.append(
                f"environment: {name} does not name a setting (expected STYLEBOT_<SECTION>_<KEY>, "
                f"e.g. STYLEBOT_LIMITS_MAX_SIZE)"
            )
            continue
        values[section][key] = (EnvText(text), f"environment: {name}")

    sections: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        hints = get_type_hints(cls)
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, (value, where) in values[section].items():
            if key not in known:
                problems.append(f"{where} is not a known key{suggest(key, known)}")
                continue
            try:
                kwargs[key] = check_value(value, hints[key], known[key].metadata)
            except ValueError as exc:
                problems.append(f"{where} {exc}")
        sections[section] = cls(**kwargs)
    if problems:
        raise ConfigError("\n".join(problems))
    config = Config(**sections)
    if config.health.max_age_s <= config.health.interval_s:
        raise ConfigError(
            f"{source}: [health] max_age_s ({config.health.max_age_s:g}) must be longer than "
            f"interval_s ({config.health.interval_s:g}), or every healthcheck would fail"
        )
    return config


__all__ = ["ENV_PREFIX", "Config", "ConfigError", "load_config", "schema"]


# -- one value (from TOML, or text from the environment) into its key's type, checked against the
# range, choices or pattern its field declares (`_key`) --------------------------------------------


class EnvText(str):
    """A value from the environment: a string that still has to be parsed as the key's type."""


def check_value(value: Any, hint: Any, meta: Mapping[str, Any]) -> Any:
    optional = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
    kind = next(a for a in get_args(hint) if a is not type(None)) if optional else hint
    if get_origin(kind) is Literal:  # its values are the key's `choices`, checked below
        kind = str
    if optional and isinstance(value, str) and value.strip().lower() == "auto":
        return None
    if isinstance(value, EnvText):
        value = _parse_env(value, kind)
    if get_origin(kind) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ValueError(f"must be a list of integers, not {value!r}")
        return tuple(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, not {value!r}")
        return value
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError(f"must be an integer{_range_text(meta)}, not {value!r}")
    if kind is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            auto = ' or "auto"' if optional else ""
            raise ValueError(f"must be a number{_range_text(meta)}{auto}, not {value!r}")
        value = float(value)
    if kind is str and not isinstance(value, str):
        raise ValueError(f"must be a string, not {value!r}")
    if meta.get("lo") is not None and not meta["lo"] <= value <= meta["hi"]:
        raise ValueError(f"must be{_range_text(meta)}, not {value!r}")
    if meta.get("choices") and value not in meta["choices"]:
        raise ValueError(f"must be one of {', '.join(map(repr, meta['choices']))}, not {value!r}")
    if meta.get("pattern") and not re.fullmatch(meta["pattern"], value):
        raise ValueError("must not be empty" if meta["pattern"] == ".+" else f"is not a valid value: {value!r}")
    return value


def _parse_env(text: str, kind: Any) -> Any:
    text = text.strip()
    try:
        if get_origin(kind) is tuple:
            return [int(part) for part in text.split(",") if part.strip()]
        if kind is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            return text
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        return text  # reported by _check with the key's expected type
    return text


def _range_text(meta: Mapping[str, Any]) -> str:
    if meta.get("lo") is None:
        return ""
    return f" from {meta['lo']:g} to {meta['hi']:g}"


def suggest(name: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
