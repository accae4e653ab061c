"""The bot's slash commands and context menu, one cog per command family."""

from .help import HelpCog
from .presets import PresetsCog
from .queue import QueueCog
from .settings import SettingsCog
from .stylize import StylizeCog

ALL_COGS = (StylizeCog, QueueCog, SettingsCog, PresetsCog, HelpCog)

__all__ = ["ALL_COGS", "HelpCog", "PresetsCog", "QueueCog", "SettingsCog", "StylizeCog"]
