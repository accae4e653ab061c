"""Logging set-up for the bot: level from config, discord.py's chatty loggers capped, secrets redacted.

discord.py logs full REST routes at DEBUG, and interaction and webhook routes carry a token in
their path (`/interactions/<id>/<token>/callback`, `/webhooks/<id>/<token>`); gateway events at
DEBUG carry interaction payloads with a `"token"` field; aiosqlite logs every query with its
parameters at DEBUG, and a job's saved card holds its interaction token. Those loggers are
therefore never set below INFO, and every line that reaches a handler installed here is redacted
as a second line of defence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TextIO

REDACTED = "[redacted]"

# Loggers whose DEBUG output carries interaction tokens or webhook URLs. `discord.webhook` is the
# parent of `discord.webhook.async_` and `discord.webhook.sync`.
TOKEN_BEARING_LOGGERS = ("discord.http", "discord.webhook", "discord.gateway", "aiosqlite")

# A path segment holding a token: anything up to the next separator, quote or whitespace.
_TOKEN_PATTERNS = (
    re.compile(r"(/webhooks/\d+/)[^/?#\s'\"]+"),
    re.compile(r"(/interactions/\d+/)[^/?#\s'\"]+"),
    # `"token": "..."` in JSON and `'token': '...'` in a printed dict (gateway event payloads).
    re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+"""),
)

_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


class Redactor:
    """Replaces the registered secrets and every token-bearing URL or field with `[redacted]`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str) -> None:
        """Registers a literal secret (the bot token) to be removed wherever it appears."""
        # An empty or blank secret would match everywhere and redact every line.
        if secret.strip():
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is removed whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(rf"\g<1>{REDACTED}", text)
        return text


class RedactingFormatter(logging.Formatter):
    """Redacts the fully formatted line, so the message, its arguments and any traceback are covered."""

    def __init__(self, redactor: Redactor, fmt: str = _FORMAT) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.redact(super().format(record))


def parse_level(level: str) -> int:
    """`"debug"`, `"INFO"`, ... to a logging level; ValueError for anything else."""
    value = logging.getLevelNamesMapping().get(level.strip().upper())
    if value is None:
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


def _not_voice_noise(record: logging.LogRecord) -> bool:
    """discord.py warns at start-up that PyNaCl and davey are missing; this bot has no voice."""
    return not (record.name == "discord.client" and "voice will NOT be supported" in record.getMessage())


def setup_logging(
    level: str,
    *,
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> Redactor:
    """Sends log records at `level` and above to `stream` (stderr by default), redacted.

    Returns the Redactor so that secrets known only later can be added with `add_secret`.
    Calling it again replaces the handler it installed before rather than adding a second one.
    Run the discord.py client with `log_handler=None`, or it installs its own, unredacted handler.
    """
    numeric_level = parse_level(level)
    root = logging.getLogger()
    redactor = Redactor(secrets)

    for handler in [h for h in root.handlers if isinstance(h.formatter, RedactingFormatter)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(redactor))
    handler.addFilter(_not_voice_noise)
    root.addHandler(handler)
    root.setLevel(numeric_level)

    # At least INFO, and never more verbose than the configured level either.
    capped_level = max(numeric_level, logging.INFO)
    for name in TOKEN_BEARING_LOGGERS:
        logging.getLogger(name).setLevel(capped_level)
    return redactor
