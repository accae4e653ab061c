"""The built-in style gallery: public-domain paintings shipped with the package (see `catalogue`)."""

from __future__ import annotations

from .catalogue import BUILTIN_STYLES, BuiltinStyle, builtin_names, find_builtin, normalise_name

__all__ = ["BUILTIN_STYLES", "BuiltinStyle", "builtin_names", "find_builtin", "normalise_name"]
