"""The bot's slash commands and context menu, one cog per command family."""
