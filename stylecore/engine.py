"""The Engine: owns the loaded VGG-19 on one device and runs style-transfer jobs, one at a time."""

from __future__ import annotations

import secrets
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from .devices import is_out_of_memory, prepare_device, resolve_device, resolve_precision
from .errors import OptionsError, OutOfMemoryError
from .job import StyleJob
from .options import StyleOptions
from .tiling import free_bytes
from .vgg import VGG19Features
from .weights import load_weights

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from PIL import Image

    from .records import Progress, StyleResult

#: More style images than this cost memory and time without a visible difference.
MAX_STYLE_IMAGES = 16


class Engine:
    """Create once, call `stylize` many times: the weights load on first use and stay on the device.

    Not thread-safe for concurrent jobs: run all jobs from one thread (the bot's GPU worker).
    """

    def __init__(
        self,
        weights: str = "caffe",
        device: str = "auto",
        precision: str = "auto",
        memory_budget: int | None = None,
        threads: int | None = None,
    ) -> None:
        """`memory_budget`: bytes a job may use, for `tile="auto"`; None measures what is free at each job.
        `threads`: CPU threads for the thread that calls `load` (run jobs there too); None uses every core."""
        if threads is not None and threads < 1:
            raise OptionsError(f"threads must be at least 1, not {threads}")
        self.weights = weights
        self.memory_budget = memory_budget
        self.threads = threads
        self._device = resolve_device(device)
        self._autocast = resolve_precision(precision, self._device)
        self._model: VGG19Features | None = None
        self._load_lock = threading.Lock()

    @property
    def device(self) -> str:
        return str(self._device)

    @property
    def precision(self) -> str:
        return "fp32" if self._autocast is None else "bf16"

    def load(self) -> VGG19Features:
        """Load the weights now (idempotent). Raises WeightsUnavailableError."""
        with self._load_lock:
            if self._model is None:
                prepare_device(self._device, self.threads)
                model = VGG19Features(load_weights(self.weights)).to(self._device)
                if self._device.type == "cuda":
                    model = model.to(memory_format=torch.channels_last)
                self._model = model
            return self._model

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
        """Paint `content` in the style of `styles`.

        `progress` is called on this thread every `options.progress_every` iterations. Setting
        `cancel` raises `Cancelled` within one iteration. Raises OptionsError for inconsistent
        options, OutOfMemoryError when the device runs out of memory.
        """
        opts = _job_options(options or StyleOptions(), styles, init_image)
        model = self.load()
        try:
            budget = self.memory_budget
            if budget is None and opts.tile == "auto":
                budget = free_bytes(self._device)
            job = StyleJob(
                model,
                self._device,
                self._autocast,
                content,
                styles,
                opts,
                init_image,
                progress,
                cancel,
                memory_budget=budget,
            )
            return job.run()
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            if self._device.type == "cuda":
                torch.cuda.empty_cache()
            raise OutOfMemoryError(
                f"out of {self._device.type.upper()} memory at size {opts.size}; try a smaller size"
            ) from None

    def upscale(
        self,
        result: Image.Image,
        content: Image.Image,
        styles: Sequence[Image.Image],
        options: StyleOptions,
        *,
        factor: float = 2.0,
        iterations: int | None = None,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> StyleResult:
        """Paint `result`, a finished image of a job with `options` (its `result.options`: seed filled
        in), again at `factor` times its size: it starts from the upsampled result and spends its
        iterations at the new, larger scales only, with the same seed and look.

        Unless `iterations` is given, each new scale gets the original job's top-scale iterations.
        """
        upscaled = options.upscaled(max(result.size), factor, iterations=iterations)
        return self.stylize(content, styles, upscaled, init_image=result, progress=progress, cancel=cancel)


def _job_options(options: StyleOptions, styles: Sequence[Image.Image], init_image: Image.Image | None) -> StyleOptions:
    opts = options.validated()
    if not styles:
        raise OptionsError("at least one style image is needed")
    if len(styles) > MAX_STYLE_IMAGES:
        raise OptionsError(f"at most {MAX_STYLE_IMAGES} style images, not {len(styles)}")
    if opts.style_weights is not None and len(opts.style_weights) != len(styles):
        raise OptionsError(f"{len(styles)} style image(s) need as many style weights, not {len(opts.style_weights)}")
    if opts.init == "image" and init_image is None:
        raise OptionsError("init 'image' needs an init image")
    if opts.init != "image" and init_image is not None:
        raise OptionsError(f"an init image was given, but init is {opts.init!r}")
    if opts.seed is None:
        opts = replace(opts, seed=secrets.randbits(31))
    return opts
