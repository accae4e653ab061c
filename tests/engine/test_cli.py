"""The `stylecore` command end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONTENT = str(EXAMPLES / "cat.png")
STYLE = str(EXAMPLES / "starry_night.jpg")
STYLE2 = str(EXAMPLES / "woman_with_hat.jpg")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stylecore.cli", *args], capture_output=True, text=True, timeout=300)


def test_stylizes_and_saves_progression_images(tmp_path) -> None:
    out = tmp_path / "result.png"
    proc = run_cli(CONTENT, STYLE, STYLE2, "-o", str(out), "--size", "48", "--iterations", "4",
                   "--no-multiscale", "--save-every", "2", "--seed", "5", "--optimizer", "adam", "--lr", "5",
                   "--beta1", "0.8", "--style-weights", "2", "1", "--preserve-colors", "luminance", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (48, 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png", "result_0002.png", "result_0004.png"]
    assert "seed 5" in proc.stderr


def test_jpeg_output_and_progress_bar(tmp_path) -> None:
    out = tmp_path / "result.jpg"
    proc = run_cli(CONTENT, STYLE, "-o", str(out), "--size", "32", "--iterations", "2", "--no-multiscale")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).format == "JPEG"
    assert "2/2" in proc.stderr  # tqdm's bar reached the end


def test_timelapse_and_an_upscale_that_keeps_the_seed(tmp_path) -> None:
    out, animation = tmp_path / "small.png", tmp_path / "run.webp"
    proc = run_cli(CONTENT, STYLE, "-o", str(out), "--size", "48", "--iterations", "3", "--no-multiscale",
                   "--seed", "5", "--timelapse", str(animation), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "(4 frames" in proc.stderr  # the start and three iterations
    written = animation if animation.exists() else animation.with_suffix(".gif")
    with Image.open(written) as decoded:
        assert decoded.n_frames >= 2  # the encoders merge identical frames (the first step barely moves)
        decoded.seek(decoded.n_frames - 1)
        decoded.load()
    big = tmp_path / "big.png"
    proc = run_cli(CONTENT, STYLE, "-o", str(big), "--upscale", str(out), "--tile", "32", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(big).size == (96, 64)
    assert "seed 5" in proc.stderr  # from the result's PNG, not the command line


@pytest.mark.parametrize("make_args,message", [
    (lambda tmp: [str(tmp / "missing.png"), STYLE], "missing.png: no such file"),
    (lambda tmp: [str(_write(tmp / "text.png", b"just text")), STYLE], "text.png is not an image"),
    (lambda tmp: [str(_write(tmp / "empty.jpg", b"")), STYLE], "empty.jpg is empty"),
    (lambda tmp: [CONTENT, STYLE, "--size", "4"], "size must be between 16 and 4096"),
    (lambda tmp: [CONTENT, STYLE, "--style-weights", "1", "2"], "needs 1 value"),
    (lambda tmp: [CONTENT, STYLE, "--optimizer", "rmsprop"], "invalid choice"),
    (lambda tmp: [CONTENT, STYLE, "--save-every", "0"], "--save-every: must be at least 1"),
    (lambda tmp: [CONTENT, STYLE, "--tile", "8"], "--tile: must be auto, off or between 32"),
    (lambda tmp: [CONTENT, STYLE, "--timelapse", str(tmp / "run.mp4")], "must end in .webp or .gif"),
    (lambda tmp: [CONTENT, STYLE, "--weights", str(_write(tmp / "w.pth", b"junk"))], "cannot read weights"),
    (lambda tmp: [CONTENT, STYLE, "--device", "tpu"], "unknown device"),
])
def test_bad_input_exits_2_with_one_clear_line(tmp_path, make_args, message) -> None:
    proc = run_cli("--size", "32", "--iterations", "1", "-o", str(tmp_path / "out.png"), *make_args(tmp_path))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_output_extension_is_checked_before_any_work(tmp_path) -> None:
    proc = run_cli(CONTENT, STYLE, "-o", str(tmp_path / "out.gif"))
    assert proc.returncode == 2 and "must end in .png" in proc.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
