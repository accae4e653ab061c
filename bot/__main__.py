"""`stylebot`: run the bot (`stylebot --config config.toml`), a Redis worker (`stylebot worker`), or check
either's health (`stylebot healthcheck`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config, ConfigError, load_config
from bot.ops.health import run_healthcheck
from bot.ops.logs import setup_logging

if TYPE_CHECKING:
    from bot.app import StyleBot

log = logging.getLogger("stylebot")

DEFAULT_CONFIG = "config.toml"
#: Waits between attempts to reach Discord: doubling from the first, capped.
RETRY_FIRST_S = 5.0
RETRY_MAX_S = 300.0
EXIT_USAGE = 2
#: Docker's HEALTHCHECK knows 0 (healthy) and 1 (unhealthy) only; it reserves 2.
EXIT_UNHEALTHY = 1


class TokenError(Exception):
    """No usable token; `str()` says why (never the token itself)."""


def read_token(environ: Mapping[str, str]) -> str:
    """The bot token from DISCORD_TOKEN, else from the file DISCORD_TOKEN_FILE names (a Docker secret)."""
    token = environ.get("DISCORD_TOKEN", "").strip()
    if token:
        return token
    path = environ.get("DISCORD_TOKEN_FILE", "").strip()
    if not path:
        raise TokenError("no Discord token: set DISCORD_TOKEN, or DISCORD_TOKEN_FILE to a file that holds it")
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TokenError(f"cannot read DISCORD_TOKEN_FILE {path}: {exc.strerror or exc}") from None
    if not token:
        raise TokenError(f"DISCORD_TOKEN_FILE {path} is empty")
    return token


def build_parser() -> argparse.ArgumentParser:
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"TOML config file (default: {DEFAULT_CONFIG} if it exists, else built-in defaults)",
    )
    parser = argparse.ArgumentParser(
        prog="stylebot",
        parents=[config],
        description="Neural style transfer on Discord. The token comes from DISCORD_TOKEN or DISCORD_TOKEN_FILE.",
    )
    commands = parser.add_subparsers(dest="command", metavar="{run,worker,healthcheck}")
    commands.add_parser("run", parents=[config], help="run the bot (the default)")
    worker = commands.add_parser(
        "worker", parents=[config], help='run jobs from the Redis queue ([queue] backend = "redis"), one device each'
    )
    worker.add_argument("--device", help="this worker's device, overriding [engine] device (e.g. cuda:1)")
    worker.add_argument("--threads", type=int, help="cap PyTorch's CPU threads (several CPU workers on one machine)")
    commands.add_parser(
        "healthcheck",
        parents=[config],
        help="exit 0 if the running bot's (or worker's) heartbeat is fresh, 1 if not (for Docker)",
    )
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    path = getattr(args, "config", None)
    if path is None and Path(DEFAULT_CONFIG).is_file():
        path = DEFAULT_CONFIG
    try:
        config = load_config(path, environ=environ)
    except ConfigError as exc:
        print(f"stylebot: {exc}", file=sys.stderr)
        return EXIT_UNHEALTHY if args.command == "healthcheck" else EXIT_USAGE
    if args.command == "healthcheck":
        return run_healthcheck(config.heartbeat_path, max_age_s=config.health.max_age_s)
    if args.command == "worker":
        return work(config, device=args.device, threads=args.threads)
    try:
        token = read_token(environ)
    except TokenError as exc:
        print(f"stylebot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run(config, token)


def work(config: Config, *, device: str | None, threads: int | None) -> int:
    """`stylebot worker`: serve the Redis queue until SIGINT or SIGTERM."""
    try:
        _stop_on_sigterm()  # in the try: a SIGTERM just after it is installed is a KeyboardInterrupt too
        return _work(config, device=device, threads=threads)
    except KeyboardInterrupt:  # a stop before the event loop took the signals over: no job was taken yet
        return 0


def _work(config: Config, *, device: str | None, threads: int | None) -> int:
    from bot.queue.redis.wire.connection import redis_url
    from bot.queue.redis.worker_side.process import run_worker
    from stylecore.errors import StyleCoreError

    if config.queue.backend != "redis":
        print('stylebot: a worker needs [queue] backend = "redis" (and the bot configured the same)', file=sys.stderr)
        return EXIT_USAGE
    if threads is not None and threads < 1:
        print("stylebot: --threads must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        url = redis_url(config.queue)
    except OSError as exc:
        print(f"stylebot: cannot read [queue] redis_url_file: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(config.bot.log_level, secrets=_url_secrets(url))
    log.info("stylebot worker starting: loading the engine")
    try:
        return run_worker(config, device=device, threads=threads)
    except StyleCoreError as exc:  # e.g. --device cuda:1 on a machine with one GPU
        print(f"stylebot: [engine] {exc}", file=sys.stderr)
        return EXIT_USAGE


def _stop_on_sigterm() -> None:
    """Until the event loop handles them, SIGTERM stops like SIGINT (a KeyboardInterrupt): a stop during
    the seconds PyTorch takes to import ends cleanly too."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _url_secrets(url: str) -> list[str]:
    """The password in a Redis URL, which no log line may show."""
    from urllib.parse import urlsplit

    password = urlsplit(url).password
    return [password] if password else []


