"""What importing the video modules costs: the bot imports some of them without PyTorch."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _imported(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(m for m in ('torch', 'av', 'cv2') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


def test_errors_and_limits_import_no_media_library() -> None:
    assert _imported("import stylecore.video, stylecore.video.errors, stylecore.video.limits") == set()


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ("load_clip, encode_clip", {"av"}),
        ("dense_flow, warping_error", {"cv2"}),
    ],
)
def test_decoding_encoding_and_flow_do_not_import_torch(names: str, expected: set[str]) -> None:
    assert _imported(f"from stylecore.video import {names}") == expected


def test_every_exported_name_resolves() -> None:
    import stylecore.video as video

    assert set(video.__all__) == set(video._EXPORTS)
    assert all(getattr(video, name) is not None for name in video.__all__)
