"""The Engine: owns the loaded VGG-19 and runs style-transfer jobs one at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from PIL import Image

from .options import StyleOptions
from .records import Progress, StyleResult


class Engine:
    """Interface stub; the implementation lands next."""

    def __init__(self, weights: str = "caffe", device: str = "auto", precision: str = "auto") -> None:
        raise NotImplementedError

    def stylize(
        self,
        content: Image.Image,
        styles: Sequence[Image.Image],
        options: StyleOptions | None = None,
        *,
        init_image: Image.Image | None = None,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> StyleResult:
        raise NotImplementedError
