"""stylebot's Discord bot: `bot.create_bot(config)` builds it, `bot.config.load_config(path)` reads its config.

`create_bot` is imported on first use, so light entry points (`stylebot healthcheck`, the config
loader) do not pay for importing discord.py and PyTorch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_bot"]


def __getattr__(name: str) -> Any:
    if name == "create_bot":
        from bot.app import create_bot

        return create_bot
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
