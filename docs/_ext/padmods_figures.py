"""Draw the user guide's pictures of what each padding mode puts beyond the border.

Run at every docs build by the ``padmods_sphinx`` extension (and runnable on its own:
``python docs/_ext/padmods_figures.py [OUTDIR]``). Everything is computed with padmods itself, so the
pictures and the printed tensors always show what the installed library does. Files are only
rewritten when their content changes, so an incremental build does not re-read every page.
"""

from __future__ import annotations

import io
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from padmods_figcheck import inspect_figure, record

import padmods
from padmods.functional import coord_channels, pad, partial_ratio

__all__ = ["PAD_MODES", "write_all"]

#: The modes that :func:`padmods.functional.pad` can pad with, in the order the guide shows them.
PAD_MODES = ("zeros", "reflect", "replicate", "circular", "symmetric")

_SIZE = 4  # the example image is torch.arange(16.0).view(4, 4)
_PAD = 2  # padded by two pixels on every side (kernel 5, padding 2)
_DPI = 200  # sharp on high-density screens; the pages set the displayed width


def _arange_image() -> torch.Tensor:
    return torch.arange(float(_SIZE * _SIZE)).view(1, 1, _SIZE, _SIZE)


def _padded(mode: str) -> torch.Tensor:
    return pad(_arange_image(), ((_PAD, _PAD), (_PAD, _PAD)), mode=mode)[0, 0]


def _thirds(value: float) -> str:
    """A coordinate of a 4-pixel axis (-1, -1/3, 1/3, 1 or the border's 0), short enough for its cell."""
    for number, text in ((1.0, "1"), (1 / 3, "\u2153")):
        if abs(abs(value) - number) < 1e-6:
            return ("\u2212" if value < 0 else "") + text
    return format(value, ".2g")


#: Font sizes of the pictures, in points. Each picture is shown a few hundred pixels wide, and on a
#: phone two to a row of 343 pixels: at these sizes its numbers stay above 8 pixels there.
_NUMBER_PT = 11.5
_TITLE_PT = 12


def _draw_grid(ax, values: np.ndarray, *, frame: tuple[int, int, int, int] | None, vmin: float, vmax: float, fmt: str):
    """Show ``values`` as coloured cells, each labelled, with the image itself framed."""
    ax.imshow(values, cmap="viridis", vmin=vmin, vmax=vmax)
    mid = (vmin + vmax) / 2
    for (row, col), value in np.ndenumerate(values):
        colour = "black" if value > mid else "white"
        label = _thirds(value) if fmt == "thirds" else format(value, fmt)
        ax.text(col, row, label, ha="center", va="center", fontsize=_NUMBER_PT, color=colour)
    if frame is not None:
        top, left, height, width = frame
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor="#ff4d4d", linewidth=2.2))
    ax.set_xticks([])
    ax.set_yticks([])


class _Png(bytes):
    """A PNG image, with what :func:`padmods_figcheck.inspect_figure` found in its figure."""

    report: dict


def _png(fig: Figure) -> _Png:
    report = inspect_figure(fig, dpi=_DPI)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    image = _Png(buffer.getvalue())
    image.report = report
    return image


def _mode_figure(mode: str) -> bytes:
    fig = Figure(figsize=(2.9, 3.0), layout="constrained")
    ax = fig.add_subplot()
    values = _padded(mode).numpy()
    _draw_grid(ax, values, frame=(_PAD, _PAD, _SIZE, _SIZE), vmin=0, vmax=_SIZE * _SIZE - 1, fmt=".0f")
    ax.set_title(f"'{mode}'", fontsize=_TITLE_PT)
    return _png(fig)


def _partial_figure() -> bytes:
    fig = Figure(figsize=(2.9, 3.0), layout="constrained")
    ax = fig.add_subplot()
    # the same 4x4 input as the transcript beside it (_partial_text)
    ratio = partial_ratio((_SIZE, _SIZE), 3, padding=1).numpy()
    _draw_grid(ax, ratio, frame=None, vmin=1.0, vmax=float(ratio.max()), fmt=".2f")
    ax.set_title("'partial': output scale", fontsize=_TITLE_PT)
    return _png(fig)


def _coord_channel(ax, channel: int) -> None:
    coords = torch.nn.functional.pad(coord_channels(_SIZE, _SIZE).unsqueeze(0), (1, 1, 1, 1))[0, channel].numpy()
    _draw_grid(ax, coords, frame=(1, 1, _SIZE, _SIZE), vmin=-1.0, vmax=1.0, fmt="thirds")
    ax.set_title(f"'coord': channel {'xy'[channel]}", fontsize=_TITLE_PT)


def _coord_figure() -> bytes:
    fig = Figure(figsize=(5.2, 2.8), layout="constrained")
    for ax, channel in zip(fig.subplots(1, 2), (0, 1), strict=True):
        _coord_channel(ax, channel)
    return _png(fig)


