"""How large a job's images are, and the one rule for a queue that carries them to other machines.

The Redis queue copies every image of a job into Redis for its worker (a clip's file is its content
image); it takes none larger than `limits.max_attachment_bytes`, the largest file the bot takes from
Discord. Intake's checks keep uploads under it already; a preset added under a higher limit, a re-run
of such a job, or an upscale of a result larger than it (results are bound by the upload limit
instead) is caught here. The ledger asks before accepting a job (`JobQueue.check_payload`, so only its
member hears of it), and `put` asks again (`work_item_payload`, `check_images`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bot.queue.interface import PayloadImage, PayloadTooLarge

if TYPE_CHECKING:
    from pathlib import Path

    from bot.queue.interface import Payload
    from bot.queue.messages import WorkItem


def work_item_payload(item: WorkItem) -> Payload:
    """The images of a job handed to the queue, which are the bot's files (blocking)."""
    paths: list[tuple[str, Path]] = [("content", item.content)]
    paths += [(f"style {index}", path) for index, path in enumerate(item.styles, 1)]
    payload = [PayloadImage(f"{name} ({path.name})", _size(path)) for name, path in paths]
    if item.init is not None:
        payload.append(PayloadImage(f"to upscale ({item.init.name})", _size(item.init), upscale_start=True))
    return payload


def _size(path: Path) -> int:
    return os.path.getsize(path)


def format_bytes(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"


def check_images(images: Payload, max_image_bytes: int) -> None:
    """PayloadTooLarge naming the first image larger than `max_image_bytes`."""
    for name, size, upscale_start in images:
        if size > max_image_bytes:
            actual, limit = format_bytes(size), format_bytes(max_image_bytes)
            if actual == limit:  # just over: rounded sizes would read "10 MiB, more than 10 MiB"
                actual, limit = f"{size:,} bytes", f"{max_image_bytes:,} bytes"
            if upscale_start:
                raise PayloadTooLarge(
                    f"This result is {actual}, more than the {limit} the job queue carries to its workers, "
                    "so it cannot be upscaled here."
                )
            raise PayloadTooLarge(
                f"The image {name} is {actual}, more than the {limit} the job queue carries to its workers; "
                "please use a smaller image."
            )
