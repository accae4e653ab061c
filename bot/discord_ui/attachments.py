"""Checking the images users send before anything is queued.

Names and content types come from the user and prove nothing: every file is measured, then fully
decoded by stylecore's safe loader (format allow-list, pixel limit before decoding, no animation).
Content may also be a clip (an animated GIF or WebP, an MP4, WebM or MOV), told by its bytes and
decoded by stylecore's clip loader, which checks the frame count from the header before decoding.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import discord

from bot.core.errors import UserError
from bot.queue.payload import format_bytes
from stylecore.errors import ImageError
from stylecore.images import load_image
from stylecore.video.clip import Still
from stylecore.video.containers import detect_format
from stylecore.video.decode import load_clip
from stylecore.video.limits import VideoLimits

MAX_NAME_LENGTH = 60


@dataclass(frozen=True)
class ImageInput:
    name: str
    """How the image is named to users: its file name, or "preset <name>"."""
    data: bytes
    width: int
    height: int
    frames: int = 1
    """A clip's frame count; 1 for a still image."""


@dataclass(frozen=True)
class ClipLimits:
    """Content may be a clip: at most `max_frames` frames, checked at `size` px (its result's size)."""

    max_frames: int
    size: int


def display_name(filename: str) -> str:
    name = filename if len(filename) <= MAX_NAME_LENGTH else filename[: MAX_NAME_LENGTH - 1] + "…"
    return discord.utils.escape_markdown(discord.utils.escape_mentions(name))


async def read_attachment(
    attachment: discord.Attachment, *, role: str, max_bytes: int, max_pixels: int, clips: ClipLimits | None = None
) -> ImageInput:
    """Download and check one attachment (a clip too, within `clips`); UserError names the file and the problem."""
    name = display_name(attachment.filename)
    # The declared size is checked before downloading, the real one after.
    _check_size(attachment.size, name, role, max_bytes)
    try:
        data = await attachment.read()
    except discord.HTTPException as exc:
        raise UserError(
            f"The {role} image {name} could not be downloaded from Discord ({exc.status}); please send it again."
        ) from None
    return await check_content(data, name=name, role=role, max_bytes=max_bytes, max_pixels=max_pixels, clips=clips)


async def check_content(
    data: bytes, *, name: str, role: str, max_bytes: int, max_pixels: int, clips: ClipLimits | None = None
) -> ImageInput:
    """Check `data` as an image, or (with `clips`, for content) as a clip when its bytes say it is one."""
    if clips is not None and detect_format(data) is not None:
        return await check_clip(data, name=name, max_bytes=max_bytes, max_pixels=max_pixels, clips=clips)
    return await check_image(data, name=name, role=role, max_bytes=max_bytes, max_pixels=max_pixels)


async def check_image(data: bytes, *, name: str, role: str, max_bytes: int, max_pixels: int) -> ImageInput:
    """Measure and decode `data` off the event loop; UserError says what is wrong with it."""
    _check_size(len(data), name, role, max_bytes)
    try:
        image = await asyncio.to_thread(load_image, data, name=name, max_pixels=max_pixels, allow_animated=False)
    except ImageError as exc:
        raise UserError(f"The {role} image is not usable: {exc}") from None
    return ImageInput(name=name, data=data, width=image.width, height=image.height)


async def check_clip(data: bytes, *, name: str, max_bytes: int, max_pixels: int, clips: ClipLimits) -> ImageInput:
    """Decode a clip (or a picture in a clip's format that does not move: a still) off the event loop; UserError
    with stylecore's sentence, which names the file and what is wrong with it."""
    _check_size(len(data), name, "content", max_bytes)
    limits = VideoLimits(max_frames=clips.max_frames, max_frame_pixels=max_pixels)
    try:
        loaded = await asyncio.to_thread(load_clip, data, name=f"The clip {name}", limits=limits, size=clips.size)
    except ImageError as exc:
        raise UserError(f"{exc}") from None
    if isinstance(loaded, Still):
        return ImageInput(name=name, data=data, width=loaded.image.width, height=loaded.image.height)
    width, height = loaded.size
    return ImageInput(name=name, data=data, width=width, height=height, frames=len(loaded.frames))


def _check_size(size: int, name: str, role: str, max_bytes: int) -> None:
    if size > max_bytes:
        actual, limit = format_bytes(size), format_bytes(max_bytes)
        if actual == limit:  # just over: rounded sizes would read "10 MiB; the limit is 10 MiB"
            actual, limit = f"{size:,} bytes", f"{max_bytes:,} bytes"
        raise UserError(f"The {role} image {name} is {actual}; the limit is {limit}.")
