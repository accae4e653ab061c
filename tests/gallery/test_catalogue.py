"""The built-in styles' catalogue: names, files, licences, defaults, and that it stays light."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from stylecore.gallery import BUILTIN_STYLES, BuiltinStyle, builtin_names, find_builtin, normalise_name
from stylecore.gallery.catalogue import NAME_PATTERN, PAINTINGS_DIR
from stylecore.options import StyleOptions

ROOT = Path(__file__).resolve().parents[2]
PAINTINGS = resources.files("stylecore.gallery").joinpath(PAINTINGS_DIR)
#: "A few MB in all": the whole gallery must stay well under what a clone or a wheel can carry lightly.
MAX_GALLERY_BYTES = 3 * 2**20
#: The bot's preset names are at most 32 characters (bot/commands/presets.py NAME_PATTERN).
MAX_NAME_LENGTH = 32


def test_names_are_command_friendly_unique_and_in_a_stable_order() -> None:
    names = builtin_names()
    assert names == tuple(style.name for style in BUILTIN_STYLES)
    assert len(set(names)) == len(names)
    assert 8 <= len(names) <= 12  # about ten
    for name in names:
        assert NAME_PATTERN.fullmatch(name), name
        assert len(name) <= MAX_NAME_LENGTH


def test_titles_name_the_painting_the_artist_and_a_year() -> None:
    for style in BUILTIN_STYLES:
        painting, _, credit = style.title.partition(" — ")
        assert painting and credit, style.title
        assert any(char.isdigit() for char in credit), style.title


def test_every_file_loads_and_the_folder_holds_nothing_else() -> None:
    listed = {style.filename for style in BUILTIN_STYLES}
    present = {entry.name for entry in PAINTINGS.iterdir()}
    assert present == listed | {"LICENSES.md"}
    total = 0
    for style in BUILTIN_STYLES:
        image = style.load()
        assert image.mode == "RGB"
        assert 256 <= max(image.size) <= 1024, (style.name, image.size)
        total += len(style.read_bytes())
    assert total <= MAX_GALLERY_BYTES


def test_every_file_has_its_licence_line() -> None:
    licences = PAINTINGS.joinpath("LICENSES.md").read_text(encoding="utf-8")
    rows = [line for line in licences.splitlines() if line.startswith("| ") and "public domain" in line]
    for style in BUILTIN_STYLES:
        assert sum(row.startswith(f"| {style.filename} ") for row in rows) == 1, style.filename


def test_the_wheel_and_sdist_carry_every_painting() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["stylecore.gallery"]
    for entry in PAINTINGS.iterdir():
        assert any(fnmatch.fnmatch(f"{PAINTINGS_DIR}/{entry.name}", pattern) for pattern in patterns), entry.name


@pytest.mark.parametrize("typed", ["great-wave", "Great-Wave", "  GREAT WAVE ", "great_wave", "great  wave"])
def test_lookup_ignores_case_spaces_and_underscores(typed: str) -> None:
    found = find_builtin(typed)
    assert found is not None
    assert found.name == "great-wave"
    assert normalise_name(typed) == "great-wave"


@pytest.mark.parametrize("typed", ["", "wave", "great-wave.jpg", "greatwave", "starry-night-2"])
def test_lookup_of_other_names_finds_nothing(typed: str) -> None:
    assert find_builtin(typed) is None


def test_defaults_are_valid_options_with_a_reason() -> None:
    for style in BUILTIN_STYLES:
        assert set(style.defaults) <= {"style_scale", "style_weight"}
        options = style.apply_defaults(StyleOptions()).validated()
        for field, value in style.defaults.items():
            assert getattr(options, field) == value
        assert bool(style.defaults) == bool(style.why), style.name


def test_apply_defaults_sets_only_the_paintings_own_fields() -> None:
    style = BuiltinStyle("test", "Test — Nobody, 2000", "none.jpg", style_scale=0.5)
    options = StyleOptions(style_weight=3.0, size=64)
    applied = style.apply_defaults(options)
    assert (applied.style_scale, applied.style_weight, applied.size) == (0.5, 3.0, 64)
    plain = BuiltinStyle("plain", "Plain — Nobody, 2000", "none.jpg")
    assert plain.defaults == {}
    assert plain.apply_defaults(options) == options


def test_the_catalogue_does_not_import_torch() -> None:
    code = (
        "import sys; from stylecore.gallery import BUILTIN_STYLES; "
        "BUILTIN_STYLES[0].load(); print('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
