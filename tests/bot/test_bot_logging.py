"""At DEBUG, the log the bot writes while serving real interactions never shows their tokens.

simcord stands in for discord.py's HTTP transport and websocket, so discord.py's own route and
payload lines are not produced here (tests/ops drives those through discord.py's real code); what
this covers is everything else that logs while the bot works: the bot itself, and its libraries.
"""

from __future__ import annotations

import io
import logging
import re

from bot_fakes import png

from bot.ops.logs import REDACTED, setup_logging


def interaction_tokens(world) -> set[str]:
    """The tokens of the interactions the bot answered, from the webhook routes it called."""
    routes = (re.match(r"/(?:webhooks|interactions)/\d+/([^/]+)", request.path) for request in world.env.http_requests)
    return {route[1] for route in routes if route}


async def stylize_and_rerun(world) -> None:
    done = await world.alice.slash(world.channel, "stylize", content=("c.png", png()), style=("s.png", png(20, 20)))
    assert done.followups[0].embeds[0].title == "Done"
    await world.alice.click(done.followups[0], label="Stronger style")


async def test_a_stylize_at_debug_logs_the_jobs_but_no_interaction_token(world, restore_logging):
    out = io.StringIO()
    setup_logging("DEBUG", stream=out)  # as `stylebot` does with [bot] log_level = "DEBUG"

    await stylize_and_rerun(world)

    output = out.getvalue()
    tokens = interaction_tokens(world)
    assert len(tokens) == 2  # the command's and the button click's
    assert re.search(r"DEBUG +discord\.", output)  # DEBUG lines do reach the handler...
    assert output.count(" accepted for user ") == 2 and output.count(" done") == 2
    assert not [token for token in tokens if token in output]  # ...but no token does
    assert " aiosqlite: " not in output  # its query log (the saved cards' tokens) is capped at INFO


async def test_with_the_database_logger_forced_to_debug_the_saved_cards_tokens_are_redacted(world, restore_logging):
    # aiosqlite prints every query's parameters at DEBUG, and a job's card holds its interaction
    # token: the level cap keeps that out; if someone lifts it, the redaction still does.
    out = io.StringIO()
    setup_logging("DEBUG", stream=out)
    logging.getLogger("aiosqlite").setLevel(logging.DEBUG)

    await stylize_and_rerun(world)

    output = out.getvalue()
    assert f'"token": "{REDACTED}"' in output
    assert not [token for token in interaction_tokens(world) if token in output]
