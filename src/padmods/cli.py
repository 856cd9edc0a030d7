"""The ``padmods`` command line: list the padding modes, run the two padding experiments, report a model's padding.

Usage::

    padmods modes
    padmods position [--modes zeros,circular] [--size 10] [--seed 0] [--json] [--plot FILE.png]
    padmods impact [--modes zeros,reflect] [--size 28] [--layers 5] [--padding same] [--json] [--plot FILE.png]
    padmods report MODULE:MODEL --input-shape 1,3,224,224 [--suggest 3] [--json]
    padmods neurons MODULE:MODEL --inputs FILE.pt [--threshold 0.9] [--intervene [MODE]] [--json]

Bad arguments end the program with exit status 2 and one line on stderr. ``--plot`` needs
matplotlib (``pip install 'padmods[plot]'``), imported only when ``--plot`` is given.

The experiments are many tiny tensor operations, which intra-op threads only slow down (several
times over on a busy machine), so the commands run torch on one thread unless ``OMP_NUM_THREADS``
is set; :func:`main` restores torch's thread count when it returns.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import torch

import padmods
from padmods.analysis import conv_stack, impact_map, position_leak
from padmods.analysis.impact import ImpactOverflowWarning
from padmods.analysis.position import PositionLeakResult
from padmods.cli_neurons import add_neurons_parser, neurons_command
from padmods.cli_report import input_shape as _input_shape
from padmods.cli_report import report_command as _report_command

__all__ = ["main"]

_PROG = "padmods"


class _UsageError(Exception):
    """A bad command-line argument; ``main`` prints it as one line and returns 2."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(f"{prog}: error: {' '.join(message.split())}")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, with no usage block and no ``sys.exit``."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(self.prog, message)


# ---- argument types ------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _mode_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated mode names, got {text!r}")
    available = padmods.available()
    unknown = [name for name in names if name not in available]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown mode {unknown[0]!r}; available modes: {', '.join(available)}")
    return list(dict.fromkeys(names))


