"""One bad job never takes down the worker: engine errors and out-of-memory fail (or shrink) that job only."""

from __future__ import annotations

import pytest
from bot_fakes import png

from bot.core.job import JobState
from stylecore.errors import WeightsUnavailableError


async def submit(world, **options):
    result = await world.alice.slash(
        world.channel, "stylize", content=("cat.png", png(48, 32)), style=("s.png", png(20, 20)), **options
    )
    [card] = result.followups
    return card


def job_of(card) -> str:
    return card.embeds[0].footer.text.removeprefix("Job ")


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (RuntimeError("kaboom"), "The style engine hit an unexpected error (RuntimeError); the job was stopped."),
        (WeightsUnavailableError("cannot read weights"), "The style engine failed: cannot read weights"),
    ],
)
async def test_an_engine_error_fails_that_job_and_the_next_one_runs(world, error, message):
    world.engine.error = error

    failed = await submit(world)

    assert failed.embeds[0].title == "Failed"
    assert failed.embeds[0].description.startswith(message)
    assert failed.components == []
    assert (await world.bot.store.job(job_of(failed))).state is JobState.FAILED
    world.engine.error = None
    assert (await submit(world)).embeds[0].title == "Done"


@pytest.mark.bot(engine={"oom_above": 100})
async def test_out_of_memory_retries_once_at_a_smaller_size(world):
    card = await submit(world, size=128)

    assert [call.options.size for call in world.engine.calls] == [128, 96]
    assert card.embeds[0].title == "Done"
    assert "ran at 96 px after running out of GPU memory" in card.embeds[0].description
    notes = [
        edit
        for edit in world.edits(card.id)
        if "The GPU ran out of memory at 128 px; retrying at 96 px." in edit["embeds"][0].get("description", "")
    ]
    assert notes, "the card never said it was retrying"


@pytest.mark.bot(engine={"oom_above": 64})
async def test_out_of_memory_twice_fails_with_advice(world):
    card = await submit(world, size=128)

    assert card.embeds[0].title == "Failed"
    assert card.embeds[0].description == ("The GPU ran out of memory at 128 px and again at 96 px. Try a smaller size.")
    world.engine.oom_above = None
    assert (await submit(world, size=128)).embeds[0].title == "Done"
