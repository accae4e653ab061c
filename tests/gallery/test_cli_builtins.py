"""The `stylecore` command takes built-in style names, in a subprocess, with the real engine at tiny sizes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from stylecore.cli import OPTIONS_KEY
from stylecore.gallery import BUILTIN_STYLES, builtin_names, find_builtin
from stylecore.images import read_png_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONTENT = str(EXAMPLES / "cat.png")
TINY = ("--size", "32", "--iterations", "2", "--no-multiscale", "--seed", "3", "--quiet")
#: A built-in with its own settings, and one without (the CLI must treat them differently).
WITH_DEFAULTS = next(style for style in BUILTIN_STYLES if style.defaults)
PLAIN = next(style for style in BUILTIN_STYLES if not style.defaults)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stylecore.cli", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def stored_options(path: Path) -> dict[str, object]:
    options: dict[str, object] = json.loads(read_png_text(path)[OPTIONS_KEY])
    return options


def same_pixels(a: Path, b: Path) -> bool:
    with Image.open(a) as first, Image.open(b) as second:
        return first.size == second.size and ImageChops.difference(first, second).getbbox() is None


def painting_file(tmp_path: Path, name: str) -> Path:
    """The built-in's image as an ordinary file, to run the same job the old way."""
    style = find_builtin(name)
    assert style is not None
    path = tmp_path / style.filename
    path.write_bytes(style.read_bytes())
    return path


def test_a_built_in_name_paints_with_that_painting(tmp_path: Path) -> None:
    by_name, by_file = tmp_path / "by_name.png", tmp_path / "by_file.png"
    proc = run_cli(CONTENT, PLAIN.name.upper(), "-o", str(by_name), *TINY)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli(CONTENT, str(painting_file(tmp_path, PLAIN.name)), "-o", str(by_file), *TINY)
    assert proc.returncode == 0, proc.stderr
    assert same_pixels(by_name, by_file)  # the CPU is deterministic for a seed


def test_a_file_of_that_name_wins(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "woman_with_hat.jpg", tmp_path / PLAIN.name)
    shadowed, by_file = tmp_path / "shadowed.png", tmp_path / "by_file.png"
    proc = run_cli(CONTENT, PLAIN.name, "-o", str(shadowed), *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli(CONTENT, str(EXAMPLES / "woman_with_hat.jpg"), "-o", str(by_file), *TINY)
    assert proc.returncode == 0, proc.stderr
    assert same_pixels(shadowed, by_file)


def test_a_built_ins_own_settings_apply_unless_given(tmp_path: Path) -> None:
    out = tmp_path / "own.png"
    proc = run_cli(CONTENT, WITH_DEFAULTS.name, "-o", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    options = stored_options(out)
    for field, value in WITH_DEFAULTS.defaults.items():
        assert options[field] == value

    out = tmp_path / "given.png"
    proc = run_cli(CONTENT, WITH_DEFAULTS.name, "-o", str(out), "--style-scale", "0.75", "--style-weight", "1.5", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert (stored_options(out)["style_scale"], stored_options(out)["style_weight"]) == (0.75, 1.5)


def test_a_blend_of_styles_keeps_the_usual_settings(tmp_path: Path) -> None:
    out = tmp_path / "blend.png"
    proc = run_cli(CONTENT, WITH_DEFAULTS.name, PLAIN.name, "-o", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    options = stored_options(out)
    assert (options["style_scale"], options["style_weight"]) == (1.0, 1.0)


def test_list_styles_prints_each_name_and_title() -> None:
    proc = run_cli("--list-styles")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(builtin_names())
    for line, style in zip(lines, BUILTIN_STYLES, strict=True):
        assert line.endswith(f"  {style.title}")


@pytest.mark.parametrize("style", ["no-such-style", "missing/painting.jpg"])
def test_an_unknown_name_exits_2_with_one_line_listing_the_built_ins(tmp_path: Path, style: str) -> None:
    proc = run_cli(CONTENT, style, "-o", str(tmp_path / "out.png"), *TINY)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert f"{style}: no such file or built-in style" in proc.stderr
    assert all(name in proc.stderr for name in builtin_names())
    assert not (tmp_path / "out.png").exists()


def test_a_directory_named_like_no_built_in_is_reported_as_such(tmp_path: Path) -> None:
    (tmp_path / "paintings").mkdir()
    proc = run_cli(CONTENT, "paintings", "-o", str(tmp_path / "out.png"), *TINY, cwd=tmp_path)
    assert proc.returncode == 2
    assert "paintings is a directory, not an image" in proc.stderr
