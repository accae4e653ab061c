"""Shared fixtures for the engine tests: one loaded Engine, small images made from the examples."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from stylecore import Engine, load_image
from stylecore.images import resize_to

if TYPE_CHECKING:
    from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def engine() -> Engine:
    # CI runs on the CPU; STYLECORE_TEST_DEVICE=cuda runs the same tests on a GPU machine.
    engine = Engine(device=os.environ.get("STYLECORE_TEST_DEVICE", "cpu"))
    engine.load()
    return engine


@pytest.fixture(scope="session")
def content() -> Image.Image:
    return resize_to(load_image(EXAMPLES / "cat.png"), 64)


@pytest.fixture(scope="session")
def style() -> Image.Image:
    return resize_to(load_image(EXAMPLES / "starry_night.jpg"), 64)


@pytest.fixture(scope="session")
def style2() -> Image.Image:
    return resize_to(load_image(EXAMPLES / "woman_with_hat.jpg"), 64)
