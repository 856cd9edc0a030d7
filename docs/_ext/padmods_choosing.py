"""The table of the "Choosing a padding mode" page, and the performance tables for readers.

Run at every docs build through :mod:`padmods_figures` (``choosing_table.rst.txt`` and the
``perf_*.rst.txt`` files in ``docs/_generated``). One row per registered 2-D mode, so a new mode
or a plugin gets its row without an edit here:

* **position leak**: Experiment 1, :func:`padmods.analysis.position_leak` (balanced accuracy of the
  corner detector on a 10x10 image; 0.5 is chance, so nothing leaks);
* **border impact**: Experiment 2, :func:`padmods.analysis.impact_map` of a five-layer all-ones
  stack on a 28x28 image, corner over centre;
* **cost**: forward + backward time over ``nn.Conv2d`` with zero padding, from the benchmark
  tables stored in ``docs/_tables`` (written by ``benchmarks/run.py --rst``; see ``PERF_MACHINE``);
* **exact under** ``torch.roll``: whether the layer commutes with a circular shift of its input,
  computed on a random input;
* **suits**: one line per built-in mode (``SUITS``); a plugin's row shows the first line of its
  class docstring.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

import padmods
from padmods.analysis import conv_stack, impact_map, position_leak

__all__ = [
    "PERF_MACHINE",
    "SUITS",
    "choosing_table",
    "cost_over_conv2d",
    "list_tables",
    "performance_summary",
    "reader_table",
]

TABLES = Path(__file__).resolve().parents[1] / "_tables"

#: Where ``docs/_tables/perf_cpu_keep.rst.inc`` was measured (see docs/performance.rst).
PERF_MACHINE = "torch 2.13.0 (CPU) on a 2-core AMD EPYC machine, two threads, float32"

#: What each built-in mode is for, in one line.
SUITS = {
    "zeros": "The default; fine when position may matter and the border is far from what counts.",
    "reflect": "Natural images and dense prediction: the border continues the image, no seam.",
    "replicate": "Images whose content reaches the edge (documents, maps); smooth, no mirror.",
    "circular": "Periodic data (textures, tori, simulations with wrap-around): no border at all.",
    "symmetric": "Like reflect, but keeps the edge pixel; the mirror padding Mind the Pad advises.",
    "spherical": "360-degree panoramas (equirectangular): the width wraps, the poles mirror.",
    "partial": "A general replacement for zeros: no dark frame, no hyperparameter; inpainting.",
    "coord": "Tasks where position should matter: gives it openly as coordinate channels.",
}

_CELL = re.compile(r"^(\d+\.\d+)")


def list_tables(text: str) -> list[tuple[str, list[list[str]]]]:
    """The ``list-table`` directives of a reST file: each title and its rows of cell texts."""
    tables: list[tuple[str, list[list[str]]]] = []
    for line in text.splitlines():
        if line.startswith(".. list-table::"):
            tables.append((line.partition("::")[2].strip(), []))
        elif tables and line.strip().startswith("* - "):
            tables[-1][1].append([line.strip()[4:]])
        elif tables and tables[-1][1] and line.strip().startswith("- "):
            tables[-1][1][-1].append(line.strip()[2:])
    return tables


def cost_over_conv2d(
    path: Path = TABLES / "perf_cpu_keep.rst.inc", dtype: str = "float32", baseline: str = "conv2d"
) -> dict[str, list[float]]:
    """Forward + backward time of each measured mode over a baseline, shapes A-D (integer padding).

    With ``baseline="conv2d"``, ``nn.Conv2d`` with zero padding: zeros, partial and coord are
    measured against it directly, reflect, replicate and circular in the table of torch modes over
    ``nn.Conv2d`` zeros. With ``baseline="formulation"``, the straightforward formulation of the
    same mode (``F.pad`` then a convolution, NVIDIA's partial convolution, concatenated coordinates).
    """
    costs: dict[str, list[float]] = {}
    if not path.is_file():
        return costs
    for title, rows in list_tables(path.read_text(encoding="utf-8")):
        if f"({dtype}, padding=int)" not in title:
            continue
        if baseline == "formulation":
            direct, over_zeros = title.startswith("Ratio to the straightforward formulation"), False
        else:
            direct = title.startswith("Ratio to the ``nn.Conv2d`` baseline")
            over_zeros = title.startswith("Torch modes over ``nn.Conv2d`` *zeros*")
        if not (direct or over_zeros):
            continue
        for row in rows[1:]:
            match = re.match(r"``(\w+)``(?: vs ``(\w+)``)?", row[0])
            if match is None or (baseline == "conv2d" and direct and match.group(2) not in (None, "zeros")):
                continue
            values = [_CELL.match(cell) for cell in row[1:]]
            costs[match.group(1)] = [float(value.group(1)) for value in values if value]
    return costs


def reader_table(path: Path) -> str:
    """A stored benchmark table without the development targets, for the performance page."""
    text = path.read_text(encoding="utf-8")
    text = text.replace("; target in brackets", "")
    return re.sub(r" \[[<>=]+ ?[\d.]+\]", "", text)


def _roll_exact(mode: str) -> bool:
    generator = torch.Generator().manual_seed(0)
    layer = padmods.create(mode, 2, 3, 3, padding=1, dtype=torch.float64)
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
        x = torch.randn(1, 2, 10, 12, generator=generator, dtype=torch.float64)
        shifts, dims = (3, -4), (2, 3)
        return bool(torch.allclose(layer(torch.roll(x, shifts, dims)), torch.roll(layer(x), shifts, dims)))


def _border_impact(mode: str) -> float:
    impact = impact_map(conv_stack(mode, layers=5), (1, 28, 28), method="gradient")
    return float(impact[0, 0] / impact[14, 14])


def _suits(mode: str) -> str:
    if mode in SUITS:
        return SUITS[mode]
    doc = (padmods.get(mode).__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def _range(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}\u2013{high:.2f}"


def performance_summary() -> str:
    """The summary table of the performance page: each measured mode's cost, shapes A-C."""
    columns = [
        ("CPU, float32", cost_over_conv2d(TABLES / "perf_cpu_keep.rst.inc", "float32")),
        ("CPU, bfloat16", cost_over_conv2d(TABLES / "perf_cpu_keep.rst.inc", "bfloat16")),
        ("CUDA (H200), float32", cost_over_conv2d(TABLES / "perf_gpu_h200.rst.inc", "float32")),
        (
            "CPU, float32, over the straightforward code",
            cost_over_conv2d(TABLES / "perf_cpu_keep.rst.inc", "float32", "formulation"),
        ),
    ]
    rows = [".. list-table::", "   :header-rows: 1", "   :stub-columns: 1", "", "   * - mode"]
    rows += [f"     - {name}" for name, _ in columns]
    modes = [mode for mode in padmods.available(dim=2) if any(mode in costs for _, costs in columns)]
    for mode in modes:
        rows.append(f"   * - ``'{mode}'``")
        rows += [f"     - {_range(costs[mode][:3]) if mode in costs else '—'}" for _, costs in columns]
    return "\n".join(rows) + "\n"


def choosing_table() -> str:
    """The ``list-table`` of the guide's "Choosing a padding mode" page, one row per 2-D mode."""
    costs = cost_over_conv2d()
    rows = [
        f".. list-table:: Every registered mode; cost measured with {PERF_MACHINE}",
        "   :header-rows: 1",
        "   :stub-columns: 1",
        "   :class: padmods-choosing",
        "",
        "   * - mode",
        "     - position leak",
        "     - border impact",
        "     - cost",
        "     - exact under ``torch.roll``",
        "     - suits",
    ]
    with torch.enable_grad():
        for mode in padmods.available(dim=2):
            leak = position_leak(mode).balanced_accuracy
            cost = _range(costs[mode][:3]) if mode in costs else "not measured"
            rows += [
                f"   * - ``'{mode}'``",
                f"     - {leak:.2f}",
                f"     - {_border_impact(mode):.2f}",
                f"     - {cost}",
                f"     - {'yes' if _roll_exact(mode) else 'no'}",
                f"     - {_suits(mode)}",
            ]
    return "\n".join(rows) + "\n"
