"""Device choice and per-device set-up (threads, cuDNN, autocast)."""

from __future__ import annotations

import contextlib
import os

import torch

from .errors import OptionsError
from .options import PRECISIONS


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; an explicit device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise OptionsError(f"unknown device {name!r} (try auto, cpu, cuda, cuda:1 or mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise OptionsError(f"device {name!r} asked for, but CUDA is not available here")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise OptionsError(f"device {name!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise OptionsError("device 'mps' asked for, but MPS is not available here")
    if device.type not in ("cpu", "cuda", "mps"):
        raise OptionsError(f"unsupported device {name!r}")
    return device


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for full fp32.

    ``auto`` uses bf16 where the hardware runs it natively: CUDA GPUs that support it, and CPUs with
    bf16 instructions (oneDNN); bench/gpu.py and bench/quality.py measure that quality holds. Elsewhere fp32.
    """
    if precision not in PRECISIONS:
        raise OptionsError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if _native_bf16(device) else None
    if device.type == "mps":
        raise OptionsError("bf16 autocast is not supported on MPS; use fp32")
    return torch.bfloat16


def _native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    if device.type == "cpu":
        available = torch.backends.mkldnn.is_available()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
        return available and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def prepare_device(device: torch.device, threads: int | None = None) -> None:
    """Settings that belong to whoever owns the device: called once per Engine, on the thread that runs
    its jobs (the CPU thread count is per thread). `threads` caps the CPU threads (several CPU workers
    on one machine); None uses every core this process may run on."""
    if device.type == "cuda":
        # Sizes repeat across iterations of a scale, so picking the fastest conv algorithms pays off.
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    elif device.type == "cpu":
        if threads is not None:
            torch.set_num_threads(threads)
            return
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if torch.get_num_threads() < cores:
            torch.set_num_threads(cores)


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[None]:
    if dtype is None:
        return contextlib.nullcontext()
    # No weight-cast cache: it is per-call state that CUDA graph capture cannot hold.
    return torch.autocast(device_type=device.type, dtype=dtype, cache_enabled=False)


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
