"""How the job messages of `bot.queue.messages` cross Redis: JSON for the small fields, raw bytes for images.

Redis hashes and stream entries hold binary-safe fields, so images travel as they are (no base64),
next to a `data` field with the rest as JSON. Everything decodes back into the very dataclasses the
in-process queue passes around, so the ledger cannot tell the backends apart. This module holds the
job (its hash) and its outcome (the result hash); `envelopes` the events that tell the bot about them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.queue.messages import Outcome, WorkCancelled, WorkFailed, WorkItem, WorkResult
from stylecore.options import StyleOptions

Fields = dict[bytes, bytes]
"""A Redis hash or stream entry as the client returns it (decode_responses=False)."""


class WireError(ValueError):
    """A record in Redis that this code cannot read (another version, or damaged)."""


def dump_json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def load_json(raw: bytes | None) -> Any:
    if raw is None:
        raise WireError("missing data field")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise WireError(f"bad JSON: {exc}") from None


def text_field(fields_: Fields, name: str) -> str:
    raw = fields_.get(name.encode())
    if raw is None:
        raise WireError(f"missing field {name!r}")
    return raw.decode()


def options_to_json(options: StyleOptions) -> dict[str, Any]:
    return asdict(options)


def known_fields(record: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """`data` without the keys the dataclass `record` lacks: a newer bot or worker on the other side of
    Redis may send fields this one does not know yet."""
    known = {each.name for each in fields(record)}
    return {key: value for key, value in data.items() if key in known}


def options_from_json(data: dict[str, Any]) -> StyleOptions:
    # JSON has no tuples; every sequence option of StyleOptions is a tuple.
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
    return StyleOptions(**known_fields(StyleOptions, values))


# -- the job: parameters and input bytes -------------------------------------------------------


def job_fields(item: WorkItem, content: bytes, styles: list[bytes], init: bytes | None = None) -> Fields:
    """The job hash the bot writes at dispatch: everything a worker on another machine needs.

    `init`: the bytes of `item.init` (an upscale's starting image), given exactly when it has one.
    """
    meta = {
        "job_id": item.job_id,
        "options": options_to_json(item.options),
        "max_result_bytes": item.max_result_bytes,
        "max_pixels": item.max_pixels,
        "guild_id": item.guild_id,
        "owner_id": item.owner_id,
        "content_name": item.content.name,
        "style_names": [path.name for path in item.styles],
        "init_name": item.init.name if item.init is not None else None,
        "max_frames": item.max_frames,
    }
    out: Fields = {b"item": dump_json(meta), b"content": content}
    for index, data in enumerate(styles):
        out[f"style:{index}".encode()] = data
    if init is not None:
        out[b"init"] = init
    return out


def frame_field(index: int) -> bytes:
    """The job hash's field holding a clip's finished output frame `index` (PNG), kept by the worker running it
    so that another worker goes on from there if it dies; freed with the inputs once the result is stored."""
    return f"frame:{index}".encode()


@dataclass(frozen=True)
class JobInputs:
    """A job as read back from Redis: the item's fields and its images, not yet on any disk."""

    meta: dict[str, Any]
    content: bytes
    styles: list[bytes]
    init: bytes | None = None
    done: list[bytes] = field(default_factory=list)
    """A clip's output frames an earlier worker finished, in order from the first."""

    @property
    def job_id(self) -> str:
        return str(self.meta["job_id"])

    def work_item(self, folder: Path) -> WorkItem:
        """Write the images into `folder` and return the item pointing at them (the worker reads files)."""
        content = folder / ("content-" + Path(self.meta["content_name"]).name)
        content.write_bytes(self.content)
        styles = []
        for index, (name, data) in enumerate(zip(self.meta["style_names"], self.styles, strict=True)):
            path = folder / f"style{index}-{Path(name).name}"
            path.write_bytes(data)
            styles.append(path)
        init = None
        if self.init is not None:
            init = folder / ("init-" + Path(self.meta["init_name"]).name)
            init.write_bytes(self.init)
        done = []
        for index, data in enumerate(self.done):
            path = folder / f"done-{index:04d}.png"
            path.write_bytes(data)
            done.append(path)
        return WorkItem(
            job_id=self.job_id,
            content=content,
            styles=tuple(styles),
            options=options_from_json(self.meta["options"]),
            max_result_bytes=int(self.meta["max_result_bytes"]),
            max_pixels=int(self.meta["max_pixels"]),
            guild_id=self.meta["guild_id"],
            owner_id=int(self.meta["owner_id"]),
            init=init,
            # .get: a job written by an older bot is a still image.
            max_frames=int(self.meta.get("max_frames", 1)),
            done=tuple(done),
        )


def job_inputs(data: Fields) -> JobInputs:
    meta = load_json(data.get(b"item"))
    content = data.get(b"content")
    if content is None:
        raise WireError("missing content image")
    styles = [
        data[f"style:{index}".encode()]
        for index in range(len(meta["style_names"]))
        if f"style:{index}".encode() in data
    ]
    if len(styles) != len(meta["style_names"]):
        raise WireError("missing style image")
    # .get: a job written by an older bot has no init_name (it sent no init image).
    init = data.get(b"init") if meta.get("init_name") is not None else None
    if meta.get("init_name") is not None and init is None:
        raise WireError("missing init image")
    done: list[bytes] = []
    while (frame := data.get(frame_field(len(done)))) is not None:
        done.append(frame)
    return JobInputs(meta, content, styles, init, done)


# -- outcomes ----------------------------------------------------------------------------------


def outcome_fields(outcome: Outcome) -> Fields:
    if isinstance(outcome, WorkResult):
        meta = {
            "kind": "result",
            "extension": outcome.extension,
            "width": outcome.width,
            "height": outcome.height,
            "options": options_to_json(outcome.options),
            "iterations": outcome.iterations,
            "elapsed": outcome.elapsed,
            "stopped": outcome.stopped,
            "device": outcome.device,
            "frames": outcome.frames,
            "fit": outcome.fit,
        }
        return {b"data": dump_json(meta), b"image": outcome.image}
    if isinstance(outcome, WorkFailed):
        return {b"data": dump_json({"kind": "failed", "message": outcome.message})}
    return {b"data": dump_json({"kind": "cancelled"})}


def outcome_from_fields(data: Fields) -> Outcome:
    meta = load_json(data.get(b"data"))
    kind = meta.get("kind")
    if kind == "result":
        image = data.get(b"image")
        if image is None:
            raise WireError("result without its image")
        return WorkResult(
            image,
            meta["extension"],
            int(meta["width"]),
            int(meta["height"]),
            options_from_json(meta["options"]),
            int(meta["iterations"]),
            float(meta["elapsed"]),
            meta["stopped"],
            meta["device"],
            # .get: a result stored by an older worker is a still image.
            frames=int(meta.get("frames", 1)),
            fit=meta.get("fit"),
        )
    if kind == "failed":
        return WorkFailed(str(meta["message"]))
    if kind == "cancelled":
        return WorkCancelled()
    raise WireError(f"unknown outcome kind {kind!r}")
