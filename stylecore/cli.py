"""`stylecore CONTENT STYLE [STYLE ...] -o OUT`: style transfer from the command line.

Exit codes: 0 done, 1 engine failure (e.g. out of memory), 2 bad input or options, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tqdm import tqdm

from .engine import Engine
from .errors import ImageError, OptionsError, StyleCoreError, WeightsUnavailableError
from .images import load_image, save_image
from .options import COLOR_MODES, OPTIMIZERS, POOLINGS, PRECISIONS, StyleOptions

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .records import Progress

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own message, but one line and our exit code
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    """argparse type: the message names the flag (StyleOptions would name its own field)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    defaults = StyleOptions()
    p = _Parser(prog="stylecore", description="Paint CONTENT in the style of STYLE image(s) (Gatys et al., VGG-19).",
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("content", help="the photo to paint")
    p.add_argument("styles", nargs="+", metavar="STYLE", help="style image(s), blended equally unless --style-weights")
    p.add_argument("-o", "--output", required=True, help="output file (.png, .jpg or .webp)")
    g = p.add_argument_group("size and schedule")
    g.add_argument("--size", type=int, default=defaults.size, help="longest side of the output in pixels")
    g.add_argument("--iterations", type=int, default=defaults.iterations, help="iterations over all scales")
    g.add_argument("--no-multiscale", dest="multiscale", action="store_false",
                   help="optimise at full size only (slower for the same quality)")
    g.add_argument("--max-seconds", type=float, help="time budget: stop then and keep the best image so far")
    g = p.add_argument_group("optimizer")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    g.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float,
                   help="learning rate (default: lbfgs 1, adam 10, adagrad 10, sgd 1)")
    g.add_argument("--beta1", type=float, default=defaults.beta1, help="Adam beta1")
    g.add_argument("--beta2", type=float, default=defaults.beta2, help="Adam beta2")
    g.add_argument("--epsilon", type=float, default=defaults.epsilon, help="Adam/Adagrad epsilon")
    g = p.add_argument_group("look")
    g.add_argument("--content-weight", type=float, default=defaults.content_weight)
    g.add_argument("--style-weight", type=float, default=defaults.style_weight, help="style strength")
    g.add_argument("--style-weights", type=float, nargs="+", metavar="W",
                   help="blend weight per style image (one per STYLE)")
    g.add_argument("--tv-weight", type=float, default=defaults.tv_weight, help="smoothing")
    g.add_argument("--style-scale", type=float, default=defaults.style_scale,
                   help="style image size relative to the output: smaller gives finer strokes")
    g.add_argument("--preserve-colors", choices=COLOR_MODES, default=defaults.preserve_colors,
                   help="keep the photo's colours: luminance-only transfer, or recolour the style")
    g.add_argument("--init", default=defaults.init, metavar="{content,noise,PATH}",
                   help="start from the content, from noise, or from an image file")
    g.add_argument("--seed", type=int, help="random seed (printed when not given)")
    g.add_argument("--pooling", choices=POOLINGS, default=defaults.pooling)
    g.add_argument("--content-layer", default=defaults.content_layer)
    g.add_argument("--style-layers", nargs="+", default=list(defaults.style_layers), metavar="LAYER")
    g = p.add_argument_group("output and hardware")
    g.add_argument("--save-every", type=positive_int, metavar="N",
                   help="also write the image every N iterations, as OUT_0100.png and so on")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    g.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: bf16 autocast where the CPU or GPU runs bf16 natively, else fp32")
    g.add_argument("--weights", default="caffe",
                   help="caffe (offline), torchvision (downloads once) or a path to a VGG-19 state dict")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (ImageError, OptionsError, WeightsUnavailableError) as exc:
        print(f"stylecore: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StyleCoreError as exc:
        print(f"stylecore: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stylecore: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise OptionsError(f"output file must end in .png, .jpg, .jpeg or .webp: {output}")
    init_image = None
    init = args.init
    if init not in ("content", "noise"):
        init_image = load_image(init)
        init = "image"
    options = StyleOptions(
        size=args.size, iterations=args.iterations, optimizer=args.optimizer, learning_rate=args.learning_rate,
        beta1=args.beta1, beta2=args.beta2, epsilon=args.epsilon, content_weight=args.content_weight,
        style_weight=args.style_weight, style_weights=tuple(args.style_weights) if args.style_weights else None,
        tv_weight=args.tv_weight, style_scale=args.style_scale, content_layer=args.content_layer,
        style_layers=tuple(args.style_layers), preserve_colors=args.preserve_colors, init=init, seed=args.seed,
        pooling=args.pooling, multiscale=args.multiscale, max_seconds=args.max_seconds,
        progress_every=1, preview_every=args.save_every,
    ).validated()
    if args.style_weights and len(args.style_weights) != len(args.styles):
        raise OptionsError(f"--style-weights needs {len(args.styles)} value(s), one per style image")
    content = load_image(args.content)
    styles = [load_image(path) for path in args.styles]
    output.parent.mkdir(parents=True, exist_ok=True)
    engine = Engine(weights=args.weights, device=args.device, precision=args.precision)
    engine.load()  # before the progress bar, so a weights error is the only line printed

    bar = tqdm(total=options.iterations, unit="it", disable=args.quiet, dynamic_ncols=True)

    def on_progress(p: Progress) -> None:
        bar.total = p.total
        bar.set_postfix_str(f"scale {p.scale + 1}/{p.scales} {p.width}x{p.height} loss {p.loss:.3f}", refresh=False)
        bar.update(p.iteration - bar.n)
        if p.preview is not None:
            save_image(p.preview, output.with_name(f"{output.stem}_{p.iteration:04d}{output.suffix}"))

    try:
        result = engine.stylize(content, styles, options, init_image=init_image, progress=on_progress,
                                cancel=threading.Event())
    finally:
        bar.close()
    save_image(result.image, output)
    note = " (stopped early at the time budget)" if result.stopped_early else ""
    print(f"wrote {output} ({result.image.width}x{result.image.height}) in {result.elapsed:.1f} s, "
          f"{result.iterations} iterations on {result.device}, seed {result.options.seed}{note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
