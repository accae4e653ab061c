"""The result card's re-run buttons, before and after a restart, and after retention."""

from __future__ import annotations

import pytest
from bot_fakes import png

from bot.core.params import Rerun


async def finished_card(world, member=None, **options):
    options.setdefault("style_strength", 2.0)
    options.setdefault("seed", 777)
    result = await (member or world.alice).slash(
        world.channel, "stylize", content=("cat.png", png(48, 32)), style=("s.png", png(20, 30)), **options
    )
    [card] = result.followups
    assert card.embeds[0].title == "Done"
    return card


def job_id(card) -> str:
    return card.embeds[0].footer.text.removeprefix("Job ")


@pytest.mark.parametrize(
    ("label", "changed"),
    [
        ("Stronger style", {"style_weight": 4.0}),
        ("Weaker style", {"style_weight": 1.0}),
        ("Keep colours", {"preserve_colors": "luminance"}),
    ],
)
async def test_each_button_reruns_the_same_inputs_with_one_change(world, label, changed):
    card = await finished_card(world)
    first = world.engine.calls[0]

    click = await world.alice.click(card, label=label)

    assert click.ephemeral and click.response.content.startswith("✅ Queued as job")
    [new_card] = click.followups
    assert new_card.embeds[0].title == "Done" and job_id(new_card) != job_id(card)
    assert new_card.embeds[0].fields[0].value.endswith(f" · re-run of {job_id(card)} ({label.lower()})")
    second = world.engine.calls[1]
    assert (second.content_size, second.style_sizes) == (first.content_size, first.style_sizes)
    expected = {"style_weight": 2.0, "preserve_colors": "none", "seed": 777, "size": 64, "iterations": 10}
    expected.update(changed)
    assert {key: getattr(second.options, key) for key in expected} == expected


async def test_new_seed_changes_only_the_seed(world):
    card = await finished_card(world)

    await world.alice.click(card, label="New seed")

    first, second = world.engine.calls
    assert second.options.seed != first.options.seed
    assert second.options.style_weight == first.options.style_weight == 2.0


async def test_the_colour_button_flips_between_keep_and_full_colour(world):
    card = await finished_card(world)
    kept = (await world.alice.click(card, label="Keep colours")).followups[0]
    labels = [button["label"] for row in kept.components for button in row["components"]]
    assert "Full colour" in labels

    await world.alice.click(kept, label="Full colour")

    assert [call.options.preserve_colors for call in world.engine.calls] == ["none", "luminance", "none"]


async def test_anyone_may_rerun_and_the_new_job_is_theirs(world):
    card = await finished_card(world)

    click = await world.bob.click(card, label="Stronger style")

    [new_card] = click.followups
    assert new_card.content == f"<@{world.bob.id}> your image is ready."
    assert (await world.bot.store.job(job_id(new_card))).owner_id == world.bob.id


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Stronger style", {"style_weight": 4.0, "seed": 777}),
        ("Weaker style", {"style_weight": 1.0, "seed": 777}),
        ("Keep colours", {"preserve_colors": "luminance", "seed": 777}),
        ("New seed", {"style_weight": 2.0}),
    ],
)
async def test_each_button_works_after_a_restart(world, label, expected):
    card = await finished_card(world)

    await world.restart()
    click = await world.alice.click(card, label=label)

    [call] = world.engine.calls  # the new bot's engine
    assert {key: getattr(call.options, key) for key in expected} == expected
    assert label != "New seed" or call.options.seed != 777
    assert click.followups[0].embeds[0].title == "Done"


async def test_every_variant_has_a_persistent_custom_id(world):
    card = await finished_card(world)

    ids = [button["custom_id"] for row in card.components for button in row["components"]]

    assert ids == [
        *(f"stylebot:rerun:{variant.value}:{job_id(card)}" for variant in Rerun),
        f"stylebot:timelapse:{job_id(card)}",
    ]


@pytest.mark.bot(config={"storage": {"retention_hours": 1.0}})
async def test_after_the_retention_time_the_inputs_are_gone_and_the_button_says_so(world):
    card = await finished_card(world)
    job_dir = world.config.data_dir / "jobs" / job_id(card)
    assert (job_dir / "content").exists()

    await world.env.advance_time(3600 + 700)

    assert not job_dir.exists()
    click = await world.alice.click(card, label="New seed")
    assert click.response.content.startswith(f"❌ The images of job {job_id(card)} are no longer kept")
    assert click.followups == [] and len(world.engine.calls) == 1


@pytest.mark.bot(config={"limits": {"cooldown_s": 60.0}})
async def test_reruns_share_the_users_cooldown(world):
    card = await finished_card(world)

    click = await world.alice.click(card, label="New seed")

    assert click.response.content.startswith("❌ Slow down: you can start another job in 60 s")
    assert len(world.engine.calls) == 1
