"""bot.ops.health: the heartbeat the bot writes and the healthcheck that reads it, both ways."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from bot.ops.health import check, heartbeat_writer, run_healthcheck, write_heartbeat

NOW = 1_800_000_000.0
MAX_AGE = 60.0


def test_fresh_heartbeat_with_gateway_up_and_recent_worker_is_healthy(tmp_path: Path) -> None:
    beat = tmp_path / "heartbeat.json"
    write_heartbeat(beat, gateway_connected=True, worker_last_beat=NOW - 5, now=NOW - 10)

    healthy, reason = check(beat, max_age_s=MAX_AGE, now=NOW)

    assert healthy, reason
    assert reason.startswith("healthy")


def test_missing_file_is_unhealthy(tmp_path: Path) -> None:
    healthy, reason = check(tmp_path / "heartbeat.json", max_age_s=MAX_AGE, now=NOW)
    assert not healthy
    assert "no heartbeat" in reason


def test_gateway_down_is_unhealthy(tmp_path: Path) -> None:
    beat = tmp_path / "heartbeat.json"
    write_heartbeat(beat, gateway_connected=False, worker_last_beat=NOW, now=NOW)

    healthy, reason = check(beat, max_age_s=MAX_AGE, now=NOW)

    assert not healthy
    assert "gateway" in reason


def test_stale_heartbeat_is_unhealthy_even_if_it_said_all_was_well(tmp_path: Path) -> None:
    # The bot's loop died or hung after its last good write.
    beat = tmp_path / "heartbeat.json"
    write_heartbeat(beat, gateway_connected=True, worker_last_beat=NOW - 100, now=NOW - 100)

    healthy, reason = check(beat, max_age_s=MAX_AGE, now=NOW)

    assert not healthy
    assert "heartbeat is 100s old" in reason


def test_silent_worker_is_unhealthy(tmp_path: Path) -> None:
    beat = tmp_path / "heartbeat.json"
    write_heartbeat(beat, gateway_connected=True, worker_last_beat=NOW - MAX_AGE - 1, now=NOW)

    healthy, reason = check(beat, max_age_s=MAX_AGE, now=NOW)

    assert not healthy
    assert "worker last reported 61s ago" in reason


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{not json",
        "[]",
        json.dumps({"written_at": NOW, "gateway_connected": True}),
        json.dumps({"written_at": "soon", "gateway_connected": True, "worker_last_beat": NOW}),
        json.dumps({"written_at": NOW, "gateway_connected": "yes", "worker_last_beat": NOW}),
    ],
)
def test_unparseable_or_incomplete_heartbeat_is_unhealthy(tmp_path: Path, content: str) -> None:
    beat = tmp_path / "heartbeat.json"
    beat.write_text(content)

    healthy, reason = check(beat, max_age_s=MAX_AGE, now=NOW)

    assert not healthy
    assert reason.startswith("unhealthy")


def test_write_replaces_the_previous_beat_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    beat = tmp_path / "state" / "heartbeat.json"
    write_heartbeat(beat, gateway_connected=False, worker_last_beat=NOW, now=NOW)
    write_heartbeat(beat, gateway_connected=True, worker_last_beat=NOW, now=NOW)

    assert json.loads(beat.read_text())["gateway_connected"] is True
    assert [p.name for p in beat.parent.iterdir()] == ["heartbeat.json"]


def test_failed_write_keeps_the_old_beat_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    beat = tmp_path / "heartbeat.json"
    write_heartbeat(beat, gateway_connected=True, worker_last_beat=NOW, now=NOW)

    def disk_full_midway(obj: object, fp: io.TextIOBase) -> None:
        fp.write('{"written_at": ')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(json, "dump", disk_full_midway)
    with pytest.raises(OSError):
        write_heartbeat(beat, gateway_connected=False, worker_last_beat=NOW + 1, now=NOW + 1)
    monkeypatch.undo()

    assert json.loads(beat.read_text())["written_at"] == NOW
    assert [p.name for p in tmp_path.iterdir()] == ["heartbeat.json"]


def test_run_healthcheck_exit_codes_and_message(tmp_path: Path) -> None:
    beat = tmp_path / "heartbeat.json"
    out = io.StringIO()
    assert run_healthcheck(beat, max_age_s=MAX_AGE, out=out) == 1
    assert "no heartbeat" in out.getvalue()

    write_heartbeat(beat, gateway_connected=True, worker_last_beat=time.time())  # run_healthcheck reads the real clock
    out = io.StringIO()
    assert run_healthcheck(beat, max_age_s=MAX_AGE, out=out) == 0
    assert out.getvalue().startswith("healthy")


class FakeBot:
    def __init__(self, *, gateway_connected: bool, worker_last_beat: float) -> None:
        self.gateway_connected = gateway_connected
        self.worker_last_beat = worker_last_beat


async def test_heartbeat_writer_reports_the_bots_state(tmp_path: Path) -> None:
    beat = tmp_path / "heartbeat.json"
    hook = heartbeat_writer(beat)

    await hook(FakeBot(gateway_connected=True, worker_last_beat=time.time()))
    assert check(beat, max_age_s=MAX_AGE)[0]

    await hook(FakeBot(gateway_connected=False, worker_last_beat=time.time()))
    healthy, reason = check(beat, max_age_s=MAX_AGE)
    assert not healthy and "gateway" in reason
