"""What ``padmods`` subcommands share on the way out: strict JSON, and the figure that ``--plot`` saves.

``--plot FILE`` is checked before any work starts (:func:`plot_target`): matplotlib, the file
name, its format, and that the file can be written. Figures are drawn on matplotlib's ``Figure``
class directly, with no pyplot state, and saved by :func:`save`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from padmods.cli_args import PROG, UsageError

__all__ = ["Plot", "figure", "plot_target", "save", "strict_json"]


def strict_json(payload: Any, prog: str, hint: str) -> str:
    """``payload`` as strict JSON (no NaN or Infinity); a non-finite number is an error that says where."""
    try:
        return json.dumps(payload, indent=2, allow_nan=False)
    except ValueError:
        where, value = _first_non_finite(payload, "")
        raise UsageError(prog, f"the result holds {value} at {where}, which JSON cannot represent; {hint}") from None


def _first_non_finite(value: Any, where: str) -> tuple[str, float]:
    if isinstance(value, float) and not math.isfinite(value):
        return where, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_non_finite(item, f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]")
        if found[0]:
            return found
    return "", 0.0


@dataclass(frozen=True)
class Plot:
    """Where ``--plot`` saves the figure, in which format, with matplotlib's ``Figure`` class."""

    figure_class: Any
    path: Path
    format: str


def plot_target(args: argparse.Namespace) -> Plot | None:
    """Check ``--plot`` before any work: matplotlib, the file name, its format, and that it can be written.

    A directory gets a file named after the command inside it (``padmods-impact.png``); a name
    without a suffix gets a PNG under exactly that name.
    """
    if args.plot is None:
        return None
    prog = f"{PROG} {args.command}"
    if not args.plot.strip():
        raise UsageError(prog, f"argument --plot: expected a file name, got {args.plot!r}")
    try:
        from matplotlib.backend_bases import FigureCanvasBase
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError(prog, "--plot needs matplotlib; install it with: pip install 'padmods[plot]'") from None
    path = Path(args.plot).expanduser()
    names_directory = args.plot.endswith(tuple(sep for sep in (os.sep, os.altsep, "/") if sep))
    if names_directory and not path.is_dir():  # Path() drops the trailing separator: 'missing/' is 'missing'
        why = "is not a directory" if path.exists() else "does not exist; create it first, or name a file"
        raise UsageError(prog, f"argument --plot: the directory {args.plot!r} {why}")
    if path.is_dir():
        path = path / f"{PROG}-{args.command}.png"
    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = path.suffix[1:].lower()
    if suffix and suffix not in formats:
        raise UsageError(
            prog,
            f"argument --plot: cannot save a figure as {path.suffix!r} ({str(path)!r}); "
            f"use one of {', '.join('.' + name for name in sorted(formats))}",
        )
    existed = path.exists()
    try:
        with path.open("ab"):  # appends nothing: only checks that the file can be written
            pass
    except OSError as error:
        raise UsageError(prog, f"argument --plot: cannot write {str(path)!r}: {error.strerror}") from None
    if not existed:
        path.unlink()
    return Plot(Figure, path, suffix or "png")


def figure(plot: Plot, rows: int, cols: int, title: str) -> Any:
    """A new figure for ``rows`` x ``cols`` small panels under ``title``.

    The title wraps onto as many lines as the figure's width needs (one column is narrow), and
    the constrained layout makes room for them.
    """
    drawing = plot.figure_class(figsize=(2.6 * cols, 2.4 * rows), layout="constrained")
    drawing.suptitle(title, fontsize=10, wrap=True)
    return drawing


def save(figure: Any, plot: Plot, args: argparse.Namespace) -> None:
    """Save ``figure`` where ``--plot`` says; a file name of padmods' choosing is said on stderr."""
    # the constrained layout places the panels around the title as it was before wrapping; one
    # layout pass beforehand lets the saved one start from the wrapped title and the final ticks
    figure.draw_without_rendering()
    try:
        figure.savefig(plot.path, dpi=100, format=plot.format)
    except (OSError, ValueError) as error:
        raise UsageError(f"{PROG} {args.command}", f"cannot save the figure to {str(plot.path)!r}: {error}") from None
    if str(plot.path) != str(Path(args.plot).expanduser()):  # a name of our choosing: say which
        print(f"{PROG} {args.command}: saved the figure to {str(plot.path)!r}", file=sys.stderr)
