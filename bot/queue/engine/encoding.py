"""What the engine thread hands back, encoded: the result (with its timelapse), a clip's result and its
finished frames, and the previews.

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
from stylecore.video.encode import OutputFormat, encode_clip

if TYPE_CHECKING:
    from PIL import Image

    from bot.queue.engine.clip_api import ClipOutput
    from stylecore.records import Progress, StyleResult
    from stylecore.video.clip import ClipFormat

log = logging.getLogger("stylebot.worker")

PREVIEW_MAX_SIDE = 512
PREVIEW_QUALITY = 80
#: A clip's result keeps its source's kind: an animation stays a GIF or a WebP, a video becomes an MP4
#: (H.264, which Discord and browsers play inline).
CLIP_OUTPUT: dict[ClipFormat, OutputFormat] = {"gif": "gif", "webp": "webp", "mp4": "mp4", "mov": "mp4", "webm": "mp4"}


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


def clip_work_result(item: WorkItem, result: ClipOutput) -> WorkResult:
    """A clip's result within the upload limit: re-encoded at a lower quality, then smaller, until it fits
    (`fit` says so on the card), every frame kept with its timing."""
    clip = result.clip
    encoded = encode_clip(clip, CLIP_OUTPUT[clip.source_format], max_bytes=item.max_result_bytes)
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
        frames=encoded.frames,
        fit=encoded.fit,
    )


def encode_frame(image: Image.Image) -> bytes:
    """A clip's finished frame, lossless (PNG): a run that goes on from it must see it as it was."""
    return encode_image(image, "png").data


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
