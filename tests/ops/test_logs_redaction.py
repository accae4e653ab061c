"""bot.ops.logs: the bot token and interaction/webhook tokens never reach the log output.

The records come from discord.py's own code paths (its HTTP client and webhook adapter, driven
against a fake aiohttp session), so the messages are exactly what discord.py would log.
"""

from __future__ import annotations

import asyncio
import io
import logging

import discord
import pytest
from discord.http import HTTPClient, Route
from discord.webhook.async_ import AsyncWebhookAdapter

from bot.ops.logs import REDACTED, TOKEN_BEARING_LOGGERS, Redactor, parse_level, setup_logging

BOT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.fake-bot-token-0123456789abcdefghijk"
INTERACTION_TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OnNlY3JldA-interaction-token"
WEBHOOK_TOKEN = "webhook-token-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"
SECRETS = (BOT_TOKEN, INTERACTION_TOKEN, WEBHOOK_TOKEN)


class FakeResponse:
    def __init__(self, status: int, body: str, headers: dict[str, str]) -> None:
        self.status = status
        self.reason = "fake"
        self.headers = headers
        self._body = body

    async def text(self, encoding: str = "utf-8") -> str:
        return self._body

    async def __aenter__(self) -> FakeResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class FakeSession:
    """Stands in for aiohttp.ClientSession: answers every request with one canned response."""

    def __init__(self, status: int = 200, body: str = "{}", headers: dict[str, str] | None = None) -> None:
        self.response = FakeResponse(status, body, {"content-type": "application/json", **(headers or {})})
        self.closed = False

    def request(self, method: str, url: str, **kwargs: object) -> FakeResponse:
        return self.response


def http_client(session: FakeSession) -> HTTPClient:
    client = HTTPClient(asyncio.get_running_loop(), max_ratelimit_timeout=30)
    client._HTTPClient__session = session  # type: ignore[attr-defined]  # what static_login would set
    client._global_over = asyncio.Event()
    client._global_over.set()
    client.token = BOT_TOKEN
    return client


async def drive_discord_py() -> None:
    """Makes discord.py log the way it does when the bot answers an interaction and follows up."""
    callback = Route(
        "POST",
        "/interactions/{interaction_id}/{interaction_token}/callback",
        interaction_id=1234567890,
        interaction_token=INTERACTION_TOKEN,
    )
    await http_client(FakeSession()).request(callback, json={"type": 5})
    await AsyncWebhookAdapter().execute_webhook(
        987654321,
        WEBHOOK_TOKEN,
        session=FakeSession(),
        payload={"content": "done"},  # type: ignore[arg-type]  # a stand-in for aiohttp.ClientSession
    )


def assert_no_secrets(output: str) -> None:
    for secret in SECRETS:
        assert secret not in output


async def test_debug_level_keeps_discord_routes_out_and_app_debug_in(restore_logging: None) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", stream=out, secrets=[BOT_TOKEN])
    logging.getLogger("bot.queue").debug("job 7 queued")

    await drive_discord_py()

    output = out.getvalue()
    assert "job 7 queued" in output
    assert "/interactions/" not in output and "/webhooks/" not in output
    assert_no_secrets(output)
    for name in TOKEN_BEARING_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() == logging.INFO


async def test_discord_routes_are_redacted_even_when_their_loggers_are_forced_to_debug(
    restore_logging: None,
) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", stream=out, secrets=[BOT_TOKEN])
    for name in TOKEN_BEARING_LOGGERS:  # as if someone turned them back up
        logging.getLogger(name).setLevel(logging.DEBUG)

    await drive_discord_py()

    output = out.getvalue()
    assert f"/interactions/1234567890/{REDACTED}/callback" in output
    assert f"/webhooks/987654321/{REDACTED}" in output
    assert_no_secrets(output)


async def test_rate_limit_warning_with_interaction_route_is_redacted(restore_logging: None) -> None:
    # discord.py logs 429s at WARNING with the full route: capping the level does not help here.
    out = io.StringIO()
    setup_logging("INFO", stream=out, secrets=[BOT_TOKEN])
    session = FakeSession(429, '{"retry_after": 60, "global": false}', {"Via": "1.1 google"})
    route = Route(
        "POST",
        "/interactions/{interaction_id}/{interaction_token}/callback",
        interaction_id=1234567890,
        interaction_token=INTERACTION_TOKEN,
    )

    with pytest.raises(discord.RateLimited):
        await http_client(session).request(route, json={"type": 4})

    output = out.getvalue()
    assert "We are being rate limited" in output
    assert f"/interactions/1234567890/{REDACTED}/callback" in output
    assert_no_secrets(output)


def test_bot_token_in_messages_arguments_and_tracebacks_is_redacted(restore_logging: None) -> None:
    out = io.StringIO()
    redactor = setup_logging("INFO", stream=out)
    redactor.add_secret(BOT_TOKEN)
    log = logging.getLogger("bot")

    log.info("headers: %s", {"Authorization": f"Bot {BOT_TOKEN}"})
    try:
        raise RuntimeError(f"login failed with {BOT_TOKEN}")
    except RuntimeError:
        log.exception("could not log in")

    output = out.getvalue()
    assert "could not log in" in output and "RuntimeError" in output
    assert output.count(REDACTED) == 2
    assert_no_secrets(output)


def test_interaction_token_fields_in_gateway_payloads_are_redacted(restore_logging: None) -> None:
    out = io.StringIO()
    setup_logging("INFO", stream=out)
    payload = {"t": "INTERACTION_CREATE", "d": {"id": "1", "token": INTERACTION_TOKEN}}

    logging.getLogger("bot").info("event %s", payload)
    logging.getLogger("bot").info('raw {"token": "%s"}', INTERACTION_TOKEN)

    output = out.getvalue()
    assert f"'token': '{REDACTED}'" in output and f'"token": "{REDACTED}"' in output
    assert_no_secrets(output)


def test_warning_level_is_not_loosened_for_discord_loggers(restore_logging: None) -> None:
    setup_logging("warning", stream=io.StringIO())
    assert logging.getLogger().level == logging.WARNING
    for name in TOKEN_BEARING_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING


def test_calling_setup_again_replaces_its_handler(restore_logging: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("INFO", stream=first)
    setup_logging("INFO", stream=second)

    logging.getLogger("bot").info("once")

    assert first.getvalue() == "" and second.getvalue().count("once") == 1


def test_blank_secret_is_ignored() -> None:
    redactor = Redactor(["", "  "])
    assert redactor.redact("nothing secret here") == "nothing secret here"


@pytest.mark.parametrize("level", ["verbose", "", "20"])
def test_unknown_level_is_rejected(level: str) -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        parse_level(level)
