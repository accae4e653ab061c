"""Server settings and presets: admin-only, enforced, persisted; and the "Stylize" message menu."""

from __future__ import annotations

import pytest
import simcord
from bot_fakes import png
from discord import app_commands

from bot.queue import ENGINE_WAIT, IDLE_WAIT

MONET = ("monet.png", png(36, 24, (90, 160, 90)))


async def stylize(world, member=None, channel=None, **options):
    options.setdefault("content", ("cat.png", png(48, 32)))
    return await (member or world.alice).slash(channel or world.channel, "stylize", **options)


async def setting(world, key, value, member=None):
    return await (member or world.admin).slash(world.channel, "stylesettings set", key=key, value=value)


async def add_preset(world, name="Monet", image=MONET, member=None):
    return await (member or world.admin).slash(world.channel, "stylepreset add", name=name, image=image)


async def command_id(world, name):
    return next(command.id for command in await world.bot.tree.fetch_commands() if command.name == name)


# -- /stylesettings ------------------------------------------------------------------------------


async def test_settings_are_hidden_from_members_without_manage_server(world):
    for member in (world.alice, world.moderator):
        with pytest.raises(simcord.SetupError):
            await member.slash(world.channel, "stylesettings show")
    assert "stylesettings show" in world.admin.available_commands(world.channel)
    assert "stylesettings show" not in world.alice.available_commands(world.channel)


async def test_settings_are_refused_at_run_time_when_a_server_shows_them_to_members(world):
    world.guild.set_command_permissions(await command_id(world, "stylesettings"), {world.alice: True})

    result = await world.alice.slash(world.channel, "stylesettings set", key="size", value="128")

    simcord.assert_error(world.env, app_commands.MissingPermissions)
    assert result.ephemeral and result.response.content == "You need the Manage Server permission for this."
    assert await world.bot.store.guild_settings(world.guild.id) == {}


async def test_settings_are_not_offered_in_dms(world):
    dora = world.env.create_user("dora")
    with pytest.raises(simcord.SetupError):
        await dora.slash("stylesettings show")


async def test_a_servers_defaults_reach_the_engine_and_show_lists_them(world, style_png):
    for key, value in (
        ("size", "128"),
        ("iterations", "7"),
        ("optimizer", "adam"),
        ("learning_rate", "4"),
        ("style_strength", "3"),
        ("preserve_colors", "color"),
    ):
        reply = await setting(world, key, value)
        assert reply.ephemeral and reply.response.content.startswith(f"**{key}** is now")

    await stylize(world, style=style_png)

    options = world.engine.calls[0].options
    assert (options.size, options.iterations, options.optimizer, options.learning_rate) == (128, 7, "adam", 4.0)
    assert (options.style_weight, options.preserve_colors) == (3.0, "color")
    shown = (await world.admin.slash(world.channel, "stylesettings show")).response.content
    assert "**size**: 128 (server)" in shown and "**max_size**: 1024 (default)" in shown


async def test_a_servers_limits_are_enforced_and_its_defaults_clamped(world, style_png):
    await setting(world, "size", "512")
    await setting(world, "max_size", "96")
    await setting(world, "max_iterations", "5")

    refused = await stylize(world, style=style_png, size=128)
    assert "size 128 is above this server's limit of 96 pixels" in refused.response.content
    refused = await stylize(world, style=style_png, iterations=6)
    assert "iterations 6 is above this server's limit of 5" in refused.response.content

    await stylize(world, style=style_png)
    assert (world.engine.calls[0].options.size, world.engine.calls[0].options.iterations) == (96, 5)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("size", "huge", "size must be a whole number from 64 to 1024"),
        ("max_size", "9999", "max_size must be from 64 to 1024 on this bot, not 9999"),
        ("jobs_per_user", "50", "jobs_per_user must be from 1 to 3 on this bot"),
        ("optimizer", "rmsprop", "optimizer must be one of lbfgs, adam, adagrad, sgd"),
        ("learning_rate", "-1", "learning_rate must be a number from 1e-06 to 10000 or “auto”"),
        ("allowed_channels", "somewhere", "allowed_channels takes channel mentions"),
        ("allowed_channels", "<#123456789012345678>", "is not a channel of this server"),
    ],
)
async def test_bad_setting_values_are_explained(world, key, value, message):
    reply = await setting(world, key, value)

    assert reply.ephemeral and message in reply.response.content
    assert await world.bot.store.guild_settings(world.guild.id) == {}


