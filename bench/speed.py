"""Seconds per iteration against pastiche: single scale, L-BFGS, same images and size, same run.
Both tools' first iteration (one-off costs) is run but not timed.

    python -m bench.speed [--size 256] [--iterations 15] [--rounds 2] [--device cpu]

Target: ours <= 0.9x pastiche's seconds per iteration.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from stylecore import Engine, Progress, StyleOptions, load_image

from .pastiche_runner import run_pastiche

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


#: Iterations each tool runs before the timed ones: the first pays one-off costs (allocations, kernels).
WARMUP = 1


def ours_seconds_per_iteration(engine: Engine, size: int, iterations: int) -> float:
    """Time from the end of the warm-up iterations to the last, so set-up and warm-up are not counted."""
    marks: dict[int, float] = {}

    def progress(p: Progress) -> None:
        if engine.device.startswith("cuda"):
            torch.cuda.synchronize()
        marks[p.iteration] = time.perf_counter()

    options = StyleOptions(size=size, iterations=iterations + WARMUP, multiscale=False, seed=0, progress_every=1)
    engine.stylize(
        load_image(EXAMPLES / "cat.png"), [load_image(EXAMPLES / "starry_night.jpg")], options, progress=progress
    )
    return (marks[iterations + WARMUP] - marks[WARMUP]) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the two this many times; medians reported")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    # Our default precision ("auto": bf16 where the hardware has it) and plain fp32, for reference.
    engines = {"default": Engine(device=args.device), "fp32": Engine(device=args.device, precision="fp32")}
    times: dict[str, list[float]] = {name: [] for name in (*engines, "pastiche")}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for name, engine in engines.items():
                times[name].append(ours_seconds_per_iteration(engine, args.size, args.iterations))
            run = run_pastiche(
                EXAMPLES / "cat.png",
                EXAMPLES / "starry_night.jpg",
                size=args.size,
                steps=args.iterations,
                device=args.device,
                workdir=Path(tmp),
                warmup=WARMUP,
            )
            times["pastiche"].append(run.loop_seconds / run.steps)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"device {args.device}, {torch.get_num_threads()} threads, size {args.size}, L-BFGS, single scale")
    for name, values in times.items():
        label = f"stylecore {name} ({engines[name].precision})" if name in engines else "pastiche"
        rounds = ", ".join(f"{x * 1000:.0f}" for x in values)
        print(f"  {label:28} {medians[name] * 1000:8.1f} ms/iteration  (rounds: {rounds})")
    for name in engines:
        print(f"  ratio stylecore {name}/pastiche: {medians[name] / medians['pastiche']:.3f}  (target <= 0.9)")


if __name__ == "__main__":
    main()
