"""Prometheus metrics recorded as jobs move through the bot, and the endpoint `[metrics] enabled` opens."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from bot_fakes import EngineCall, FakeEngine, png, settle_until
from prometheus_client.parser import text_string_to_metric_families

from bot.queue import ENGINE_WAIT, IDLE_WAIT
from stylecore.errors import OutOfMemoryError, WeightsUnavailableError
from stylecore.records import Progress

BLOCKING = pytest.mark.bot(engine={"block": True}, external=(IDLE_WAIT, ENGINE_WAIT))


async def submit(world, member):
    result = await member.slash(world.channel, "stylize", content=("cat.png", png()), style=("s.png", png(20, 20)))
    [card] = result.followups
    return card


def title(world, card) -> str:
    return world.env.backend.get_message(card.channel_id, card.id).embeds[0]["title"]


def sample(world, name: str, **labels: str) -> float | None:
    return world.bot.metrics.registry.get_sample_value(name, labels)


def gauges(world) -> tuple[float | None, float | None]:
    return sample(world, "stylebot_jobs_queued"), sample(world, "stylebot_jobs_running")


@BLOCKING
async def test_every_way_a_job_ends_is_counted_with_its_wait_and_duration(world):
    first = await submit(world, world.alice)
    waiting = await submit(world, world.bob)
    last = await submit(world, world.admin)
    assert gauges(world) == (2, 1)

    await world.env.advance_time(200)  # virtual time: the first job runs and the others wait that long
    await world.bob.click(waiting, label="Cancel")  # leaves the queue without ever starting
    assert gauges(world) == (1, 1)
    await world.alice.click(first, label="Cancel")  # stops on the engine
    assert title(world, first) == "Cancelled" and title(world, last) == "Stylizing"
    assert gauges(world) == (0, 1)
    world.engine.release()
    await settle_until(world, lambda: title(world, last) == "Done")
    world.engine.error = WeightsUnavailableError("cannot read weights")
    failed = await submit(world, world.alice)
    await settle_until(world, lambda: title(world, failed) == "Failed")

    assert gauges(world) == (0, 0)
    finished = {
        outcome: sample(world, "stylebot_jobs_finished_total", outcome=outcome)
        for outcome in ("done", "failed", "cancelled")
    }
    assert finished == {"done": 1, "failed": 1, "cancelled": 2}
    # Three jobs started: the first at once, the third after the 200 s, the failed one at once.
    assert sample(world, "stylebot_job_queue_wait_seconds_count") == 3
    assert sample(world, "stylebot_job_queue_wait_seconds_bucket", le="120.0") == 2
    assert sample(world, "stylebot_job_queue_wait_seconds_bucket", le="300.0") == 3
    # The same three ended on the worker; the first ran through the 200 s before it was cancelled.
    assert sample(world, "stylebot_job_duration_seconds_count") == 3
    assert sample(world, "stylebot_job_duration_seconds_bucket", le="120.0") == 2
    assert sample(world, "stylebot_job_duration_seconds_bucket", le="300.0") == 3
    # Only the job that finished iterated: the defaults' 10, one per report, 0.01 s apart (the fake engine).
    assert sample(world, "stylebot_iterations_total") == 10
    assert sample(world, "stylebot_iterations_per_second") == pytest.approx(100)


class OutOfMemoryAfterFiveIterations(FakeEngine):
    """Its first job reports 5 iterations, then the GPU is full; the bot's retry at a smaller size runs normally."""

    def stylize(self, content, styles, options=None, *, progress=None, **kwargs):
        if self.calls:
            return super().stylize(content, styles, options, progress=progress, **kwargs)
        self.calls.append(EngineCall(content.size, [style.size for style in styles], options))
        for iteration in range(1, 6):
            progress(Progress(iteration, options.iterations, 0, 1, 64, 43, 1.0, 0.5, 0.5, iteration * 0.01, None))
        raise OutOfMemoryError("CUDA out of memory")


@pytest.mark.bot(engine=OutOfMemoryAfterFiveIterations, config={"defaults": {"size": 128}})  # retried at 96 px
async def test_iterations_of_an_attempt_that_ran_out_of_memory_count_as_well_as_the_retrys(world):
    card = await submit(world, world.alice)

    assert title(world, card) == "Done"
    assert len(world.engine.calls) == 2
    assert sample(world, "stylebot_iterations_total") == 5 + 10


@BLOCKING
async def test_after_a_restart_the_queue_gauges_count_the_restored_jobs(world):
    for member in (world.alice, world.bob, world.admin):
        await submit(world, member)

    await world.restart(engine=FakeEngine(block=True))
    await settle_until(world, lambda: len(world.engine.calls) == 1)

    assert gauges(world) == (2, 1)  # the interrupted job runs again, the two others wait
    world.engine.release()
    await settle_until(world, lambda: sample(world, "stylebot_jobs_finished_total", outcome="done") == 3)
    assert gauges(world) == (0, 0)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


@pytest.mark.bot(config={"metrics": {"enabled": True, "host": "127.0.0.1", "port": 0}})
async def test_the_endpoint_serves_the_bots_metrics_and_closes_with_the_bot(world):
    port = world.bot.metrics.port
    assert port  # a free port the system picked, so tests never collide

    card = await submit(world, world.alice)
    assert title(world, card) == "Done"

    text = scrape(port)
    assert 'stylebot_jobs_finished_total{outcome="done"} 1.0' in text.splitlines()
    samples = {
        s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples if not s.labels
    }
    assert samples["stylebot_jobs_queued"] == 0 and samples["stylebot_jobs_running"] == 0
    assert samples["stylebot_iterations_total"] == 10

    await world.bot.close()

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()


async def test_with_metrics_off_nothing_listens(world):
    await submit(world, world.alice)

    assert world.bot.metrics.port is None
    assert sample(world, "stylebot_jobs_finished_total", outcome="done") == 1  # recorded all the same
