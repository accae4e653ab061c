"""Shared clips for the video tests: made once per session, all tiny."""

from __future__ import annotations

import clips
import pytest


@pytest.fixture(scope="session")
def pan() -> clips.Pan:
    """8 frames of 64×48 panning (3, 1) px per frame."""
    return clips.pan()


@pytest.fixture(scope="session")
def ntsc_mp4(pan: clips.Pan) -> bytes:
    return clips.mp4_ntsc(pan.frames)
