"""``padmods position``: Experiment 1, whether a one-layer summed convolution can find the top-left pixel."""

from __future__ import annotations

import argparse
from typing import Any

from padmods.analysis import position_leak
from padmods.analysis.position import PositionLeakResult
from padmods.cli_args import (
    JSON_HELP,
    MODES_HELP,
    PLOT_HELP,
    PROG,
    UsageError,
    default_modes,
    mode_list,
    positive_float,
    positive_int,
    seed,
)
from padmods.cli_output import Plot, figure, plot_target, save, strict_json

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``position`` subcommand to ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser(
        "position",
        help="Experiment 1: can a one-layer, summed conv find the top-left pixel?",
        description="Train y = conv(x).sum() to tell the top-left one-hot image from all others.",
    )
    parser.add_argument("--modes", type=mode_list, help=MODES_HELP)
    parser.add_argument("--size", type=positive_int, default=10, help="image height and width (default: 10)")
    parser.add_argument("--kernel-size", type=positive_int, default=3, help="kernel size (default: 3)")
    parser.add_argument("--steps", type=positive_int, default=150, help="Adam steps (default: 150)")
    parser.add_argument("--lr", type=positive_float, default=0.1, help="learning rate (default: 0.1)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the weight initialisation (default: 0)")
    parser.add_argument("--json", action="store_true", help=JSON_HELP)
    parser.add_argument("--plot", metavar="FILE", help=PLOT_HELP)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train one model per mode and print each one's balanced accuracy and margin."""
    if args.size < 2:
        raise UsageError(f"{PROG} position", f"--size must be at least 2, got {args.size}")
    plot = plot_target(args)
    modes = args.modes or default_modes(f"{PROG} position", args.size, args.kernel_size, "same")
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
        print(strict_json(payload, f"{PROG} position", "the training diverged: try a smaller --lr"))
    else:
        width = max(len("mode"), *(len(str(result.mode)) for result in results))
        print(f"{'mode':<{width}}  {'balanced accuracy':>17}  {'margin':>9}")
        for result in results:
            print(f"{result.mode!s:<{width}}  {result.balanced_accuracy:>17.3f}  {result.margin:>9.4f}")
    if plot is not None:
        _plot(plot, results, args)
    return 0


def _plot(plot: Plot, results: list[PositionLeakResult], args: argparse.Namespace) -> None:
    title = "Score of the white pixel at each position, and the trained kernel"
    drawing = figure(plot, 2, len(results), title)
    axes = drawing.subplots(2, len(results), squeeze=False)
    for column, result in enumerate(results):
        top, bottom = axes[0][column], axes[1][column]
        low, high = float(result.scores.min()), float(result.scores.max())
        if high - low <= result.threshold:  # equal up to rounding: show it flat, not the rounding noise
            low, high = (low + high) / 2 - 1.0, (low + high) / 2 + 1.0
        image = top.imshow(result.scores.numpy(), cmap="viridis", vmin=low, vmax=high)
        top.set_title(f"{result.mode}\nacc {result.balanced_accuracy:.3f}", fontsize=9)
        drawing.colorbar(image, ax=top, shrink=0.8)
        kernel = bottom.imshow(result.kernel[0, 0].numpy(), cmap="RdBu_r")
        bottom.set_title("kernel (image tap)", fontsize=8)
        drawing.colorbar(kernel, ax=bottom, shrink=0.8)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    save(drawing, plot, args)
