"""``padmods impact``: Experiment 2, how much each input pixel moves the output of an all-ones stack."""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import torch

from padmods.analysis import conv_stack, impact_map
from padmods.analysis.impact import ImpactOverflowWarning
from padmods.cli_args import JSON_HELP, MODES_HELP, PLOT_HELP, PROG, UsageError, default_modes, mode_list, positive_int
from padmods.cli_output import Plot, figure, plot_target, save, strict_json

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``impact`` subcommand to ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser(
        "impact",
        help="Experiment 2: how much each input pixel affects the output of an all-ones conv stack",
        description="Impact map of a stack of all-ones convolutions for each padding mode.",
    )
    parser.add_argument("--modes", type=mode_list, help=MODES_HELP)
    parser.add_argument("--size", type=positive_int, default=28, help="image height and width (default: 28)")
    parser.add_argument("--layers", type=positive_int, default=5, help="number of conv layers (default: 5)")
    parser.add_argument("--kernel-size", type=positive_int, default=3, help="kernel size (default: 3)")
    parser.add_argument("--padding", choices=("same", "valid"), default="same", help="padding (default: same)")
    parser.add_argument("--method", choices=("exact", "gradient"), default="exact", help="(default: exact)")
    parser.add_argument("--json", action="store_true", help=JSON_HELP)
    parser.add_argument("--plot", metavar="FILE", help=PLOT_HELP)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Compute each mode's impact map and print its corner, edge-centre and centre values."""
    prog = f"{PROG} impact"
    shrink = args.layers * (args.kernel_size - 1)
    if args.padding == "valid" and args.size <= shrink:
        raise UsageError(
            prog,
            f"--size {args.size} is too small for {args.layers} 'valid' layers of kernel {args.kernel_size}: "
            f"each layer removes {args.kernel_size - 1} pixels, so the size must be at least {shrink + 1}",
        )
    if args.padding == "same" and args.size < args.kernel_size:
        raise UsageError(prog, f"--size must be at least the kernel size ({args.kernel_size}), got {args.size}")
    plot = plot_target(args)
    modes = args.modes or default_modes(prog, args.size, args.kernel_size, args.padding)
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
            raise UsageError(
                prog,
                f"the impact map of {mode!r} overflows float64 (largest value {torch.finfo(torch.float64).max:.3g}): "
                f"{args.layers} layers of kernel {args.kernel_size} count up to {args.kernel_size}^"
                f"{2 * args.layers} paths per pixel; use fewer --layers or a smaller --kernel-size",
            )
    summaries = [_summary(mode, impact) for mode, impact in maps.items()]
    if args.json:
        settings = {
            "size": args.size,
            "layers": args.layers,
            "kernel_size": args.kernel_size,
            "padding": args.padding,
            "method": args.method,
        }
        payload = [{**summary, "settings": settings, "map": maps[summary["mode"]].tolist()} for summary in summaries]
        print(strict_json(payload, prog, "use fewer --layers or a smaller --kernel-size"))
    else:
        width = max(len("mode"), *(len(summary["mode"]) for summary in summaries))
        print(f"{'mode':<{width}}  {'corner':>10}  {'edge centre':>11}  {'centre':>10}  {'< 10% of centre':>15}")
        for s in summaries:
            print(
                f"{s['mode']:<{width}}  {s['corner']:>10.6g}  {s['edge_centre']:>11.6g}  {s['centre']:>10.6g}  "
                f"{s['share_below_10pct']:>15.1%}"
            )
    if plot is not None:
        _plot(plot, maps, args)
    return 0


def _summary(mode: str, impact: torch.Tensor) -> dict[str, Any]:
    height, width = impact.shape
    centre = float(impact[height // 2, width // 2])
    return {
        "mode": mode,
        "corner": float(impact[0, 0]),
        "edge_centre": float(impact[0, width // 2]),
        "centre": centre,
        "share_below_10pct": float((impact < 0.1 * centre).double().mean()),
    }


def _plot(plot: Plot, maps: dict[str, torch.Tensor], args: argparse.Namespace) -> None:
    title = (
        f"Pixel impact: {args.layers} layers of {args.kernel_size}x{args.kernel_size} ones, "
        f"'{args.padding}', {args.size}x{args.size}"
    )
    drawing = figure(plot, 1, len(maps), title)
    axes = drawing.subplots(1, len(maps), squeeze=False)[0]
    vmax = max(float(impact.max()) for impact in maps.values())
    image = None
    for ax, (mode, impact) in zip(axes, maps.items(), strict=True):
        image = ax.imshow(impact.numpy(), cmap="magma", vmin=0.0, vmax=vmax)
        ax.set_title(mode, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    drawing.colorbar(image, ax=list(axes), shrink=0.8)
    save(drawing, plot, args)
