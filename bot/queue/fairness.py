"""The waiting line's order: servers take turns, and within a server its members take turns.

First come, first served lets one busy server (or one member queueing many jobs) push everyone
else back. Here a server with fifty waiting jobs and a server with one alternate, and inside a
server each member's oldest job goes before anyone's second. Direct messages count as a server
of their own per user, so a DM never waits behind a whole server.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
Turn = tuple[str, int]
"""Whose turn a job waits for: ("guild", id) or ("dm", user id)."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    key: Hashable
    item: T


def turn_of(guild_id: int | None, user_id: int) -> Turn:
    return ("guild", guild_id) if guild_id is not None else ("dm", user_id)


class FairLine(Generic[T]):
    """Round-robin over servers, then over each server's users; each user's jobs in order."""

    def __init__(self) -> None:
        # Rotations: the front is whose turn it is next; one served goes to the back.
        self._servers: OrderedDict[Turn, OrderedDict[int, deque[Entry[T]]]] = OrderedDict()
        self._where: dict[Hashable, tuple[Turn, int]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._where

    def push(self, key: Hashable, item: T, *, guild_id: int | None, user_id: int) -> None:
        if key in self._where:
            raise ValueError(f"{key!r} is already waiting")
        server = turn_of(guild_id, user_id)
        self._servers.setdefault(server, OrderedDict()).setdefault(user_id, deque()).append(Entry(key, item))
        self._where[key] = (server, user_id)

    def pop(self) -> T | None:
        """The next item, whose server and user then go to the back of their rotations."""
        if not self._servers:
            return None
        server, users = next(iter(self._servers.items()))
        user, entries = next(iter(users.items()))
        entry = entries.popleft()
        del self._where[entry.key]
        users.move_to_end(user)
        if not entries:
            del users[user]
        self._servers.move_to_end(server)
        if not users:
            del self._servers[server]
        return entry.item

    def remove(self, key: Hashable) -> T | None:
        """Take a waiting item out of the line (cancelled); None if it is not waiting."""
        where = self._where.pop(key, None)
        if where is None:
            return None
        server, user = where
        entries = self._servers[server][user]
        entry = next(entry for entry in entries if entry.key == key)
        entries.remove(entry)
        if not entries:
            del self._servers[server][user]
            if not self._servers[server]:
                del self._servers[server]
        return entry.item

    def __iter__(self) -> Iterator[T]:
        """The items in the order `pop` would return them."""
        servers = [[list(entries) for entries in users.values()] for users in self._servers.values()]
        while servers:
            users = servers.pop(0)
            entries = users.pop(0)
            yield entries.pop(0).item
            if entries:
                users.append(entries)
            if users:
                servers.append(users)