def _coord_x_figure() -> bytes:
    """The x channel alone, as a panel of the landing page's grid."""
    fig = Figure(figsize=(2.9, 3.0), layout="constrained")
    _coord_channel(fig.add_subplot(), 0)
    return _png(fig)


def _code_and_result(lines: list[str], value: torch.Tensor) -> str:
    """A doctest-style transcript: the code lines, then the tensor as torch prints it."""
    prompt = [f">>> {line}" for line in lines]
    return "\n".join([*prompt, repr(value)]) + "\n"


def _mode_text(mode: str) -> str:
    lines = [
        "x = torch.arange(16.0).view(1, 1, 4, 4)",
        f'padmods.functional.pad(x, ((2, 2), (2, 2)), mode="{mode}")[0, 0]',
    ]
    return _code_and_result(lines, _padded(mode))


def _partial_text() -> str:
    lines = ["padmods.functional.partial_ratio((4, 4), kernel_size=3, padding=1)"]
    return _code_and_result(lines, partial_ratio((4, 4), 3, padding=1))


def _coord_text() -> str:
    lines = ["padmods.functional.coord_channels(4, 4)"]
    return _code_and_result(lines, coord_channels(4, 4))


#: A 3x3 kernel whose taps sum to -1 but whose top-left 2x2 block sums to 1 (see padding-matters.rst).
CORNER_KERNEL = ((1.0, 0.0, -1.0), (0.0, 0.0, 0.0), (-1.0, 0.0, 0.0))


def _corner_text(mode: str) -> str:
    """What ``y = conv(x).sum()`` gives for a white pixel at each position, with the corner kernel."""
    from padmods.analysis import impact_map

    conv = padmods.create(mode, 1, 1, 3, padding=1, bias=False)
    conv.weight.copy_(torch.tensor(CORNER_KERNEL).view(1, 1, 3, 3))
    lines = [
        "kernel = [[1.0, 0.0, -1.0], [0.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]",
        f'conv = padmods.create("{mode}", 1, 1, 3, padding=1, bias=False)',
        "conv.weight.data = torch.tensor(kernel).view(1, 1, 3, 3)",
        "padmods.analysis.impact_map(conv, (1, 5, 5))  # y of a white pixel at each (i, j)",
    ]
    return _code_and_result(lines, impact_map(conv, (1, 5, 5)))


def _impact_text(mode: str, padding: str) -> str:
    """The impact map of two all-ones 3x3 layers on a 7x7 input."""
    from padmods.analysis import conv_stack, impact_map

    lines = [
        f'stack = padmods.analysis.conv_stack("{mode}", layers=2, padding="{padding}")',
        "padmods.analysis.impact_map(stack, (1, 7, 7))",
    ]
    return _code_and_result(lines, impact_map(conv_stack(mode, layers=2, padding=padding), (1, 7, 7)))


def _cli_run(*args: str) -> str:
    """What ``padmods ARGS`` prints, run in this process with the installed command's ``main``."""
    import contextlib
    import os

    from padmods import cli

    saved_argv, saved_columns = sys.argv[:], os.environ.get("COLUMNS")
    sys.argv[:] = ["padmods", *args]
    os.environ["COLUMNS"] = "88"  # argparse wraps its help to the terminal width
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
            status = cli.main(list(args))
    finally:
        sys.argv[:] = saved_argv
        if saved_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved_columns
    text = buffer.getvalue()
    if not text.strip() or status not in (0, None):
        raise RuntimeError(f"'padmods {' '.join(args)}' exited with {status} and printed {text!r}")
    return text


def _cli_transcript(*args: str) -> str:
    """A shell transcript: the command line, then its output."""
    return f"$ padmods {shlex.join(args)}\n{_cli_run(*args)}"


def _modes_table() -> str:
    """A list-table of the registered built-in modes and their class for each dimension, for the guide."""
    rows = [".. list-table::", "   :header-rows: 1", ""]
    rows += ["   * - name", "     - 1-D", "     - 2-D", "     - 3-D"]
    for name in sorted(padmods.registry.modes):
        by_dim = padmods.registry.modes[name]
        rows.append(f"   * - ``'{name}'``")
        for dim in (1, 2, 3):
            rows.append(f"     - :class:`~padmods.{by_dim[dim].__name__}`" if dim in by_dim else "     -")
    return "\n".join(rows) + "\n"