async def test_allowed_channels_keep_stylize_where_the_server_wants_it(world, style_png):
    studio = world.guild.create_text_channel("studio")
    await setting(world, "allowed_channels", studio.mention)

    refused = await stylize(world, style=style_png)
    accepted = await stylize(world, style=style_png, channel=studio)

    assert refused.response.content == f"❌ On this server, stylizing works in {studio.mention}."
    assert accepted.followups[0].embeds[0].title == "Done"
    await setting(world, "allowed_channels", "all")
    assert (await stylize(world, style=style_png)).followups[0].embeds[0].title == "Done"


@pytest.mark.bot(engine={"block": True}, external=(IDLE_WAIT, ENGINE_WAIT))
async def test_a_servers_jobs_per_user_is_enforced(world, style_png):
    await setting(world, "jobs_per_user", "1")
    await stylize(world, style=style_png)

    refused = await stylize(world, style=style_png)

    assert "the limit is 1" in refused.response.content


async def test_reset_restores_one_setting_or_all(world):
    await setting(world, "size", "128")
    await setting(world, "iterations", "7")

    await world.admin.slash(world.channel, "stylesettings reset", key="size")
    assert await world.bot.store.guild_settings(world.guild.id) == {"iterations": 7}
    await world.admin.slash(world.channel, "stylesettings reset")
    assert await world.bot.store.guild_settings(world.guild.id) == {}


async def test_settings_survive_a_restart(world, style_png):
    await setting(world, "size", "128")

    await world.restart()

    shown = (await world.admin.slash(world.channel, "stylesettings show")).response.content
    assert "**size**: 128 (server)" in shown
    await stylize(world, style=style_png)
    assert world.engine.calls[0].options.size == 128


# -- /stylepreset --------------------------------------------------------------------------------


async def test_an_admin_adds_a_preset_and_members_use_it(world):
    added = await add_preset(world)
    assert added.ephemeral and added.response.content == "Added the preset **Monet** (36×24)."

    listed = await world.alice.slash(world.channel, "stylepreset list")
    assert listed.response.content == "Style presets: **Monet**"
    result = await stylize(world, preset="monet")  # names match case-insensitively

    assert world.engine.calls[0].style_sizes == [(36, 24)]
    inputs = result.followups[0].embeds[0].fields[0].value
    assert inputs == "content cat.png · style preset Monet"


async def test_a_preset_blends_with_style_images(world):
    await add_preset(world)

    await stylize(world, style=("s.png", png(20, 20)), preset="Monet", style_weights="1,3")

    call = world.engine.calls[0]
    assert call.style_sizes == [(20, 20), (36, 24)] and call.options.style_weights == (1.0, 3.0)


async def test_stylize_autocompletes_the_servers_presets(world):
    await add_preset(world, "Monet")
    await add_preset(world, "Hokusai wave", ("wave.png", png(20, 20)))

    choices = await world.alice.autocomplete(world.channel, "stylize", "preset", "WAV")

    # Built-ins first, marked as such; a preset says it is the server's. Values say which kind was meant.
    assert choices == [
        {
            "name": "great-wave · built-in · The Great Wave off Kanagawa — Katsushika Hokusai, c. 1831",
            "value": "built-in:great-wave",
        },
        {"name": "Hokusai wave · this server's preset", "value": "preset:Hokusai wave"},
    ]


async def test_members_cannot_add_or_remove_presets(world):
    await add_preset(world)

    added = await add_preset(world, "Mine", member=world.alice)
    removed = await world.alice.slash(world.channel, "stylepreset remove", name="Monet")

    assert [error.__class__ for error in world.env.errors] == [app_commands.MissingPermissions] * 2
    assert added.response.content == removed.response.content == "You need the Manage Server permission for this."
    assert [p.name for p in await world.bot.store.presets(world.guild.id)] == ["Monet"]


