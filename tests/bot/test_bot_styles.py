"""Built-in styles, the style picker and /styles, on a fresh server (no presets): a new member's first tries."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
import simcord
from bot_fakes import png
from discord import app_commands
from PIL import Image, ImageOps, ImageStat

from bot.config import Config
from bot.core.param_check import UserOptions, resolve_params
from bot.core.params import JobParams, StyleKind, StyleRef
from bot.core.server_settings import ServerSettings
from bot.core.store import Store
from bot.discord_ui.style_picker import PICK_LIFETIME_S
from bot.housekeeping import RETENTION_SWEEP_S
from bot.styles import sheets as sheets_module
from bot.styles.contact_sheet import THUMB, SheetGroup, SheetStyle, plan_sheet
from bot.styles.sheets import BUILTIN_GROUP, NO_PRESETS, PRESET_GROUP
from stylecore.gallery import BUILTIN_STYLES, find_builtin

GREAT_WAVE = find_builtin("great-wave")
GRANDE_JATTE = find_builtin("grande-jatte")
BUILTINS_OFF = {"defaults": {"builtin_styles": False}}
PHOTO = ("cat.png", png(48, 32))


def size_of(style) -> tuple[int, int]:
    return style.load().size


async def stylize(world, member=None, **options):
    options.setdefault("content", PHOTO)
    return await (member or world.alice).slash(world.channel, "stylize", **options)


async def add_preset(world, name, colour=(90, 160, 90), size=(36, 24)):
    reply = await world.admin.slash(world.channel, "stylepreset add", name=name, image=("p.png", png(*size, colour)))
    assert reply.response.content.startswith("Added"), reply.response.content
    return reply


def menu_values(message) -> list[str]:
    return [
        option["value"]
        for row in message.components
        for item in row["components"]
        if item["type"] == 3
        for option in item["options"]
    ]


def buttons(message) -> list[str]:
    return [item["label"] for row in message.components for item in row["components"] if item["type"] == 2]


def picks_kept(world) -> list[str]:
    return sorted(path.name for path in (world.config.data_dir / "picks").iterdir())


async def decoded(attachment) -> Image.Image:
    return Image.open(io.BytesIO(await attachment.read())).convert("RGB")


def mean(image: Image.Image) -> tuple[float, ...]:
    return tuple(ImageStat.Stat(image).mean)


def distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def builtin_values() -> list[str]:
    return [f"built-in:{style.name}" for style in BUILTIN_STYLES]


# -- built-ins wherever a style is named -----------------------------------------------------------


async def test_autocomplete_offers_the_built_ins_on_a_fresh_server(world):
    choices = await world.alice.autocomplete(world.channel, "stylize", "preset", "")

    assert [choice["value"] for choice in choices] == builtin_values()
    assert choices[1]["name"] == "great-wave · built-in · The Great Wave off Kanagawa — Katsushika Hokusai, c. 1831"
    assert all(len(choice["name"]) <= 100 for choice in choices)
    # Typing part of a painting's title or artist finds it too; spaces count as hyphens.
    assert [c["value"] for c in await world.alice.autocomplete(world.channel, "stylize", "preset2", "hokusai")] == [
        "built-in:great-wave"
    ]
    assert [c["value"] for c in await world.alice.autocomplete(world.channel, "stylize", "preset3", "Great Wave")] == [
        "built-in:great-wave"
    ]


@pytest.mark.parametrize("typed", ["built-in:great-wave", "great-wave", "Great Wave"])
async def test_stylize_with_a_built_in_finishes_and_the_card_names_it(world, typed):
    result = await stylize(world, preset=typed)

    [card] = result.followups
    assert card.embeds[0].title == "Done"
    assert card.embeds[0].fields[0].value == "content cat.png · style built-in great-wave"
    [call] = world.engine.calls
    assert call.style_sizes == [size_of(GREAT_WAVE)]
    job = await world.bot.store.job(card.embeds[0].footer.text.removeprefix("Job "))
    assert [(ref.kind.value, ref.name) for ref in job.params.named_styles] == [("built-in", "great-wave")]
    # The painting is one of the job's files, like an upload: re-runs and upscales need nothing else.
    assert world.bot.store.files.style_paths(job)[0].read_bytes() == GREAT_WAVE.read_bytes()


async def test_a_lone_built_in_brings_its_own_settings_and_a_blend_does_not(world):
    assert GRANDE_JATTE.defaults == {"style_scale": 2.0}

    await stylize(world, preset="grande-jatte")
    await stylize(world, preset="grande-jatte", style=("s.png", png(20, 20)))
    await stylize(world, preset="great-wave")

    assert [call.options.style_scale for call in world.engine.calls] == [2.0, 1.0, 1.0]
    assert "style scale" not in (await stylize(world, preset="great-wave")).followups[0].embeds[0].fields[1].value


@pytest.mark.parametrize(
    ("chosen", "own", "server", "expected"),
    [
        (None, {}, 1.5, 1.5),  # the server's default
        (None, {"style_weight": 3.0}, 1.5, 3.0),  # a lone built-in's own replaces it
        (2.0, {"style_weight": 3.0}, 1.5, 2.0),  # what the member chose wins
    ],
)
def test_own_settings_sit_between_the_servers_defaults_and_the_members_choice(chosen, own, server, expected):
    settings = replace(ServerSettings.resolve(Config(), {}), style_strength=server)

    params = resolve_params(
        UserOptions(style_strength=chosen), settings, ["preset"], own_defaults={**own, "style_scale": 2.0}
    )

    assert (params.style_strength, params.style_scale) == (expected, 2.0)


def test_parameters_stored_before_named_styles_existed_still_load():
    stored = {
        "size": 64,
        "iterations": 10,
        "style_strength": 1.0,
        "optimizer": "lbfgs",
        "learning_rate": None,
        "preserve_colors": "none",
        "seed": 1,
        "style_weights": [1, 2],
    }

    params = JobParams.from_json(stored)

    assert (params.style_scale, params.named_styles, params.style_weights) == (1.0, (), (1, 2))
    ref = StyleRef(StyleKind.PRESET, "Moss")
    assert JobParams.from_json(json.loads(json.dumps(replace(params, named_styles=(ref,)).to_json()))) == replace(
        params, named_styles=(ref,)
    )


async def test_blending_a_built_in_with_an_image_gives_the_engine_both_and_the_weights(world):
    result = await stylize(world, style=("s.png", png(20, 20)), preset="great-wave", style_weights="1,3")

    [call] = world.engine.calls
    assert call.style_sizes == [(20, 20), size_of(GREAT_WAVE)]
    assert call.options.style_weights == (1.0, 3.0)
    assert result.followups[0].embeds[0].fields[0].value == "content cat.png · style s.png, built-in great-wave"


async def test_presets_and_built_ins_blend_in_the_documented_order(world):
    await add_preset(world, "Moss", size=(30, 30))

    await stylize(world, preset3="Moss", preset="great-wave", style=("s.png", png(20, 20)), style_weights="1,2,3")

    [call] = world.engine.calls  # images first, then preset, preset2, preset3
    assert call.style_sizes == [(20, 20), size_of(GREAT_WAVE), (30, 30)]
    assert call.options.style_weights == (1.0, 2.0, 3.0)


async def test_more_than_three_styles_are_refused_whatever_their_kind(world):
    result = await stylize(
        world, style=("a.png", png()), style2=("b.png", png()), preset="great-wave", preset2="the-kiss"
    )

    assert result.response.content == (
        "❌ A job blends at most 3 styles; this one has 4 (style, style2, preset, preset2). Leave some out."
    )
    assert world.engine.calls == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("built-in:nope", "There is no built-in style called “nope”; /styles shows them."),
        ("preset:Nope", "This server has no preset named “Nope” (any more); /styles shows its styles."),
        ("sunflowers", "There is no style called “sunflowers” on this server; /styles shows them."),
    ],
)
async def test_an_unknown_style_is_named_with_where_to_look(world, typed, message):
    result = await stylize(world, preset=typed)

    assert result.response.content == f"❌ {message}"
    assert world.engine.calls == []


async def test_style_weights_name_the_styles_in_their_order(world):
    result = await stylize(world, style=("a.png", png()), preset="great-wave", style_weights="1,2,3")

    assert "give one weight per style, in this order: style, preset." in result.response.content


async def test_dms_take_built_ins(world):
    dora = world.env.create_user("dora")

    choices = await dora.autocomplete("stylize", "preset", "")
    result = await dora.slash("stylize", content=PHOTO, preset="built-in:the-kiss")

    assert [choice["value"] for choice in choices] == builtin_values()
    [card] = result.followups
    assert card.embeds[0].title == "Done" and card.channel_id == dora.dm_channel.id
    assert world.engine.calls[0].style_sizes == [size_of(find_builtin("the-kiss"))]


async def test_rerun_buttons_on_a_built_in_job_work_after_a_restart(world):
    card = (await stylize(world, preset="grande-jatte", seed=5)).followups[0]

    await world.restart()
    again = await world.alice.click(card, label="Stronger style")
    upscaled = await world.alice.click(card, label="Upscale ×2")

    stronger, bigger = world.engine.calls
    assert stronger.style_sizes == bigger.style_sizes == [size_of(GRANDE_JATTE)]
    assert (stronger.options.style_weight, stronger.options.style_scale, stronger.options.seed) == (2.0, 2.0, 5)
    assert bigger.options.size == 128 and bigger.options.style_scale == 2.0
    for click in (again, upscaled):
        assert click.followups[0].embeds[0].title == "Done"
        assert "style built-in grande-jatte" in click.followups[0].embeds[0].fields[0].value


# -- the picker ----------------------------------------------------------------------------------


async def test_a_photo_alone_gets_a_private_picker_with_the_sheet_and_a_pick_keeps_every_option(world):
    shown = await stylize(world, size=96, iterations=7, seed=11, preserve_colors="luminance", style_strength=3.0)

    assert shown.ephemeral and shown.response.content == "Pick a style for cat.png:"
    assert menu_values(shown.response) == builtin_values()
    [sheet] = shown.response.attachments
    assert sheet.filename == "styles.jpg"
    assert shown.followups == [] and world.engine.calls == []
    assert len(picks_kept(world)) == 1  # the request waits, with its photo

    picked = await world.alice.select(shown.response, ["built-in:water-lilies"])

    [call] = world.engine.calls
    assert call.content_size == (48, 32) and call.style_sizes == [size_of(find_builtin("water-lilies"))]
    options = call.options
    assert (options.size, options.iterations, options.seed, options.preserve_colors) == (96, 7, 11, "luminance")
    assert options.style_weight == 3.0
    assert picked.response.content.startswith("✅ Queued as job") and picked.response.components == []
    [card] = picked.followups
    assert card.embeds[0].title == "Done" and not card.ephemeral
    assert card.embeds[0].fields[0].value == "content cat.png · style built-in water-lilies"
    assert picks_kept(world) == []  # picked: the request and its photo are gone


async def test_the_picker_checks_the_photo_first(world):
    shown = await stylize(world, content=("cat.png", b"not an image"))

    assert shown.response.content.startswith("❌ The content image is not usable: cat.png is not an image")
    assert shown.response.components == [] and picks_kept(world) == []


async def test_style_weights_for_more_than_the_one_style_a_picker_gives_are_refused_at_once(world):
    shown = await stylize(world, style_weights="1,2")

    assert shown.response.content == (
        "❌ style_weights has 2 weight(s) but the job has 1 style(s); give one weight per style, in this order: "
        "picked style."
    )
    assert shown.response.components == [] and picks_kept(world) == []


async def test_a_pick_survives_a_restart(world):
    shown = await stylize(world, iterations=4, seed=3)

    await world.restart()
    picked = await world.alice.select(shown.response, ["built-in:great-wave"])

    [call] = world.engine.calls  # the new bot's engine
    assert (call.options.iterations, call.options.seed) == (4, 3)
    assert call.style_sizes == [size_of(GREAT_WAVE)]
    assert picked.followups[0].embeds[0].title == "Done"


async def test_a_pick_after_the_token_expired_is_told_so_and_housekeeping_forgets_the_request(world):
    shown = await stylize(world)

    await world.env.advance_time(PICK_LIFETIME_S + 1)
    late = await world.alice.select(shown.response, ["built-in:great-wave"])

    assert late.response.content == (
        "This style picker has expired (a picker lasts 15 minutes), so nothing was queued. "
        "Send the photo with /stylize again."
    )
    assert late.response.components == [] and late.response.attachments == []
    assert world.engine.calls == [] and late.followups == []
    assert picks_kept(world) == []


async def test_housekeeping_deletes_the_requests_of_expired_pickers(world):
    await stylize(world)
    assert len(picks_kept(world)) == 1

    await world.env.advance_time(PICK_LIFETIME_S + RETENTION_SWEEP_S + 60)

    assert picks_kept(world) == []
    async with world.bot.store.db.execute("SELECT COUNT(*) FROM pending_picks") as rows:
        assert (await rows.fetchone())[0] == 0


async def test_a_picker_whose_photo_was_lost_says_it_expired(world):
    shown = await stylize(world)
    [kept] = picks_kept(world)
    (world.config.data_dir / "picks" / kept).unlink()

    late = await world.alice.select(shown.response, ["built-in:great-wave"])

    assert late.response.content.startswith("This style picker has expired")
    assert world.engine.calls == []


async def test_the_message_menu_offers_the_built_ins(world):
    message = await world.bob.send(world.channel, "my dog", attachments=[("dog.png", png(50, 30))])

    menu = await world.alice.context_menu(world.channel, "Stylize", message)
    assert menu_values(menu.response) == builtin_values()
    picked = await world.alice.select(menu.response, ["built-in:starry-night"])

    [call] = world.engine.calls
    assert call.content_size == (50, 30) and call.style_sizes == [size_of(find_builtin("starry-night"))]
    assert picked.followups[0].embeds[0].title == "Done"


async def test_the_picker_works_in_dms(world):
    dora = world.env.create_user("dora")

    shown = await dora.slash("stylize", content=PHOTO)
    assert menu_values(shown.response) == builtin_values()
    picked = await dora.select(shown.response, ["built-in:reverie"])

    assert picked.followups[0].embeds[0].title == "Done"


async def test_more_styles_than_a_menu_holds_are_paged(world):
    names = [f"p{index:02d}" for index in range(25)]
    for index, name in enumerate(names):
        await add_preset(world, name, (index * 9, 40, 40))

    shown = await stylize(world)

    assert shown.response.content == "Pick a style for cat.png (styles 1–25 of 35):"
    assert menu_values(shown.response) == builtin_values() + [f"preset:{name}" for name in names[:15]]
    assert buttons(shown.response) == ["More styles ▶"]
    turned = await world.alice.click(shown.response, label="More styles ▶")
    assert turned.response.content == "Pick a style for cat.png (styles 26–35 of 35):"
    assert menu_values(turned.response) == [f"preset:{name}" for name in names[15:]]
    assert buttons(turned.response) == ["◀ Previous styles"]
    back = await world.alice.click(turned.response, label="◀ Previous styles")
    assert menu_values(back.response)[0] == "built-in:starry-night"
    await world.alice.click(back.response, label="More styles ▶")

    picked = await world.alice.select(back.response, ["preset:p20"])

    assert picked.followups[0].embeds[0].fields[0].value == "content cat.png · style preset p20"


async def test_a_waiting_picker_naming_a_removed_preset_says_so_and_offers_the_rest(world):
    await add_preset(world, "Moss")
    shown = await stylize(world)
    assert "preset:Moss" in menu_values(shown.response)
    await world.admin.slash(world.channel, "stylepreset remove", name="Moss")

    picked = await world.alice.select(shown.response, ["preset:Moss"])

    assert picked.response.content == (
        "❌ This server has no preset named “Moss” (any more); /styles shows its styles."
    )
    assert menu_values(picked.response) == builtin_values()  # pick again, from what is there now
    assert world.engine.calls == [] and picked.followups == []
    again = await world.alice.select(picked.response, ["built-in:great-wave"])
    assert again.followups[0].embeds[0].title == "Done"


class NoRoomForPicks(Store):
    async def add_pick(self, *args, **kwargs):
        raise OSError(28, "No space left on device")


@pytest.mark.bot(store=NoRoomForPicks)
async def test_a_picker_that_cannot_be_kept_says_something_went_wrong(world, caplog):
    shown = await stylize(world)

    simcord.assert_error(world.env, app_commands.CommandInvokeError)
    assert shown.response.content == "Something went wrong on our side; it has been logged. Please try again."
    assert shown.response.components == []
    assert "No space left on device" in caplog.text


# -- /styles -------------------------------------------------------------------------------------


async def test_styles_posts_one_image_with_a_cell_per_style(world):
    result = await world.alice.slash(world.channel, "styles")

    assert result.ephemeral
    assert result.response.content.startswith("Styles you can use here: 10 built-in and 0 of this server's presets.")
    [attachment] = result.response.attachments
    image = await decoded(attachment)
    groups = [
        SheetGroup(BUILTIN_GROUP, [SheetStyle(style.name, style.read_bytes()) for style in BUILTIN_STYLES]),
        SheetGroup(PRESET_GROUP, [], NO_PRESETS),
    ]
    layout = plan_sheet(groups)
    assert image.size == (layout.width, layout.height)
    assert [cell.name for cell in layout.cells] == [style.name for style in BUILTIN_STYLES]
    # Each cell shows its own painting: nearer its thumbnail than any other painting's.
    thumbnails = [
        mean(ImageOps.fit(style.load(), (THUMB, THUMB), Image.Resampling.LANCZOS)) for style in BUILTIN_STYLES
    ]
    for index, cell in enumerate(layout.cells):
        shown = mean(image.crop(cell.image))
        nearest = min(range(len(thumbnails)), key=lambda i: distance(shown, thumbnails[i]))
        assert nearest == index, cell.name
        assert distance(shown, thumbnails[index]) < 6, cell.name


async def test_styles_shows_the_servers_presets_in_their_own_group(world):
    await add_preset(world, "Red", (220, 30, 30))
    await add_preset(world, "Blue", (30, 30, 220))

    result = await world.alice.slash(world.channel, "styles", public=True)

    assert not result.ephemeral
    image = await decoded(result.response.attachments[0])
    styles = [SheetStyle(style.name, style.read_bytes()) for style in BUILTIN_STYLES]
    solid = [SheetStyle("Blue", png(36, 24, (30, 30, 220))), SheetStyle("Red", png(36, 24, (220, 30, 30)))]
    layout = plan_sheet([SheetGroup(BUILTIN_GROUP, styles), SheetGroup(PRESET_GROUP, solid, NO_PRESETS)])
    assert image.size == (layout.width, layout.height)
    blue, red = [cell for cell in layout.cells if cell.group == 1]
    assert (blue.name, red.name) == ("Blue", "Red")
    assert distance(mean(image.crop(blue.image)), (30, 30, 220)) < 6
    assert distance(mean(image.crop(red.image)), (220, 30, 30)) < 6


async def test_stylepreset_list_shows_the_presets_sheet(world):
    await add_preset(world, "Red", (220, 30, 30))

    listed = await world.alice.slash(world.channel, "stylepreset list")

    assert listed.response.content == "Style presets: **Red**"
    image = await decoded(listed.response.attachments[0])
    layout = plan_sheet([SheetGroup(PRESET_GROUP, [SheetStyle("Red", png(36, 24, (220, 30, 30)))])])
    assert image.size == (layout.width, layout.height)
    assert distance(mean(image.crop(layout.cells[0].image)), (220, 30, 30)) < 6


async def test_styles_works_in_dms_with_the_built_ins(world):
    result = await world.env.create_user("dora").slash("styles")

    assert result.response.content.startswith("Styles you can use here: 10 built-in.")
    image = await decoded(result.response.attachments[0])
    layout = plan_sheet([SheetGroup(BUILTIN_GROUP, [SheetStyle(s.name, s.read_bytes()) for s in BUILTIN_STYLES])])
    assert image.size == (layout.width, layout.height)


async def test_the_sheet_is_drawn_again_only_when_the_styles_change(world, monkeypatch):
    drawn = []
    real = sheets_module.render_sheet

    def counting(groups, **kwargs):
        drawn.append([style.name for group in groups for style in group.styles])
        return real(groups, **kwargs)

    monkeypatch.setattr(sheets_module, "render_sheet", counting)

    await world.alice.slash(world.channel, "styles")
    await world.bob.slash(world.channel, "styles")
    await stylize(world)  # the picker shows the same sheet
    assert len(drawn) == 1
    await add_preset(world, "Red", (220, 30, 30))
    await world.alice.slash(world.channel, "styles")
    await world.admin.slash(world.channel, "stylesettings set", key="builtin_styles", value="off")
    await world.alice.slash(world.channel, "styles")
    await world.alice.slash(world.channel, "styles")

    names = [style.name for style in BUILTIN_STYLES]
    assert drawn == [names, [*names, "Red"], ["Red"]]


# -- turning the built-ins off, and names that clash ---------------------------------------------


async def test_turning_built_ins_off_removes_them_everywhere(world):
    await add_preset(world, "Moss")
    set_off = await world.admin.slash(world.channel, "stylesettings set", key="builtin_styles", value="off")
    assert set_off.response.content == "**builtin_styles** is now off."

    choices = await world.alice.autocomplete(world.channel, "stylize", "preset", "")
    picker = await stylize(world)
    sheet = await world.alice.slash(world.channel, "styles")
    refused = await stylize(world, preset="great-wave")
    refused_value = await stylize(world, preset="built-in:great-wave")

    assert [choice["value"] for choice in choices] == ["preset:Moss"]
    assert menu_values(picker.response) == ["preset:Moss"]
    assert sheet.response.content.startswith("Styles you can use here: 1 of this server's presets.")
    image = await decoded(sheet.response.attachments[0])
    only_presets = plan_sheet([SheetGroup(BUILTIN_GROUP, []), SheetGroup(PRESET_GROUP, [SheetStyle("Moss", b"")])])
    assert image.size == (only_presets.width, only_presets.height)
    for reply in (refused, refused_value):
        assert reply.response.content == "❌ Built-in styles such as great-wave are turned off on this server."
    assert world.engine.calls == []

    await world.admin.slash(world.channel, "stylesettings reset", key="builtin_styles")
    assert len(await world.alice.autocomplete(world.channel, "stylize", "preset", "")) == 11


@pytest.mark.bot(config=BUILTINS_OFF)
async def test_with_built_ins_off_in_the_config_and_no_presets_styles_says_why(world):
    result = await world.alice.slash(world.channel, "styles")

    assert result.response.content.startswith("No styles to show. This server has no style presets and its built-in")
    assert result.response.attachments == []
    on = await world.admin.slash(world.channel, "stylesettings set", key="builtin_styles", value="on")
    assert on.response.content == "**builtin_styles** is now on."
    assert len(await world.alice.autocomplete(world.channel, "stylize", "preset", "")) == 10


async def test_a_rerun_of_a_job_whose_styles_were_taken_away_says_why(world):
    await add_preset(world, "Moss")
    from_preset = (await stylize(world, preset="Moss")).followups[0]
    from_builtin = (await stylize(world, preset="great-wave")).followups[0]
    await world.admin.slash(world.channel, "stylepreset remove", name="Moss")
    await world.admin.slash(world.channel, "stylesettings set", key="builtin_styles", value="off")

    gone = await world.alice.click(from_preset, label="New seed")
    off = await world.alice.click(from_builtin, label="Upscale ×2")

    preset_job = from_preset.embeds[0].footer.text.removeprefix("Job ")
    assert gone.response.content == (
        f"❌ Job {preset_job} cannot be re-run: This server has no preset named “Moss” (any more); "
        "/styles shows its styles."
    )
    builtin_job = from_builtin.embeds[0].footer.text.removeprefix("Job ")
    assert off.response.content == (
        f"❌ Job {builtin_job} cannot be re-run: Built-in styles such as great-wave are turned off on this server."
    )
    assert len(world.engine.calls) == 2 and gone.followups == [] and off.followups == []


async def test_an_old_preset_named_like_a_built_in_is_never_taken_for_it_silently(world):
    # Added before built-ins existed (the store itself does not check names).
    await world.bot.store.add_preset(world.guild.id, "Starry Night", png(30, 30), world.admin.id, 0.0)

    choices = await world.alice.autocomplete(world.channel, "stylize", "preset", "starry")
    typed = await stylize(world, preset="starry night")
    chosen = await stylize(world, preset="preset:Starry Night")

    assert [choice["value"] for choice in choices] == ["built-in:starry-night", "preset:Starry Night"]
    assert typed.response.content == (
        "❌ “starry night” names both this server's preset “Starry Night” and the built-in style starry-night; "
        "choose one from the list."
    )
    assert world.engine.calls[0].style_sizes == [(30, 30)]
    assert chosen.followups[0].embeds[0].fields[0].value == "content cat.png · style preset Starry Night"


# -- autocomplete: kept per server, dropped on change, never failing -------------------------------


async def test_autocomplete_follows_preset_changes(world):
    async def offered(typed: str) -> list[str]:
        return [choice["value"] for choice in await world.alice.autocomplete(world.channel, "stylize", "preset", typed)]

    assert await offered("zq") == []
    await add_preset(world, "Zquiet")
    assert await offered("zq") == ["preset:Zquiet"]
    await world.admin.slash(world.channel, "stylepreset remove", name="Zquiet")
    assert await offered("zq") == []


async def test_autocomplete_answers_from_what_it_kept(world, monkeypatch):
    first = await world.alice.autocomplete(world.channel, "stylize", "preset", "")

    async def broken(*args, **kwargs):
        raise AssertionError("autocomplete read the database again")

    monkeypatch.setattr(world.bot.store, "presets", broken)
    monkeypatch.setattr(world.bot.store, "guild_settings", broken)

    assert await world.alice.autocomplete(world.channel, "stylize", "preset", "") == first


async def test_autocomplete_never_fails(world, monkeypatch, caplog):
    async def broken(*args, **kwargs):
        raise OSError("database is locked")

    monkeypatch.setattr(world.bot.store, "presets", broken)

    assert await world.alice.autocomplete(world.channel, "stylize", "preset", "") == []
    assert "autocomplete of styles failed" in caplog.text


async def test_the_setting_takes_on_or_off(world):
    reply = await world.admin.slash(world.channel, "stylesettings set", key="builtin_styles", value="maybe")

    assert reply.response.content == "❌ builtin_styles must be on or off, not “maybe”."
    shown = await world.admin.slash(world.channel, "stylesettings show")
    assert "**builtin_styles**: on (default)" in shown.response.content


async def test_help_starts_with_the_picker_and_the_gallery(world):
    text = (await world.alice.slash(world.channel, "help")).response.content

    first, second = text.splitlines()[:2]
    assert "just the photo and pick a style from a menu" in first and "/styles" in first
    assert second.startswith("**/styles**")
