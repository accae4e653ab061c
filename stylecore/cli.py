"""`stylecore CONTENT STYLE [STYLE ...] -o OUT`: style transfer from the command line.

Exit codes: 0 done, 1 engine failure (e.g. out of memory), 2 bad input or options, 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tqdm import tqdm

from .engine import Engine
from .errors import ImageError, OptionsError, StyleCoreError, UnsupportedImageError, WeightsUnavailableError
from .gallery import BUILTIN_STYLES, BuiltinStyle, builtin_names, find_builtin
from .images import load_image, read_png_text, save_image
from .options import COLOR_MODES, MAX_SIZE, MIN_TILE, OPTIMIZERS, POOLINGS, PRECISIONS, StyleOptions, TileSetting
from .timelapse import encode_timelapse

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PIL import Image

    from .records import Progress

EXIT_BAD_INPUT = 2
#: The PNG text key holding a result's options, so `--upscale` can keep them.
OPTIONS_KEY = "stylecore-options"
#: Frames in a --timelapse animation.
DEFAULT_TIMELAPSE_FRAMES = 48
#: The progress bar's resolution (it shows a share of the estimated time).
BAR_STEPS = 1000


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own message, but one line and our exit code
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


class _ListStyles(argparse.Action):
    """--list-styles: print the built-in styles and exit, before the required arguments are checked."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> NoReturn:
        width = max(len(style.name) for style in BUILTIN_STYLES)
        sys.stdout.write("".join(f"{style.name:<{width}}  {style.title}\n" for style in BUILTIN_STYLES))
        parser.exit(0)


def positive_int(text: str) -> int:
    """argparse type: the message names the flag (StyleOptions would name its own field)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def tile_setting(text: str) -> TileSetting:
    """argparse type for --tile: auto, off or a size in pixels."""
    if text in ("auto", "off"):
        return "auto" if text == "auto" else "off"
    value = int(text)
    if not MIN_TILE <= value <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"must be auto, off or between {MIN_TILE} and {MAX_SIZE}, not {value}")
    return value


def gibibytes(text: str) -> int:
    """argparse type for --memory-budget: GiB (a float) to bytes."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of GiB, not {text}")
    return int(value * 2**30)