@pytest.mark.parametrize(
    ("name", "image", "message"),
    [
        ("Monet", MONET, "There is already a preset named “Monet”"),
        ("MONET", MONET, "There is already a preset named “MONET”"),
        ("#1 style!", MONET, "A preset name uses letters, digits"),
        ("Great Wave", MONET, "“Great Wave” is the name of a built-in style (great-wave: The Great Wave off"),
        ("starry_night", MONET, "“starry_night” is the name of a built-in style (starry-night"),
        ("Broken", ("broken.png", b"not an image"), "The preset image is not usable: broken.png is not an image"),
    ],
)
async def test_bad_presets_are_refused_with_the_reason(world, name, image, message):
    await add_preset(world)

    reply = await add_preset(world, name, image)

    assert reply.ephemeral and message in reply.response.content
    assert len(await world.bot.store.presets(world.guild.id)) == 1


async def test_preset_names_are_compared_as_members_type_them(world):
    await add_preset(world, "Hokusai wave")

    again = await add_preset(world, "hokusai_wave")
    removed = await world.admin.slash(world.channel, "stylepreset remove", name="HOKUSAI  WAVE")

    assert again.response.content == "❌ There is already a preset named “hokusai_wave”; remove it first to replace it."
    assert removed.response.content == "Removed the preset **Hokusai wave**."
    assert await world.bot.store.presets(world.guild.id) == []


async def test_removing_a_preset_deletes_it_and_its_image(world):
    await add_preset(world)
    [preset] = await world.bot.store.presets(world.guild.id)

    reply = await world.admin.slash(world.channel, "stylepreset remove", name="Monet")

    assert reply.response.content == "Removed the preset **Monet**."
    assert not preset.path.exists()
    assert (
        await world.admin.slash(world.channel, "stylepreset list")
    ).response.content == "This server has no style presets yet."
    missing = await world.admin.slash(world.channel, "stylepreset remove", name="Monet")
    assert missing.response.content == "❌ There is no preset named “Monet”."


async def test_presets_survive_a_restart_with_their_image(world):
    await add_preset(world)

    await world.restart()
    await stylize(world, preset="Monet")

    assert world.engine.calls[0].style_sizes == [(36, 24)]


# -- the "Stylize" message menu ------------------------------------------------------------------


async def test_the_message_menu_stylizes_the_messages_image_with_a_chosen_preset(world):
    await add_preset(world)
    await add_preset(world, "Wave", ("wave.png", png(20, 20)))
    message = await world.bob.send(world.channel, "my dog", attachments=[("dog.png", png(50, 30))])

    menu = await world.alice.context_menu(world.channel, "Stylize", message)
    assert menu.ephemeral and menu.response.content == "Pick a style for dog.png:"
    picked = await world.alice.select(menu.response, ["preset:Wave"])

    [call] = world.engine.calls
    assert call.content_size == (50, 30) and call.style_sizes == [(20, 20)]
    [card] = picked.followups
    assert not card.ephemeral and card.embeds[0].title == "Done"
    assert card.content == f"<@{world.alice.id}> your image is ready."
    assert card.embeds[0].fields[0].value == "content dog.png · style preset Wave"


@pytest.mark.bot(config={"defaults": {"builtin_styles": False}})
async def test_the_message_menu_needs_an_image_and_a_style_to_pick(world):
    plain = await world.bob.send(world.channel, "no picture here")
    pictured = await world.bob.send(world.channel, "dog", attachments=[("dog.png", png())])

    no_image = await world.alice.context_menu(world.channel, "Stylize", plain)
    no_styles = await world.alice.context_menu(world.channel, "Stylize", pictured)

    assert no_image.ephemeral and no_image.response.content == "That message has no image or video attached."
    assert no_styles.response.content.startswith("❌ A style is needed: attach a style image (style:). This server")
    assert no_styles.response.components == []
    assert world.engine.calls == []


async def test_the_message_menu_checks_the_image_like_stylize_before_offering_styles(world):
    message = await world.bob.send(world.channel, "dog", attachments=[("dog.png", b"")])

    menu = await world.alice.context_menu(world.channel, "Stylize", message)

    assert menu.response.content == "❌ The content image is not usable: dog.png is empty (0 bytes)."
    assert menu.response.components == [] and world.engine.calls == []
    assert list((world.config.data_dir / "picks").iterdir()) == []