def _build_parser() -> _Parser:
    parser = _Parser(prog=_PROG, description="Padding modes for convolutions: list them and run the experiments.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {padmods.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    commands.add_parser("modes", help="list the padding modes, built-in and from plugins")

    modes_help = "comma-separated padding modes (default: every available mode that can pad the image size)"
    json_help = "print the results as JSON instead of a table"
    plot_help = (
        "also save a figure to FILE: .png, .pdf, .svg, ... (PNG without a suffix; in a directory, "
        "padmods-COMMAND.png); needs matplotlib: pip install 'padmods[plot]'"
    )

    position = commands.add_parser(
        "position",
        help="Experiment 1: can a one-layer, summed conv find the top-left pixel?",
        description="Train y = conv(x).sum() to tell the top-left one-hot image from all others.",
    )
    position.add_argument("--modes", type=_mode_list, help=modes_help)
    position.add_argument("--size", type=_positive_int, default=10, help="image height and width (default: 10)")
    position.add_argument("--kernel-size", type=_positive_int, default=3, help="kernel size (default: 3)")
    position.add_argument("--steps", type=_positive_int, default=150, help="Adam steps (default: 150)")
    position.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate (default: 0.1)")
    position.add_argument("--seed", type=_int, default=0, help="seed of the weight initialisation (default: 0)")
    position.add_argument("--json", action="store_true", help=json_help)
    position.add_argument("--plot", metavar="FILE", help=plot_help)

    impact = commands.add_parser(
        "impact",
        help="Experiment 2: how much each input pixel affects the output of an all-ones conv stack",
        description="Impact map of a stack of all-ones convolutions for each padding mode.",
    )
    impact.add_argument("--modes", type=_mode_list, help=modes_help)
    impact.add_argument("--size", type=_positive_int, default=28, help="image height and width (default: 28)")
    impact.add_argument("--layers", type=_positive_int, default=5, help="number of conv layers (default: 5)")
    impact.add_argument("--kernel-size", type=_positive_int, default=3, help="kernel size (default: 3)")
    impact.add_argument("--padding", choices=("same", "valid"), default="same", help="padding (default: same)")
    impact.add_argument("--method", choices=("exact", "gradient"), default="exact", help="(default: exact)")
    impact.add_argument("--json", action="store_true", help=json_help)
    impact.add_argument("--plot", metavar="FILE", help=plot_help)

    report = commands.add_parser(
        "report",
        help="which padding each convolution of a model reads, and which it drops",
        description="Run MODEL once on zeros of --input-shape and list each convolution's padding: "
        "what its outputs read, and what they never read (a blind spot).",
    )
    report.add_argument("model", metavar="MODEL", help="module:attribute or module:factory()")
    report.add_argument("--input-shape", type=_input_shape, required=True, metavar="N,C,H,W", help="the input's shape")
    report.add_argument(
        "--suggest", type=_positive_int, metavar="N", help="also name the N nearest sizes per axis that drop no padding"
    )
    report.add_argument("--json", action="store_true", help=json_help)
    add_neurons_parser(commands)
    return parser


# ---- commands ------------------------------------------------------------------------------------
def _first_doc_line(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


def _modes_command(args: argparse.Namespace) -> int:
    rows = []
    for name in padmods.available():
        dims = padmods.registry.dimensions(name)
        cls = padmods.get(name, 2 if 2 in dims else dims[0])
        rows.append(
            (name, f"{cls.__module__}.{cls.__qualname__}", " ".join(f"{d}-D" for d in dims), _first_doc_line(cls))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for name, qualname, dims_text, doc in rows:
        print(f"{name:<{widths[0]}}  {qualname:<{widths[1]}}  {dims_text:<{widths[2]}}  {doc}".rstrip())
    return 0


@dataclass(frozen=True)
class _Plot:
    """Where ``--plot`` saves the figure, in which format, with matplotlib's ``Figure`` class."""

    figure_class: Any
    path: Path
    format: str


def _plot_target(args: argparse.Namespace) -> _Plot | None:
    """Check ``--plot`` before any work: matplotlib, the file name, its format, and that it can be written.

    A directory gets a file named after the command inside it (``padmods-impact.png``); a name
    without a suffix gets a PNG under exactly that name.
    """
    if args.plot is None:
        return None
    prog = f"{_PROG} {args.command}"
    if not args.plot.strip():
        raise _UsageError(prog, f"argument --plot: expected a file name, got {args.plot!r}")
    try:
        from matplotlib.backend_bases import FigureCanvasBase
        from matplotlib.figure import Figure
    except ImportError:
        raise _UsageError(prog, "--plot needs matplotlib; install it with: pip install 'padmods[plot]'") from None
    path = Path(args.plot).expanduser()
    if path.is_dir():
        path = path / f"{_PROG}-{args.command}.png"
    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = path.suffix[1:].lower()
    if suffix and suffix not in formats:
        raise _UsageError(
            prog,
            f"argument --plot: cannot save a figure as {path.suffix!r} ({str(path)!r}); "
            f"use one of {', '.join('.' + name for name in sorted(formats))}",
        )
    existed = path.exists()
    try:
        with path.open("ab"):  # appends nothing: only checks that the file can be written
            pass
    except OSError as error:
        raise _UsageError(prog, f"argument --plot: cannot write {str(path)!r}: {error.strerror}") from None
    if not existed:
        path.unlink()
    return _Plot(Figure, path, suffix or "png")


def _figure(plot: _Plot, rows: int, cols: int) -> Any:
    return plot.figure_class(figsize=(2.6 * cols, 2.4 * rows), layout="constrained")


def _save(figure: Any, plot: _Plot, args: argparse.Namespace) -> None:
    try:
        figure.savefig(plot.path, dpi=100, format=plot.format)
    except (OSError, ValueError) as error:
        raise _UsageError(f"{_PROG} {args.command}", f"cannot save the figure to {str(plot.path)!r}: {error}") from None
    if str(plot.path) != str(Path(args.plot).expanduser()):  # a name of our choosing: say which
        print(f"{_PROG} {args.command}: saved the figure to {str(plot.path)!r}", file=sys.stderr)


def _strict_json(payload: Any, prog: str, hint: str) -> str:
    """``payload`` as strict JSON (no NaN or Infinity); a non-finite number is an error that says where."""
    try:
        return json.dumps(payload, indent=2, allow_nan=False)
    except ValueError:
        where, value = _first_non_finite(payload, "")
        raise _UsageError(prog, f"the result holds {value} at {where}, which JSON cannot represent; {hint}") from None


def _first_non_finite(value: Any, where: str) -> tuple[str, float]:
    if isinstance(value, float) and not math.isfinite(value):
        return where, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_non_finite(item, f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]")
        if found[0]:
            return found
    return "", 0.0


def _position_plot(plot: _Plot, results: list[PositionLeakResult], args: argparse.Namespace) -> None:
    figure = _figure(plot, 2, len(results))
    axes = figure.subplots(2, len(results), squeeze=False)
    for column, result in enumerate(results):
        top, bottom = axes[0][column], axes[1][column]
        low, high = float(result.scores.min()), float(result.scores.max())
        if high - low <= result.threshold:  # equal up to rounding: show it flat, not the rounding noise
            low, high = (low + high) / 2 - 1.0, (low + high) / 2 + 1.0
        image = top.imshow(result.scores.numpy(), cmap="viridis", vmin=low, vmax=high)
        top.set_title(f"{result.mode}\nacc {result.balanced_accuracy:.3f}", fontsize=9)
        figure.colorbar(image, ax=top, shrink=0.8)
        kernel = bottom.imshow(result.kernel[0, 0].numpy(), cmap="RdBu_r")
        bottom.set_title("kernel (image tap)", fontsize=8)
        figure.colorbar(kernel, ax=bottom, shrink=0.8)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    figure.suptitle("Score of the white pixel at each position, and the trained kernel", fontsize=10)
    _save(figure, plot, args)


def _default_modes(prog: str, size: int, kernel_size: int, padding: str) -> list[str]:
    """Every registered 2-D mode that can pad a ``size`` x ``size`` image; the others named on stderr.

    A mode the user asks for by name is run (and fails with its own message) as it is; only the
    default list leaves out what cannot work at this size, e.g. ``'spherical'`` on an odd width.
    """
    modes = []
    probe = torch.zeros(1, 1, size, size)
    for mode in padmods.available(dim=2):
        try:
            with torch.no_grad():
                padmods.create(mode, 1, 1, kernel_size, padding=padding)(probe)
        except ValueError as error:
            print(f"{prog}: leaving out {mode!r} at size {size}: {error}", file=sys.stderr)
            continue
        modes.append(mode)
    return modes


def _position_command(args: argparse.Namespace) -> int:
    if args.size < 2:
        raise _UsageError(f"{_PROG} position", f"--size must be at least 2, got {args.size}")
    plot = _plot_target(args)
    modes = args.modes or _default_modes(f"{_PROG} position", args.size, args.kernel_size, "same")
    results = [
        position_leak(mode, size=args.size, kernel_size=args.kernel_size, steps=args.steps, lr=args.lr, seed=args.seed)
        for mode in modes
    ]
    if args.json:
        payload = [
            {
                "mode": result.mode,
                "balanced_accuracy": result.balanced_accuracy,
                "margin": result.margin,
                "final_loss": float(result.loss_history[-1]),
                "settings": {key: value for key, value in result.settings.items() if key != "mode"},
                "scores": result.scores.tolist(),
                "kernel": result.kernel.tolist(),
                "bias": None if result.bias is None else result.bias.tolist(),
            }
            for result in results
        ]
        print(_strict_json(payload, f"{_PROG} position", "the training diverged: try a smaller --lr"))
    else:
        width = max(len("mode"), *(len(str(result.mode)) for result in results))
        print(f"{'mode':<{width}}  {'balanced accuracy':>17}  {'margin':>9}")
        for result in results:
            print(f"{result.mode!s:<{width}}  {result.balanced_accuracy:>17.3f}  {result.margin:>9.4f}")
    if plot is not None:
        _position_plot(plot, results, args)
    return 0


def _impact_summary(mode: str, impact: torch.Tensor) -> dict[str, Any]:
    height, width = impact.shape
    centre = float(impact[height // 2, width // 2])
    return {
        "mode": mode,
        "corner": float(impact[0, 0]),
        "edge_centre": float(impact[0, width // 2]),
        "centre": centre,
        "share_below_10pct": float((impact < 0.1 * centre).double().mean()),
    }


def _impact_plot(plot: _Plot, maps: dict[str, torch.Tensor], args: argparse.Namespace) -> None:
    figure = _figure(plot, 1, len(maps))
    axes = figure.subplots(1, len(maps), squeeze=False)[0]
    vmax = max(float(impact.max()) for impact in maps.values())
    image = None
    for ax, (mode, impact) in zip(axes, maps.items(), strict=True):
        image = ax.imshow(impact.numpy(), cmap="magma", vmin=0.0, vmax=vmax)
        ax.set_title(mode, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.colorbar(image, ax=list(axes), shrink=0.8)
    figure.suptitle(
        f"Pixel impact: {args.layers} layers of {args.kernel_size}x{args.kernel_size} ones, "
        f"'{args.padding}', {args.size}x{args.size}",
        fontsize=10,
    )
    _save(figure, plot, args)


def _impact_command(args: argparse.Namespace) -> int:
    prog = f"{_PROG} impact"
    shrink = args.layers * (args.kernel_size - 1)
    if args.padding == "valid" and args.size <= shrink:
        raise _UsageError(
            prog,
            f"--size {args.size} is too small for {args.layers} 'valid' layers of kernel {args.kernel_size}: "
            f"each layer removes {args.kernel_size - 1} pixels, so the size must be at least {shrink + 1}",
        )
    if args.padding == "same" and args.size < args.kernel_size:
        raise _UsageError(prog, f"--size must be at least the kernel size ({args.kernel_size}), got {args.size}")
    plot = _plot_target(args)
    modes = args.modes or _default_modes(prog, args.size, args.kernel_size, args.padding)
    maps = {}
    for mode in modes:
        # float64: the path counts grow as kernel_size ** (2 * layers), past float32's 3.4e38 from
        # 41 layers of 3x3 or 21 of 9x9 on, and they stay exact integers up to 2 ** 53
        stack = conv_stack(
            mode, layers=args.layers, kernel_size=args.kernel_size, padding=args.padding, dtype=torch.float64
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImpactOverflowWarning)  # said below, on one line
            maps[mode] = impact_map(stack, (1, args.size, args.size), method=args.method)
        if not bool(torch.isfinite(maps[mode]).all()):
            raise _UsageError(
                prog,
                f"the impact map of {mode!r} overflows float64 (largest value {torch.finfo(torch.float64).max:.3g}): "
                f"{args.layers} layers of kernel {args.kernel_size} count up to {args.kernel_size}^"
                f"{2 * args.layers} paths per pixel; use fewer --layers or a smaller --kernel-size",
            )
    summaries = [_impact_summary(mode, impact) for mode, impact in maps.items()]
    if args.json:
        settings = {
            "size": args.size,
            "layers": args.layers,
            "kernel_size": args.kernel_size,
            "padding": args.padding,
            "method": args.method,
        }
        payload = [{**summary, "settings": settings, "map": maps[summary["mode"]].tolist()} for summary in summaries]
        print(_strict_json(payload, prog, "use fewer --layers or a smaller --kernel-size"))
    else:
        width = max(len("mode"), *(len(summary["mode"]) for summary in summaries))
        print(f"{'mode':<{width}}  {'corner':>10}  {'edge centre':>11}  {'centre':>10}  {'< 10% of centre':>15}")
        for s in summaries:
            print(
                f"{s['mode']:<{width}}  {s['corner']:>10.6g}  {s['edge_centre']:>11.6g}  {s['centre']:>10.6g}  "
                f"{s['share_below_10pct']:>15.1%}"
            )
    if plot is not None:
        _impact_plot(plot, maps, args)
    return 0


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or "can't allocate memory" in str(error) or "out of memory" in str(error)


def _allocation_text(error: BaseException) -> str:
    """The useful part of torch's allocation error, e.g. 'you tried to allocate 128000000000000 bytes'."""
    text = " ".join(str(error).split())
    start = text.find("you tried to allocate")
    if start >= 0:
        return text[start:].split(".")[0]
    return text or type(error).__name__


_COMMANDS = {
    "modes": _modes_command,
    "position": _position_command,
    "impact": _impact_command,
    "report": _report_command,
    "neurons": neurons_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``padmods`` command line with ``argv`` (default: ``sys.argv[1:]``).

    Args:
        argv: The arguments after the program name.

    Returns:
        The exit status: 0 on success, 2 for bad arguments (after one line on stderr).
    """
    parser = _build_parser()
    args: argparse.Namespace | None = None
    threads = torch.get_num_threads()
    try:
        args = parser.parse_args(argv)
        if "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(1)
        return _COMMANDS[args.command](args)
    except _UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except SystemExit as exit_:  # --help and --version
        return exit_.code if isinstance(exit_.code, int) else 0
    except ValueError as error:  # a setting the library refuses, e.g. padding that does not fit
        print(_UsageError(f"{_PROG} {getattr(args, 'command', '')}".strip(), str(error)), file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as error:  # a --size whose tensors cannot be allocated
        if not _is_out_of_memory(error):
            raise
        print(
            _UsageError(
                f"{_PROG} {getattr(args, 'command', '')}".strip(),
                f"not enough memory for these settings (--size {getattr(args, 'size', '?')}): "
                f"{_allocation_text(error)}; use a smaller --size",
            ),
            file=sys.stderr,
        )
        return 2
    finally:
        torch.set_num_threads(threads)
