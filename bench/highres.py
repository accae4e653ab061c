"""Large outputs: peak memory and time per size, and tiled against untiled at a size both fit.

    python -m bench.highres [--device cpu] [--sizes 1024 2048 4096] [--iterations 14]
                            [--memory-budget 6] [--compare 1024] [--compare-iterations 30]
                            [--compare-tile N] [--threads N] [--out DIR]

Each run is a fresh process, so its peak is its own: peak RSS on the CPU (the whole process, PyTorch
included), torch.cuda.max_memory_allocated on CUDA. Sizes run with the default multiscale schedule
and `--tile auto` under `--memory-budget` GiB (what an 8 GB host leaves a job). The comparison runs
the same job untiled and in tiles (2x2 unless --compare-tile) and scores both with the referee; it
prints wall and CPU time (on a shared machine run it with --threads 1 and read the CPU-time ratio).

Goals: a 4096 px job within 24 GB of GPU memory and 8 GB of RAM; tiled time <= 1.3x untiled, with
referee errors within 5%.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from stylecore import Engine, StyleOptions, load_image
from stylecore.cli import tile_setting

from .referee import Referee

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONTENT, STYLE = EXAMPLES / "cat.png", EXAMPLES / "starry_night.jpg"


def child(size: int, tile: str, iterations: int, device: str, budget: float | None, threads: int, out: str) -> None:
    """One job in this process; prints a JSON line with its time and peak memory."""
    engine = Engine(device=device, memory_budget=int(budget * 2**30) if budget else None, threads=threads or None)
    engine.load()
    tiles: set[int] = set()
    options = StyleOptions(size=size, iterations=iterations, seed=0, tile=tile_setting(tile))
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start, cpu_start = time.perf_counter(), time.process_time()
    result = engine.stylize(load_image(CONTENT), [load_image(STYLE)], options, progress=lambda p: tiles.add(p.tiles))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak = (
        torch.cuda.max_memory_allocated()
        if device.startswith("cuda")
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    result.image.save(out)
    print(
        json.dumps(
            {
                "size": size,
                "tile": tile,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_gib": peak / 2**30,
                "tiles": max(tiles),
                "iterations": result.iterations,
            }
        )
    )


def run(
    size: int, tile: str, iterations: int, device: str, budget: float | None, out: Path, threads: int = 0
) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "bench.highres",
        "_child",
        str(size),
        tile,
        str(iterations),
        device,
        str(budget or 0),
        str(threads),
        str(out),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{size} px ({tile}) failed:\n{proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        size, tile, iterations, device, budget, threads, out = sys.argv[2:9]
        child(int(size), tile, int(iterations), device, float(budget) or None, int(threads), out)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="*", default=[1024, 2048, 4096], help="none: only the comparison")
    parser.add_argument("--iterations", type=int, default=14, help="per job, over all scales")
    parser.add_argument("--memory-budget", type=float, default=6.0, help="GiB, for tile auto")
    parser.add_argument("--compare", type=int, default=1024, help="size of the tiled/untiled comparison; 0: none")
    parser.add_argument("--compare-iterations", type=int, default=30)
    parser.add_argument("--compare-tile", type=int, help="tile size of the tiled run (default: half the size, 2x2)")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads per job (0: all). With 1 on a shared machine, the CPU-time ratio is the one to read: "
        "other processes change the wall time, hardly the work",
    )
    parser.add_argument("--out", type=Path, default=Path("out/highres"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"device {args.device}, {torch.get_num_threads()} threads, memory budget {args.memory_budget} GiB")

    print(f"\n[sizes] default schedule, {args.iterations} iterations, tile auto")
    for size in args.sizes:
        r = run(size, "auto", args.iterations, args.device, args.memory_budget, args.out / f"auto_{size}.png")
        print(
            f"  {size:5} px: {r['seconds']:8.1f} s, peak {r['peak_gib']:5.2f} GiB, {r['tiles']:.0f} tile(s) at "
            f"the top scale, {r['iterations']:.0f} iterations"
        )

    if args.compare:
        size, iterations, tile = args.compare, args.compare_iterations, args.compare_tile or args.compare // 2
        print(f"\n[tiled vs untiled] {size} px, {iterations} iterations, tiles of {tile} px at the top scale")
        untiled = run(size, "off", iterations, args.device, None, args.out / f"untiled_{size}.png", args.threads)
        tiled = run(size, str(tile), iterations, args.device, None, args.out / f"tiled_{size}.png", args.threads)
        referee = Referee()
        content, style = load_image(CONTENT), load_image(STYLE)
        scores = {
            name: referee.score(load_image(args.out / f"{name}_{size}.png"), content, style)
            for name in ("untiled", "tiled")
        }
        for name, r in (("untiled", untiled), ("tiled", tiled)):
            s = scores[name]
            print(
                f"  {name:8} {r['seconds']:8.1f} s ({r['cpu_seconds']:.1f} s CPU), peak {r['peak_gib']:5.2f} GiB, "
                f"{r['tiles']:.0f} tile(s), "
                f"content {s.content_error:.4f}, style {s.style_error:.4f}"
            )
        print(
            f"  ratio tiled/untiled: time {tiled['seconds'] / untiled['seconds']:.2f}, "
            f"CPU time {tiled['cpu_seconds'] / untiled['cpu_seconds']:.2f} (goal <= 1.3), "
            f"content {scores['tiled'].content_error / scores['untiled'].content_error:.3f}, "
            f"style {scores['tiled'].style_error / scores['untiled'].style_error:.3f} (goal <= 1.05)"
        )


if __name__ == "__main__":
    main()
