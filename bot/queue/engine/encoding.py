"""What the engine thread hands back, encoded: the result (with its timelapse) and the previews.

The engine gives PIL images; the queue carries only bytes, small enough for a card or an upload
(`WorkItem.max_result_bytes`). Runs on the engine thread, like the engine.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

from bot.queue.messages import WorkItem, WorkResult
from stylecore.errors import OptionsError
from stylecore.images import encode_image
from stylecore.timelapse import encode_timelapse

if TYPE_CHECKING:
    from PIL import Image

    from stylecore.records import Progress, StyleResult

log = logging.getLogger("stylebot.worker")

PREVIEW_MAX_SIDE = 512
PREVIEW_QUALITY = 80


def work_result(item: WorkItem, result: StyleResult) -> WorkResult:
    """The result as a PNG within the upload limit (else JPEG or WebP), with the run as an animation."""
    encoded = encode_image(result.image, "png", max_bytes=item.max_result_bytes)
    return WorkResult(
        encoded.data,
        encoded.extension,
        encoded.width,
        encoded.height,
        result.options,
        result.iterations,
        result.elapsed,
        result.stopped,
        result.device,
        timelapse=_timelapse(item, result),
    )


def _timelapse(item: WorkItem, result: StyleResult) -> tuple[bytes, str] | None:
    """The run as an animated image within the upload limit; None without frames, or when none fit."""
    if len(result.frames) < 2:
        return None
    try:
        encoded = encode_timelapse(result.frames, max_bytes=item.max_result_bytes)
    except OptionsError as exc:  # a result is still a result: the card just offers no timelapse
        log.warning("job %s: no timelapse: %s", item.job_id, exc)
        return None
    return encoded.data, encoded.extension


def encode_and_drop_preview(record: Progress) -> None:
    """The warm-up's progress: encodes each preview as a job would, and drops it."""
    encode_preview(record.preview)


def encode_preview(image: Image.Image | None) -> bytes | None:
    """A JPEG small enough for a card."""
    if image is None:
        return None
    preview = image.convert("RGB")
    preview.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
    buffer = io.BytesIO()
    preview.save(buffer, "JPEG", quality=PREVIEW_QUALITY)
    return buffer.getvalue()
