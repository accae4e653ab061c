"""Quality at equal wall time against pastiche, scored by the referee (bench/referee.py).

pastiche runs N steps with its defaults; stylecore runs its defaults with the same wall time as a
budget (`max_seconds` = pastiche's optimisation time; our own set-up counts against us).

    python -m bench.quality [--size 384] [--steps 30] [--device cpu] [--out DIR]

Target: style error <= 0.8x pastiche's with content error <= 1.1x pastiche's.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from stylecore import Engine, StyleOptions, load_image

from .pastiche_runner import run_pastiche
from .referee import Referee

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PAIRS = (("cat.png", "starry_night.jpg"), ("cat.png", "woman_with_hat.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--steps", type=int, default=30, help="pastiche's steps; sets the wall time")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, help="keep the images here")
    args = parser.parse_args()

    referee = Referee()
    engine = Engine(device=args.device)
    engine.load()
    print(f"device {args.device}, size {args.size}, pastiche {args.steps} L-BFGS steps; equal wall time")
    print(f"{'pair':34} {'':9} {'seconds':>8} {'content err':>12} {'style err':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for content_name, style_name in PAIRS:
            content, style = load_image(EXAMPLES / content_name), load_image(EXAMPLES / style_name)
            theirs = run_pastiche(
                EXAMPLES / content_name,
                EXAMPLES / style_name,
                size=args.size,
                steps=args.steps,
                device=args.device,
                workdir=Path(tmp),
            )
            budget = theirs.loop_seconds
            ours = engine.stylize(
                content, [style], StyleOptions(size=args.size, iterations=100_000, max_seconds=budget, seed=0)
            )
            label = f"{Path(content_name).stem}+{Path(style_name).stem}"
            theirs.image.save(out_dir / f"{label}_pastiche.png")
            ours.image.save(out_dir / f"{label}_stylecore.png")
            s_theirs = referee.score(theirs.image, content, style)
            s_ours = referee.score(ours.image, content, style)
            print(
                f"{label:34} {'pastiche':9} {budget:8.1f} {s_theirs.content_error:12.4f} {s_theirs.style_error:10.4f}"
            )
            print(
                f"{'':34} {'stylecore':9} {ours.elapsed:8.1f} {s_ours.content_error:12.4f} {s_ours.style_error:10.4f}"
                f"   ({ours.iterations} iterations)"
            )
            print(
                f"{'':34} {'ratio':9} {ours.elapsed / budget:8.2f} "
                f"{s_ours.content_error / s_theirs.content_error:12.3f} "
                f"{s_ours.style_error / s_theirs.style_error:10.3f}"
                "   (targets: content <= 1.1, style <= 0.8)"
            )


if __name__ == "__main__":
    main()
