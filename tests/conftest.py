"""Fixtures shared by the bot and ops tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.ops.logs import TOKEN_BEARING_LOGGERS


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger and the capped loggers back as they were: `setup_logging` changes them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in TOKEN_BEARING_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)
