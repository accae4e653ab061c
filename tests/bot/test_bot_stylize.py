"""/stylize end to end with a fast engine: the card, its progress, the result."""

from __future__ import annotations

import io

from PIL import Image


async def test_stylize_posts_a_card_that_ends_with_the_result(world, content_png, style_png):
    result = await world.alice.slash(world.channel, "stylize", content=content_png, style=style_png)

    assert result.ephemeral
    callbacks = [r.json for r in world.env.http_requests if r.path.endswith("/callback")]
    assert callbacks[0] == {"type": 5, "data": {"flags": 64}}  # deferred, ephemeral, before any download
    assert result.response.content.startswith("✅ Queued as job")
    [card] = result.followups
    assert not card.ephemeral
    embed = card.embeds[0]
    assert embed.title == "Done"
    [attachment] = card.attachments
    image = Image.open(io.BytesIO(await attachment.read()))
    assert max(image.size) == 64
    print(embed.to_dict())
    print([c for c in card.components])
