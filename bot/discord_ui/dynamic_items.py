"""Persistent components bound to one bot's parts.

discord.py routes a click or a pick on any message to a registered `DynamicItem` class by its custom id's
template, so a component works after a restart. What it acts on is handed over by subclassing: `bound`
makes, for one bot, a copy of the class that holds its parts. discord.py registers the class of every
dynamic item it sends, so the items a bot sends must be made from that copy too.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import discord

Item = TypeVar("Item", bound=discord.ui.DynamicItem[Any])


def bound(item: type[Item], actions: object) -> type[Item]:
    """A subclass of `item` with the same custom id template whose `actions` attribute is `actions`."""
    namespace = {"actions": actions, "__module__": item.__module__}
    copy = type(item.__name__, (item,), namespace, template=item.__discord_ui_compiled_template__)
    return cast("type[Item]", copy)
