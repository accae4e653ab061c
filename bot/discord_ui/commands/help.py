"""/help: short usage, only for the asker."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

HELP_TEXT = """\
**/stylize** `content:` photo — send just the photo and pick a style from a menu; or add `style:` an artwork, \
or `preset:` one of the styles **/styles** shows (built-in paintings and this server's presets).
**/styles** — every style you can use here, as one picture.
Options: `iterations`, `size`, `style_strength`, `preserve_colors` (keep the photo's colours), \
`optimizer`, `learning_rate`, `beta1`/`beta2`/`epsilon` (Adam); blend up to three styles with \
`style2`/`style3`/`preset2`/`preset3` and `style_weights` (e.g. `2,1`); `seed` to repeat a result.
`content:` may also be a clip (an animated GIF or WebP, a short MP4, WebM or MOV): every frame is painted, \
and it comes back as a clip of the same kind (an MP4 for a video).
Your job gets a card: place in the queue, then live previews. **Cancel** stops it; when it is done, \
**Stronger style**, **Weaker style**, **Keep colours**/**Full colour** and **New seed** re-run it, \
**Upscale ×2** paints it again at twice the size from the result, and **Timelapse** shows how it came to be.
**Stylize** (right-click a message › Apps) — stylizes the message's image with a style you pick.
**/queue** — your jobs and the queue length.
**/stylepreset list** — this server's style presets.
Admins (Manage Server): **/stylesettings** show | set | reset (`builtin_styles off` hides the built-ins), \
**/stylepreset** add | remove."""


class HelpCog(commands.Cog):
    @app_commands.command(name="help", description="How to use the style-transfer bot")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def help(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(HELP_TEXT, ephemeral=True)
