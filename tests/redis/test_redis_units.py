"""The Redis backend's pieces without a server: wire format, URL handling, health file, imports."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from redis_helpers import ROOT, Jobs

from bot.config import QueueConfig
from bot.ops.health import check
from bot.queue.messages import (
    JobFinished,
    JobStarted,
    JobUpdated,
    WorkCancelled,
    WorkFailed,
    WorkProgress,
    WorkResult,
    WorkRetry,
)
from bot.queue.redis.wire import envelopes, records
from bot.queue.redis.wire.connection import masked, redis_url
from bot.queue.redis.wire.worker_info import WorkerInfo
from bot.queue.redis.worker_side.worker_status import write_worker_heartbeat
from stylecore.options import StyleOptions

if TYPE_CHECKING:
    from pathlib import Path


def test_a_job_round_trips_with_its_image_bytes(tmp_path: Path) -> None:
    jobs = Jobs(tmp_path / "store")
    item = jobs.item(guild_id=None, owner_id=5, size=64, iterations=7, seed=3)
    fields = records.job_fields(item, item.content.read_bytes(), [item.styles[0].read_bytes()])
    inputs = records.job_inputs(fields)
    worker_side = tmp_path / "elsewhere"
    worker_side.mkdir()
    back = inputs.work_item(worker_side)
    assert back.options == item.options and back.guild_id is None and back.owner_id == 5
    assert back.content.read_bytes() == item.content.read_bytes() and back.content.parent == worker_side
    assert [p.read_bytes() for p in back.styles] == [p.read_bytes() for p in item.styles]
    assert back.init is None


def test_an_upscale_round_trips_with_its_init_image_and_one_without_it_is_refused(tmp_path: Path) -> None:
    jobs = Jobs(tmp_path / "store")
    init = jobs.folder / "init"
    init.write_bytes(b"\x89PNG the parent's result")
    item = jobs.item(init=init)
    fields = records.job_fields(item, item.content.read_bytes(), [item.styles[0].read_bytes()], init.read_bytes())
    worker_side = tmp_path / "elsewhere"
    worker_side.mkdir()
    back = records.job_inputs(fields).work_item(worker_side)
    assert back.init is not None and back.init.parent == worker_side
    assert back.init.read_bytes() == init.read_bytes()
    del fields[b"init"]  # expired or evicted: the job cannot be run as asked
    with pytest.raises(records.WireError, match="missing init image"):
        records.job_inputs(fields)


def test_options_with_tuples_survive_json() -> None:
    options = StyleOptions(style_weights=(1.0, 2.0), style_layer_weights=(1, 1, 1, 1, 1)).validated()
    assert records.options_from_json(json.loads(json.dumps(records.options_to_json(options)))) == options


@pytest.mark.parametrize(
    "outcome",
    [
        WorkResult(b"\x89PNG...", "png", 64, 48, StyleOptions(seed=9).validated(), 10, 1.5, "finished", "cpu"),
        WorkFailed("The style engine failed: boom."),
        WorkCancelled(),
    ],
)
def test_outcomes_round_trip(outcome: WorkResult | WorkFailed | WorkCancelled) -> None:
    assert records.outcome_from_fields(records.outcome_fields(outcome)) == outcome


def test_events_round_trip_through_envelopes() -> None:
    progress = WorkProgress(3, 10, 0, 1, 64, 48, 0.3, 0.7, preview=b"\xff\xd8jpeg")
    for kind, update in ((envelopes.PROGRESS, progress), (envelopes.RETRY, WorkRetry(512, 384))):
        env = envelopes.parse_envelope(envelopes.envelope(kind, "abcd1234", "w1", 2, update).to_fields())
        assert env.attempt == 2 and env.worker == "w1"
        assert envelopes.event_from_envelope(env) == JobUpdated("abcd1234", update)
    started = envelopes.parse_envelope(
        envelopes.envelope(envelopes.STARTED, "abcd1234", "host (cpu, w1)", 1).to_fields()
    )
    assert envelopes.event_from_envelope(started) == JobStarted("abcd1234", "host (cpu, w1)")
    finished = envelopes.parse_envelope(envelopes.envelope(envelopes.FINISHED, "abcd1234", "w1", 1).to_fields())
    assert envelopes.event_from_envelope(finished, WorkCancelled()) == JobFinished("abcd1234", WorkCancelled())
    with pytest.raises(records.WireError):
        envelopes.parse_envelope({b"kind": b"started"})


def test_a_progress_record_from_a_newer_worker_keeps_what_this_bot_knows() -> None:
    fields = envelopes.envelope(
        envelopes.PROGRESS, "abcd1234", "w1", 1, WorkProgress(3, 10, 0, 1, 64, 48, 0.3, 0.7)
    ).to_fields()
    meta = json.loads(fields[b"data"])
    fields[b"data"] = json.dumps({**meta, "tile": 2, "tiles": 6, "added_later": "x"}).encode()
    update = envelopes.update_from_envelope(envelopes.parse_envelope(fields))
    assert update == WorkProgress(3, 10, 0, 1, 64, 48, 0.3, 0.7, tile=2, tiles=6)


def test_the_password_is_masked_and_may_come_from_a_file(tmp_path: Path) -> None:
    assert masked("redis://:s3cret@redis.example:6380/2") == "redis://:***@redis.example:6380/2"
    assert masked("rediss://bot:s3cret@h/0") == "rediss://bot:***@h/0"
    assert masked("redis://localhost:6379/0") == "redis://localhost:6379/0"
    secret = tmp_path / "redis_url"
    secret.write_text("redis://:fromfile@h:1/0\n")
    assert (
        redis_url(QueueConfig(redis_url="redis://ignored/0", redis_url_file=str(secret))) == "redis://:fromfile@h:1/0"
    )
    assert redis_url(QueueConfig(redis_url="redis://x/0")) == "redis://x/0"


def test_the_worker_heartbeat_file_serves_both_healthchecks(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat.json"
    info = WorkerInfo(
        id="w1", host="h", pid=1, device="cpu", state="idle", job=None, beat_at=time.time(), started_at=time.time()
    )
    assert check(path, max_age_s=60)[0] is False
    write_worker_heartbeat(path, info, engine_last_beat=time.time())
    assert check(path, max_age_s=60) == (True, "healthy: Redis connected, engine reporting")
    assert check(path, max_age_s=60)[0] is True  # the bot's `stylebot healthcheck` reads it too
    write_worker_heartbeat(
        path, WorkerInfo(**{**info.__dict__, "redis_connected": False}), engine_last_beat=time.time()
    )
    assert check(path, max_age_s=60) == (False, "unhealthy: Redis is unreachable")
    write_worker_heartbeat(path, info, engine_last_beat=time.time() - 600)
    assert "engine last reported" in check(path, max_age_s=60)[1]
    write_worker_heartbeat(path, info, engine_last_beat=time.time(), now=time.time() - 600)
    assert "old" in check(path, max_age_s=60)[1]


def test_the_bot_side_does_not_import_torch() -> None:
    code = (
        "import sys; import bot.queue.redis.bot_side.redis_queue, bot.queue.redis.wire.records, "
        "bot.queue.redis.worker_side.worker_status; "
        "assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_the_worker_process_loads_no_part_of_the_bot_side() -> None:
    # What `stylebot worker` imports, run for real (import-linter checks the same statically).
    code = (
        "import sys, bot.__main__, bot.queue.redis.worker_side.process; "
        "bot_side = ('bot.app', 'bot.core', 'bot.discord_ui', 'bot.housekeeping', 'bot.queue.in_process', "
        "'bot.queue.redis.bot_side', 'discord'); "
        "print(sorted(m for m in sys.modules if m.startswith(bot_side)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == "[]", done.stderr
