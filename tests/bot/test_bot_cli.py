"""`stylebot`: token handling, exit codes, and the healthcheck subcommand."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import discord
import pytest

from bot.__main__ import main
from bot.app import StyleBot
from bot.ops.health import write_heartbeat
from bot.ops.logs import REDACTED, RedactingFormatter

pytestmark = pytest.mark.usefixtures("restore_logging")

TOKEN = "MTIzNDU2Nzg5.secret-token.do-not-log"


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    return path


def test_without_a_token_it_exits_2_with_one_clear_line(config_file, capsys):
    assert main(["--config", str(config_file)], environ={}) == 2

    err = capsys.readouterr().err
    assert err == "stylebot: no Discord token: set DISCORD_TOKEN, or DISCORD_TOKEN_FILE to a file that holds it\n"


@pytest.mark.parametrize(("content", "message"), [("", "is empty"), (None, "cannot read DISCORD_TOKEN_FILE")])
def test_a_bad_token_file_exits_2(config_file, tmp_path, capsys, content, message):
    secret = tmp_path / "discord_token"
    if content is not None:
        secret.write_text(content)

    assert main(["--config", str(config_file)], environ={"DISCORD_TOKEN_FILE": str(secret)}) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("source", ["env", "file"])
def test_a_rejected_token_exits_2_and_is_never_printed_or_logged(
    config_file, tmp_path, capsys, caplog, monkeypatch, source
):
    seen = []

    async def login(self, token):
        seen.append(token)
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(StyleBot, "login", login)
    secret = tmp_path / "discord_token"
    secret.write_text(TOKEN + "\n")
    environ = {"DISCORD_TOKEN": TOKEN} if source == "env" else {"DISCORD_TOKEN_FILE": str(secret)}

    with caplog.at_level(logging.DEBUG):
        code = main(["run", "--config", str(config_file)], environ=environ)

    assert code == 2
    assert seen == [TOKEN]  # the file's trailing newline is stripped
    out, err = capsys.readouterr()
    assert err.splitlines()[-1] == "stylebot: Discord rejected the token (check DISCORD_TOKEN or DISCORD_TOKEN_FILE)"
    assert TOKEN not in out + err + caplog.text


def test_a_bad_config_exits_2(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text("[limits]\nmax_size = 1\n")

    assert main(["--config", str(path)], environ={"DISCORD_TOKEN": TOKEN}) == 2
    assert capsys.readouterr().err.startswith(f"stylebot: {path}: [limits] max_size must be from 64 to 4096")
    assert main(["--config", str(tmp_path / "missing.toml")], environ={"DISCORD_TOKEN": TOKEN}) == 2


def test_healthcheck_reads_the_heartbeat_the_config_names(config_file, tmp_path, capsys):
    assert main(["healthcheck", "--config", str(config_file)], environ={}) == 1
    assert capsys.readouterr().out.startswith("unhealthy: no heartbeat")

    write_heartbeat(tmp_path / "data" / "heartbeat.json", gateway_connected=True, worker_last_beat=time.time())

    assert main(["--config", str(config_file), "healthcheck"], environ={}) == 0
    assert capsys.readouterr().out.startswith("healthy")


def test_healthcheck_on_a_bad_config_exits_1_not_2(tmp_path, capsys):
    # Docker reserves exit code 2 in a HEALTHCHECK; unusable settings mean unhealthy.
    path = tmp_path / "config.toml"
    path.write_text("[health]\nmax_age_s = 1\n")

    assert main(["healthcheck", "--config", str(path)], environ={}) == 1
    assert capsys.readouterr().err.startswith(f"stylebot: {path}: [health] max_age_s must be from 2 to 86400")
    assert main(["healthcheck", "--config", str(tmp_path / "missing.toml")], environ={}) == 1
    assert main(["healthcheck"], environ={"STYLEBOT_NO_SUCH_KEY": "1"}) == 1


def test_run_logs_through_one_redacting_handler_at_the_configured_level(tmp_path, monkeypatch):
    async def login(self, token):
        logging.getLogger("stylebot").debug("logging in with %s", token)
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(StyleBot, "login", login)
    path = tmp_path / "config.toml"
    path.write_text(f'[bot]\nlog_level = "DEBUG"\n[storage]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    before = list(logging.getLogger().handlers)

    assert main(["run", "--config", str(path)], environ={"DISCORD_TOKEN": TOKEN}) == 2

    [added] = [handler for handler in logging.getLogger().handlers if handler not in before]
    assert isinstance(added.formatter, RedactingFormatter)
    assert logging.getLogger().level == logging.DEBUG
    # discord.py installs its own (unredacted) handler only from Client.run, which the bot does not use.
    assert [h for h in logging.getLogger("discord").handlers if not isinstance(h, logging.NullHandler)] == []
    record = logging.LogRecord("stylebot", logging.DEBUG, __file__, 1, "logging in with %s", (TOKEN,), None)
    assert added.format(record).endswith(f"stylebot: logging in with {REDACTED}")


def test_a_metrics_port_in_use_stops_the_bot_with_exit_2_before_discord(tmp_path, monkeypatch, capsys):
    async def login(self, token):  # discord.py's login: set-up runs before the gateway connects
        await self.setup_hook()

    monkeypatch.setattr(StyleBot, "login", login)
    monkeypatch.setattr(StyleBot, "connect", lambda self, **kwargs: pytest.fail("connected to Discord"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "config.toml"
        config.write_text(
            f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
            f'[metrics]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n',
            encoding="utf-8",
        )

        code = main(["run", "--config", str(config)], environ={"DISCORD_TOKEN": "token"})

    assert code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"stylebot: [metrics] cannot listen on 127.0.0.1:{port}: Address already in use"
    )


async def test_while_discord_cannot_be_reached_login_retries_with_one_line_each_and_backing_off(
    tmp_path, monkeypatch, caplog
):
    from bot_fakes import FakeEngine

    from bot.__main__ import login_with_retry
    from bot.app import create_bot
    from bot.config import Config

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused, as with the network down
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{closed.getsockname()[1]}/api/v10")
    bot = create_bot(Config().with_values(storage={"data_dir": str(tmp_path / "data")}), engine=FakeEngine())
    try:
        with caplog.at_level(logging.INFO, logger="stylebot"):
            attempts = asyncio.create_task(login_with_retry(bot, TOKEN, first_delay=0.05, max_delay=0.2))
            deadline = time.monotonic() + 20
            while len([r for r in caplog.records if r.name == "stylebot"]) < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert not attempts.done()  # still trying: a network outage is not fatal
            attempts.cancel()
    finally:
        closed.close()
        await bot.http.close()

    lines = [r for r in caplog.records if r.name == "stylebot"][:4]
    assert all(r.getMessage().startswith("cannot reach Discord (Cannot connect to host 127.0.0.1") for r in lines)
    assert [r.getMessage().rsplit(" ", 2)[-2] for r in lines] == ["0.05", "0.1", "0.2", "0.2"]  # capped
    assert all(r.exc_info is None for r in lines) and TOKEN not in caplog.text


def test_the_voice_support_warnings_are_not_logged(tmp_path):
    import io

    from bot.ops.logs import setup_logging

    stream = io.StringIO()
    setup_logging("INFO", stream=stream)
    logging.getLogger("discord.client").warning("PyNaCl is not installed, voice will NOT be supported")
    logging.getLogger("discord.client").warning("davey is not installed, voice will NOT be supported")
    logging.getLogger("discord.client").warning("something else")

    assert stream.getvalue().count("\n") == 1 and "something else" in stream.getvalue()