def _evidence_figure(padding: str) -> bytes:
    """The landing page's evidence: how many outputs each pixel of a 10x10 image reaches, one layer."""
    from padmods.analysis import conv_stack, impact_map

    fig = Figure(figsize=(3.3, 3.5), layout="constrained")
    ax = fig.add_subplot()
    values = impact_map(conv_stack("zeros", layers=1, padding=padding), (1, 10, 10)).numpy()
    ax.imshow(values, cmap="viridis", vmin=0, vmax=9)
    for (row, col), value in np.ndenumerate(values):
        colour = "black" if value > 5 else "white"
        ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize=_NUMBER_PT, color=colour)
    ax.set_title({"same": "'same' (zero padding)", "valid": "'valid' (no padding)"}[padding], fontsize=_TITLE_PT)
    ax.set_xticks([])
    ax.set_yticks([])
    return _png(fig)


def _artifacts() -> dict[str, Callable[[], bytes | str]]:
    import padmods_choosing

    artifacts: dict[str, Callable[[], bytes | str]] = {
        "border_coord_x.png": _coord_x_figure,
        "evidence_same.png": lambda: _evidence_figure("same"),
        "evidence_valid.png": lambda: _evidence_figure("valid"),
        "choosing_table.rst.txt": padmods_choosing.choosing_table,
        "perf_summary.rst.txt": padmods_choosing.performance_summary,
        "perf_numbers.rst.txt": padmods_choosing.performance_numbers,
        "perf_models.rst.txt": padmods_choosing.performance_models,
    }
    for table in sorted(padmods_choosing.TABLES.glob("perf_*.rst.inc")):
        name = table.name.replace(".rst.inc", ".rst.txt")
        artifacts[name] = lambda table=table: padmods_choosing.reader_table(table)
    for mode in PAD_MODES:
        artifacts[f"border_{mode}.png"] = lambda mode=mode: _mode_figure(mode)
        artifacts[f"border_{mode}.txt"] = lambda mode=mode: _mode_text(mode)
    artifacts.update(
        {
            "border_partial.png": _partial_figure,
            "border_partial.txt": _partial_text,
            "border_coord.png": _coord_figure,
            "border_coord.txt": _coord_text,
            "modes_table.rst.txt": _modes_table,
            "corner_zeros.txt": lambda: _corner_text("zeros"),
            "corner_circular.txt": lambda: _corner_text("circular"),
            "impact_zeros_same.txt": lambda: _impact_text("zeros", "same"),
            "impact_zeros_valid.txt": lambda: _impact_text("zeros", "valid"),
            "impact_circular_same.txt": lambda: _impact_text("circular", "same"),
            "impact_reflect_same.txt": lambda: _impact_text("reflect", "same"),
            "cli_help.txt": lambda: _cli_run("--help"),
            "cli_modes_help.txt": lambda: _cli_run("modes", "--help"),
            "cli_position_help.txt": lambda: _cli_run("position", "--help"),
            "cli_impact_help.txt": lambda: _cli_run("impact", "--help"),
            "cli_report_help.txt": lambda: _cli_run("report", "--help"),
            "cli_report.txt": lambda: _cli_transcript(
                "report", "example_models:stride2_stack()", "--input-shape", "1,3,224,224", "--suggest", "2"
            ),
            "cli_modes.txt": lambda: _cli_transcript("modes"),
            "cli_impact.txt": lambda: _cli_transcript(
                "impact", "--modes", "zeros,reflect,circular", "--layers", "2", "--size", "7"
            ),
            "cli_impact_valid.txt": lambda: _cli_transcript(
                "impact", "--modes", "zeros", "--layers", "2", "--padding", "valid", "--size", "7"
            ),
        }
    )
    return artifacts


def write_all(outdir: Path) -> tuple[list[Path], dict[str, BaseException], dict[str, list[str]]]:
    """Write every figure and transcript into ``outdir``.

    Returns the files whose content changed, the artifacts that could not be made with the
    reason, and what :func:`padmods_figcheck.inspect_figure` found wrong in a figure (text cut
    off, text on text). A failed artifact still gets a file (an empty one), so that the pages
    including it build and the caller can report the failure once, clearly, instead of a
    missing-file error. Each figure gets its record for the phone check next to it.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    errors: dict[str, BaseException] = {}
    problems: dict[str, list[str]] = {}
    with torch.no_grad():
        for name, make in _artifacts().items():
            path = outdir / name
            try:
                content = make()
            except Exception as error:
                errors[name] = error
                content = b""
            data = content.encode() if isinstance(content, str) else bytes(content)
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
                changed.append(path)
            if isinstance(content, _Png):
                record(path, content.report)
                if content.report["problems"]:
                    problems[name] = content.report["problems"]
    return changed, errors, problems


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "_generated"
    changed, errors, problems = write_all(target)
    for path in changed:
        print(path)
    for name, error in errors.items():
        print(f"could not make {name}: {type(error).__name__}: {error}", file=sys.stderr)
    for name, found in problems.items():
        for problem in found:
            print(f"{name}: {problem}", file=sys.stderr)
    sys.exit(1 if errors or problems else 0)
