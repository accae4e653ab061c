"""stylecore.video: clips (animated GIF and WebP, MP4, MOV, WebM) in and out, optical flow and the
temporal-consistency metric, the building blocks of temporally consistent video style transfer
(Ruder, Dosovitskiy and Brox, 2016).

Typical use::

    clip = load_clip("clip.mp4", size=512)     # a Clip, or a Still for a picture that does not move
    encoded = encode_clip(clip, "mp4", max_bytes=8 * 2**20)
    open("out.mp4", "wb").write(encoded.data)  # encoded.fit: what was done to fit the limit

Clips have no sound: audio tracks are dropped when decoding. Names load on first use, so
`stylecore.video.errors` and `stylecore.video.limits` import neither PyAV, OpenCV nor PyTorch;
`warp_tensor` (PyTorch) lives in `stylecore.video.tensor_warp` and is not exported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Clip": "clip",
    "ClipFormat": "clip",
    "Still": "clip",
    "VideoLimits": "limits",
    "load_clip": "decode",
    "detect_format": "containers",
    "EncodedClip": "encode",
    "encode_clip": "encode",
    "dense_flow": "flow",
    "warp_image": "flow",
    "reliability_mask": "flow",
    "temporal_guide": "flow",
    "TemporalGuide": "flow",
    "warping_error": "consistency",
    **{
        name: "errors"
        for name in (
            "VideoError",
            "NotAVideoError",
            "NoVideoStreamError",
            "UnsupportedCodecError",
            "CorruptVideoError",
            "EmptyVideoError",
            "TooManyFramesError",
            "VideoTooLargeError",
        )
    },
}

__all__ = [
    "Clip",
    "ClipFormat",
    "CorruptVideoError",
    "EmptyVideoError",
    "EncodedClip",
    "NoVideoStreamError",
    "NotAVideoError",
    "Still",
    "TemporalGuide",
    "TooManyFramesError",
    "UnsupportedCodecError",
    "VideoError",
    "VideoLimits",
    "VideoTooLargeError",
    "dense_flow",
    "detect_format",
    "encode_clip",
    "load_clip",
    "reliability_mask",
    "temporal_guide",
    "warp_image",
    "warping_error",
]

if TYPE_CHECKING:
    from .clip import Clip, ClipFormat, Still
    from .consistency import warping_error
    from .containers import detect_format
    from .decode import load_clip
    from .encode import EncodedClip, encode_clip
    from .errors import (
        CorruptVideoError,
        EmptyVideoError,
        NotAVideoError,
        NoVideoStreamError,
        TooManyFramesError,
        UnsupportedCodecError,
        VideoError,
        VideoTooLargeError,
    )
    from .flow import TemporalGuide, dense_flow, reliability_mask, temporal_guide, warp_image
    from .limits import VideoLimits


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stylecore.video' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