def build_parser() -> argparse.ArgumentParser:
    defaults = StyleOptions()
    p = _Parser(
        prog="stylecore",
        description="Paint CONTENT in the style of STYLE image(s) (Gatys et al., VGG-19).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("content", help="the photo to paint")
    p.add_argument(
        "styles",
        nargs="+",
        metavar="STYLE",
        help="style image(s) or built-in style name(s) (--list-styles), blended equally unless --style-weights",
    )
    p.add_argument("--list-styles", action=_ListStyles, help="list the built-in styles and exit")
    p.add_argument("-o", "--output", required=True, help="output file (.png, .jpg or .webp)")
    g = p.add_argument_group("size and schedule")
    g.add_argument(
        "--size",
        type=int,
        help=f"longest side of the output in pixels (default: {defaults.size}; with --upscale, twice the result's)",
    )
    g.add_argument(
        "--iterations",
        type=int,
        help=f"iterations over all scales (default: {defaults.iterations}; with --upscale, the original "
        "job's top-scale iterations for each new scale)",
    )
    g.add_argument(
        "--no-multiscale",
        dest="multiscale",
        action="store_false",
        help="optimise at full size only (slower for the same quality)",
    )
    g.add_argument("--max-seconds", type=float, help="time budget: stop then and keep the best image so far")
    g.add_argument(
        "--upscale",
        metavar="RESULT",
        help="paint RESULT (an earlier output) again at a larger --size, starting from it: only the new "
        "scales run; the seed and options stored in a stylecore PNG are kept",
    )
    g.add_argument(
        "--tile",
        type=tile_setting,
        default=defaults.tile,
        metavar="{auto,off,N}",
        help="optimise scales larger than N px in overlapping tiles, so memory follows the tile, not the "
        "image; auto: only what does not fit the device's free memory",
    )
    g = p.add_argument_group("optimizer")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    g.add_argument(
        "--lr",
        "--learning-rate",
        dest="learning_rate",
        type=float,
        help="learning rate (default: lbfgs 1, adam 10, adagrad 10, sgd 1)",
    )
    g.add_argument("--beta1", type=float, default=defaults.beta1, help="Adam beta1")
    g.add_argument("--beta2", type=float, default=defaults.beta2, help="Adam beta2")
    g.add_argument("--epsilon", type=float, default=defaults.epsilon, help="Adam/Adagrad epsilon")
    g = p.add_argument_group("look")
    g.add_argument("--content-weight", type=float, default=defaults.content_weight)
    g.add_argument(
        "--style-weight",
        type=float,
        default=argparse.SUPPRESS,  # absent unless given, so a built-in's own setting can apply
        help=f"style strength (default: {defaults.style_weight}, or a lone built-in style's own)",
    )
    g.add_argument(
        "--style-weights", type=float, nargs="+", metavar="W", help="blend weight per style image (one per STYLE)"
    )
    g.add_argument("--tv-weight", type=float, default=defaults.tv_weight, help="smoothing")
    g.add_argument(
        "--style-scale",
        type=float,
        default=argparse.SUPPRESS,  # absent unless given, so a built-in's own setting can apply
        help="style image size relative to the output: smaller gives finer strokes "
        f"(default: {defaults.style_scale}, or a lone built-in style's own)",
    )
    g.add_argument(
        "--preserve-colors",
        choices=COLOR_MODES,
        default=defaults.preserve_colors,
        help="keep the photo's colours: luminance-only transfer, or recolour the style",
    )
    g.add_argument(
        "--init",
        default=defaults.init,
        metavar="{content,noise,PATH}",
        help="start from the content, from noise, or from an image file",
    )
    g.add_argument("--seed", type=int, help="random seed (printed when not given)")
    g.add_argument("--pooling", choices=POOLINGS, default=defaults.pooling)
    g.add_argument("--content-layer", default=defaults.content_layer)
    g.add_argument("--style-layers", nargs="+", default=list(defaults.style_layers), metavar="LAYER")
    g = p.add_argument_group("output and hardware")
    g.add_argument(
        "--save-every",
        type=positive_int,
        metavar="N",
        help="also write the image every N iterations, as OUT_0100.png and so on",
    )
    g.add_argument(
        "--timelapse",
        metavar="FILE.webp",
        help=f"also write an animation of the run ({DEFAULT_TIMELAPSE_FRAMES} frames): animated WebP, or "
        "GIF (FILE.gif) when that is smaller",
    )
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    g.add_argument(
        "--memory-budget",
        type=gibibytes,
        metavar="GIB",
        help="memory a job may use, for --tile auto (default: 80%% of what is free)",
    )
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto: bf16 autocast where the CPU or GPU runs bf16 natively, else fp32",
    )
    g.add_argument(
        "--weights",
        default="caffe",
        help="caffe (offline), torchvision (downloads once) or a path to a VGG-19 state dict",
    )
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
    if args.timelapse is not None and Path(args.timelapse).suffix.lower() not in (".webp", ".gif"):
        raise OptionsError(f"--timelapse file must end in .webp or .gif: {args.timelapse}")
    if args.style_weights and len(args.style_weights) != len(args.styles):
        raise OptionsError(f"--style-weights needs {len(args.styles)} value(s), one per style image")
    sources = [_style_source(text) for text in args.styles]
    init_image, options = _options(args, sources)
    content = load_image(args.content)
    styles = [source.load() if isinstance(source, BuiltinStyle) else load_image(source) for source in sources]
    output.parent.mkdir(parents=True, exist_ok=True)
    engine = Engine(
        weights=args.weights, device=args.device, precision=args.precision, memory_budget=args.memory_budget
    )
    engine.load()  # before the progress bar, so a weights error is the only line printed

    # The bar shows the share of the estimated time, not of the iterations: a full-size iteration
    # costs many coarse ones, and the engine's ETA weighs each by its pixels.
    bar = tqdm(total=BAR_STEPS, disable=args.quiet, dynamic_ncols=True, bar_format="{l_bar}{bar}| [{elapsed}{postfix}]")

    def on_progress(p: Progress) -> None:
        done = p.iteration / p.total if p.eta is None else p.elapsed / max(p.elapsed + p.eta, 1e-9)
        left = "" if p.eta is None else f", ~{_duration(p.eta)} left"
        tile = f" tile {p.tile + 1}/{p.tiles}" if p.tiles > 1 else ""
        bar.set_postfix_str(
            f"{p.iteration}/{p.total} it{left}, scale {p.scale + 1}/{p.scales} "
            f"{p.width}x{p.height}{tile} loss {p.loss:.3f}",
            refresh=False,
        )
        bar.update(round(done * BAR_STEPS) - bar.n)
        if p.preview is not None:
            save_image(p.preview, output.with_name(f"{output.stem}_{p.iteration:04d}{output.suffix}"))

    try:
        result = engine.stylize(
            content, styles, options, init_image=init_image, progress=on_progress, cancel=threading.Event()
        )
    finally:
        bar.close()
    save_image(result.image, output, text={OPTIONS_KEY: result.options.to_json()})
    note = " (stopped early at the time budget)" if result.stopped_early else ""
    print(
        f"wrote {output} ({result.image.width}x{result.image.height}) in {result.elapsed:.1f} s, "
        f"{result.iterations} iterations on {result.device}, seed {result.options.seed}{note}",
        file=sys.stderr,
    )
    if args.timelapse is not None:
        animation = encode_timelapse(result.frames)
        path = Path(args.timelapse).with_suffix(f".{animation.extension}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(animation.data)
        print(f"wrote {path} ({animation.frames} frames, {len(animation.data) // 1024} KiB)", file=sys.stderr)
    return 0


def _style_source(text: str) -> Path | BuiltinStyle:
    """A STYLE argument: an existing file (which wins over a built-in of that name), else a built-in."""
    path, builtin = Path(text), find_builtin(text)
    if builtin is not None and not path.is_file():
        return builtin
    if builtin is None and not path.exists():
        raise UnsupportedImageError(
            f"{text}: no such file or built-in style (built-ins: {', '.join(builtin_names())})."
        )
    return path  # load_image names what is wrong with it (a directory, unreadable, not an image)


def _options(
    args: argparse.Namespace, sources: Sequence[Path | BuiltinStyle]
) -> tuple[Image.Image | None, StyleOptions]:
    """The job's options and init image from the command line (and, upscaling, from the result's PNG).

    A lone built-in style brings its own settings, where it has them, for the options not given here.
    """
    init_image = None
    init = args.init
    if init not in ("content", "noise"):
        init_image = load_image(init)
        init = "image"
    options = StyleOptions(
        size=args.size or StyleOptions.size,
        iterations=args.iterations or StyleOptions.iterations,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        beta1=args.beta1,
        beta2=args.beta2,
        epsilon=args.epsilon,
        content_weight=args.content_weight,
        style_weights=tuple(args.style_weights) if args.style_weights else None,
        tv_weight=args.tv_weight,
        content_layer=args.content_layer,
        style_layers=tuple(args.style_layers),
        preserve_colors=args.preserve_colors,
        init=init,
        seed=args.seed,
        pooling=args.pooling,
        multiscale=args.multiscale,
    )
    if len(sources) == 1 and isinstance(sources[0], BuiltinStyle):
        options = sources[0].apply_defaults(options)
    # What the command line gives wins over the painting's own settings.
    options = options.with_values(
        **{name: getattr(args, name) for name in ("style_scale", "style_weight") if name in args}
    )
    if args.upscale is not None:
        if init_image is not None:
            raise OptionsError("--upscale starts from its RESULT: leave out --init")
        init_image = load_image(args.upscale)
        stored = read_png_text(args.upscale).get(OPTIONS_KEY)
        if stored is not None:
            options = StyleOptions.from_json(stored)  # the original job's seed and look
        result_side = max(init_image.size)
        factor = args.size / result_side if args.size else 2.0
        options = options.upscaled(result_side, factor, iterations=args.iterations)
    # How to run, never what to paint: always from this command line.
    options = replace(
        options,
        max_seconds=args.max_seconds,
        tile=args.tile,
        progress_every=1,
        preview_every=args.save_every,
        timelapse_frames=DEFAULT_TIMELAPSE_FRAMES if args.timelapse else 0,
    ).validated()
    return init_image, options


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


if __name__ == "__main__":
    sys.exit(main())
