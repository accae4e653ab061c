"""CUDA measurements: ms per iteration at 512² (fp32 vs autocast), pastiche on the same GPU, peak
memory at 512/1024/2048, bf16-vs-fp32 quality by the referee, and the typed out-of-memory path.

    python -m bench.gpu [--iterations 50]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import torch
from PIL import Image

from stylecore import Engine, OutOfMemoryError, Progress, StyleOptions, load_image

from .pastiche_runner import run_pastiche
from .referee import Referee

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: Iterations each tool runs before the timed ones: cudnn.benchmark picks algorithms during the first.
WARMUP = 10


def square(image: Image.Image, side: int) -> Image.Image:
    return image.resize((side, side), Image.Resampling.LANCZOS)


def ms_per_iteration(
    engine: Engine, content: Image.Image, style: Image.Image, iterations: int, optimizer: str = "lbfgs"
) -> float:
    marks: dict[int, float] = {}

    def progress(p: Progress) -> None:
        torch.cuda.synchronize()
        marks[p.iteration] = time.perf_counter()

    options = StyleOptions(
        size=max(content.size),
        iterations=iterations + WARMUP,
        multiscale=False,
        seed=0,
        progress_every=1,
        optimizer=optimizer,
    )
    engine.stylize(content, [style], options, progress=progress)
    return (marks[iterations + WARMUP] - marks[WARMUP]) / iterations * 1000


def peak_memory_mib(engine: Engine, content: Image.Image, style: Image.Image, side: int) -> tuple[float, float]:
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    engine.stylize(square(content, side), [style], StyleOptions(size=side, iterations=3, multiscale=False, seed=0))
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()
    assert torch.cuda.is_available(), "needs a CUDA GPU"
    print(f"GPU: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    content, style = load_image(EXAMPLES / "cat.png"), load_image(EXAMPLES / "starry_night.jpg")
    c512 = square(content, 512)
    engines = {p: Engine(device="cuda", precision=p) for p in ("fp32", "bf16")}
    default = Engine(device="cuda")
    print(f"default precision on this GPU: {default.precision}")

    print("\n[speed] 512x512, single scale, ms per iteration (after warm-up)")
    results = {}
    for name, engine in engines.items():
        for optimizer in ("lbfgs", "adam"):
            results[(name, optimizer)] = ms_per_iteration(engine, c512, style, args.iterations, optimizer)
            print(f"  stylecore {name:5} {optimizer:6} {results[(name, optimizer)]:7.2f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        cpath = Path(tmp) / "c512.png"
        c512.save(cpath)
        run = run_pastiche(
            cpath,
            EXAMPLES / "starry_night.jpg",
            size=512,
            steps=args.iterations,
            device="cuda",
            workdir=Path(tmp),
            warmup=WARMUP,
        )
    pastiche_ms = run.loop_seconds / run.steps * 1000
    print(f"  pastiche  fp32  lbfgs  {pastiche_ms:7.2f} ms")
    print(
        f"  ratios vs pastiche: fp32 {results[('fp32', 'lbfgs')] / pastiche_ms:.3f}, "
        f"bf16 {results[('bf16', 'lbfgs')] / pastiche_ms:.3f}"
    )

    print("\n[memory] peak allocated, 3 iterations, default precision")
    for side in (512, 1024, 2048):
        mib, seconds = peak_memory_mib(default, content, style, side)
        print(f"  {side}x{side}: {mib:8.0f} MiB  ({seconds:.1f} s incl. targets)")

    print("\n[quality] referee errors after 300 default iterations at 512 (multiscale), per precision")
    referee = Referee()
    for name, engine in engines.items():
        start = time.perf_counter()
        result = engine.stylize(content, [style], StyleOptions(size=512, iterations=300, seed=0))
        torch.cuda.synchronize()
        score = referee.score(result.image, content, style)
        print(
            f"  {name:5} content {score.content_error:.4f}  style {score.style_error:.4f}  "
            f"({time.perf_counter() - start:.2f} s)"
        )

    print("\n[oom] memory capped: typed error, then the engine serves the next job")
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(0.002)
    try:
        default.stylize(content, [style], StyleOptions(size=2048, iterations=2, multiscale=False))
        print("  no OOM raised (cap too loose)")
    except OutOfMemoryError as exc:
        print(f"  OutOfMemoryError: {exc}")
    torch.cuda.set_per_process_memory_fraction(1.0)
    ok = default.stylize(content, [style], StyleOptions(size=256, iterations=3))
    print(f"  next job fine: {ok.image.size}")

    print("\n[cancel] on CUDA")
    cancel = threading.Event()
    seen = []

    def progress(p: Progress) -> None:
        seen.append(p.iteration)
        if p.iteration == 5:
            cancel.set()

    try:
        default.stylize(
            content, [style], StyleOptions(size=512, iterations=500, progress_every=1), progress=progress, cancel=cancel
        )
    except Exception as exc:  # noqa: BLE001 - report whatever happened
        print(f"  {type(exc).__name__} after iteration {seen[-1]}")


if __name__ == "__main__":
    main()
