"""One job through the real stylecore engine (VGG-19 on the CPU) at a tiny size, end to end."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylecore import Engine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str, side: int) -> bytes:
    image = Image.open(EXAMPLES / name).convert("RGB")
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class PreviewClock:
    """A second listener beside the publisher: notes when the first preview is there to be shown."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.at: float | None = None

    async def job_announced(self, job_id):
        pass

    def job_changed(self, job_id, *, force=False):
        snapshot = self.ledger.snapshot(job_id)
        if self.at is None and snapshot is not None and snapshot.preview is not None:
            self.at = time.perf_counter()

    def job_ended(self, final):
        pass


@pytest.mark.bot(
    engine=lambda: Engine(device="cpu"),
    config={"engine": {"multiscale": False}, "defaults": {"size": 64, "iterations": 4}},
    simcord={"settle_timeout": 300},  # the action returns once the job is done, so it may take a while
)
async def test_a_job_on_the_real_engine_reaches_the_user_with_previews(world):
    await asyncio.to_thread(world.engine.load)  # the worker loads the model at start-up; wait for it
    first_preview = PreviewClock(world.bot.ledger)
    world.bot.ledger.listeners.append(first_preview)
    content = example("cat.png", 96)
    started = time.perf_counter()

    result = await world.alice.slash(
        world.channel,
        "stylize",
        content=("cat.png", content),
        style=("starry.png", example("starry_night.jpg", 96)),
        seed=7,
    )

    finished = time.perf_counter()
    [card] = result.followups
    embed = card.embeds[0]
    assert embed.title == "Done", embed.description
    assert "on cpu" in embed.description and "seed 7" in embed.fields[1].value
    stylized = Image.open(io.BytesIO(await card.attachments[0].read())).convert("RGB")
    assert max(stylized.size) == 64
    original = Image.open(io.BytesIO(content)).convert("RGB").resize(stylized.size)
    assert np.abs(np.asarray(stylized, float) - np.asarray(original, float)).mean() > 1.0  # it was repainted
    previews = [
        request
        for request in world.env.http_requests
        if request.method == "PATCH"
        and any(a["filename"].startswith("preview-") for a in (request.json or {}).get("attachments", []))
    ]
    assert previews and first_preview.at is not None, "no preview reached the card"
    print(
        f"\nreal engine on CPU, 64 px, 4 iterations: defer to first preview {first_preview.at - started:.2f} s, "
        f"to result {finished - started:.2f} s"
    )


@pytest.mark.bot(
    engine=lambda: Engine(device="cpu"),
    config={"engine": {"multiscale": False}, "defaults": {"size": 64, "iterations": 4}},
    simcord={"settle_timeout": 300},
)
async def test_a_built_in_style_on_the_real_engine_with_its_own_settings(world):
    await asyncio.to_thread(world.engine.load)
    content = example("cat.png", 96)

    # Picked from the picker, as a new member would: the photo alone, then a painting.
    shown = await world.alice.slash(world.channel, "stylize", content=("cat.png", content), seed=7)
    picked = await world.alice.select(shown.response, ["built-in:grande-jatte"])

    [card] = picked.followups
    embed = card.embeds[0]
    assert embed.title == "Done", embed.description
    assert embed.fields[0].value == "content cat.png · style built-in grande-jatte"
    assert "style scale 2" in embed.fields[1].value  # the painting's own setting, shown on the card
    stylized = Image.open(io.BytesIO(await card.attachments[0].read())).convert("RGB")
    assert max(stylized.size) == 64
    original = Image.open(io.BytesIO(content)).convert("RGB").resize(stylized.size)
    assert np.abs(np.asarray(stylized, float) - np.asarray(original, float)).mean() > 1.0