def run(config: Config, token: str) -> int:
    # Imported here: the healthcheck runs every 30 s and must not import discord.py and PyTorch.
    import discord

    from bot.app import create_bot
    from bot.ops.metrics import MetricsError
    from bot.queue.redis.wire.connection import redis_url
    from stylecore.errors import StyleCoreError

    try:
        secrets = [token, *_url_secrets(redis_url(config.queue))] if config.queue.backend == "redis" else [token]
    except OSError as exc:
        print(f"stylebot: cannot read [queue] redis_url_file: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(config.bot.log_level, secrets=secrets)
    try:
        _stop_on_sigterm()  # in the try: a SIGTERM just after it is installed is a KeyboardInterrupt too
        bot = create_bot(config)
    except StyleCoreError as exc:  # e.g. [engine] device = "cuda" on a machine without CUDA
        print(f"stylebot: [engine] {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # stopped while PyTorch loaded: nothing started yet
        return 0
    try:
        asyncio.run(_serve(bot, token))
    except discord.LoginFailure:
        print("stylebot: Discord rejected the token (check DISCORD_TOKEN or DISCORD_TOKEN_FILE)", file=sys.stderr)
        return EXIT_USAGE
    except MetricsError as exc:  # e.g. the port is taken
        print(f"stylebot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass  # SIGINT (Ctrl-C, the Docker image's stop signal) or SIGTERM: the bot already closed
    return 0


async def _serve(bot: StyleBot, token: str) -> None:
    main = asyncio.current_task()
    assert main is not None
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' loop
        # SIGTERM (a plain `docker stop`) stops as cleanly as SIGINT: closing the bot joins the engine thread.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    async with bot:  # leaving it closes the bot, whatever stopped it
        await login_with_retry(bot, token)
        await bot.connect()


async def login_with_retry(
    bot: StyleBot, token: str, *, first_delay: float = RETRY_FIRST_S, max_delay: float = RETRY_MAX_S
) -> None:
    """Log in, waiting and trying again while Discord cannot be reached; a rejected token raises at once.

    Once logged in, discord.py's own `connect` reconnects the gateway with backoff.
    """
    import aiohttp
    import discord

    delay = first_delay
    while True:
        try:
            await bot.login(token)
            return
        except (OSError, aiohttp.ClientError, TimeoutError, discord.DiscordServerError) as exc:
            log.warning("cannot reach Discord (%s); retrying in %g s", exc, delay)
        # The failed attempt's HTTP session closed with its connector: the next login makes both anew.
        await bot.http.close()
        bot.http.connector = discord.utils.MISSING
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)


if __name__ == "__main__":
    sys.exit(main())
