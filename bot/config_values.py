"""Turning one config value (from TOML, or text from the environment) into its key's type, checked.

Each key declares its range, choices or pattern in its field's metadata (`bot.config._key`).
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin


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
