"""The table of the "Choosing a padding mode" page, and the performance tables for readers.

Run at every docs build through :mod:`padmods_figures` (``choosing_table.rst.txt``,
``perf_summary.rst.txt``, ``perf_numbers.rst.txt`` and one ``perf_*.rst.txt`` per stored table, in
``docs/_generated``). One row per registered 2-D mode, so a new mode or a plugin gets its row
without an edit here:

* **position leak**: Experiment 1, :func:`padmods.analysis.position_leak` (balanced accuracy of the
  corner detector on a 10x10 image; 0.5 is chance, so nothing leaks);
* **border impact**: Experiment 2, :func:`padmods.analysis.impact_map` of a five-layer all-ones
  stack on a 28x28 image, corner over centre;
* **cost**: time over ``nn.Conv2d`` with zero padding of padmods' own layer, from the benchmark
  tables stored in ``docs/_tables`` (see *Where the numbers come from* below);
* **exact under** ``torch.roll``: whether the layer commutes with a circular shift of its input,
  computed on a random input;
* **suits**: one line per built-in mode (``SUITS``); a plugin's row shows the first line of its
  class docstring.

Where the numbers come from
---------------------------

Every benchmark table lives in ``docs/_tables`` as written by the benchmark (reST
``list-table`` directives), and has an entry in ``docs/_tables/provenance.json``: the suite, the
device and machine, the torch and padmods versions and the **commit** it measured, the command
that wrote it, and ``superseded`` (a sentence) when the layers have changed since. Every table
the pages show is titled with that version and commit, and a table with no entry fails the
build. The files:

* ``perf_models_cpu.rst.inc`` (when it exists): the whole-model suite, one ``list-table`` per kind
  of work whose title starts with ``Whole models`` and names the work in brackets, ``(train)`` or
  ``(infer)``; a header row ``mode`` then one column per model, then one row per mode
  (``reflect``, ``partial``..., ``torch reflect``... for torch's own ``padding_mode``) with the
  ratio to the same model with plain ``nn.Conv2d`` (a cell may be a range, ``1.02-1.07`` with an en dash). When it
  exists, the choosing table's cost column is the range over the models of the ``(train)`` table.
* ``perf_cpu_keep.rst.inc``: the per-layer suite, ``benchmarks/run.py --malloc keep --rst``. Without
  whole-model numbers, the cost column is the range over shapes A-C of padmods' layer over
  ``nn.Conv2d`` *zeros*: directly for zeros, partial and coord, and from the table the benchmark
  titles "Torch modes over ``nn.Conv2d`` *zeros*" for reflect, replicate and circular (its rows
  time padmods' layers, ``padmods[<mode>]``, against ``nn.Conv2d[zeros]``; see
  ``benchmarks/report.py``).
* ``perf_gpu_*.rst.inc``: the same suite on CUDA.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

import padmods
from padmods.analysis import conv_stack, impact_map, position_leak

__all__ = [
    "MODELS_TABLE",
    "PROVENANCE",
    "SUITS",
    "choosing_table",
    "cost_over_conv2d",
    "costs_for_choosing",
    "list_tables",
    "measured_with",
    "model_costs",
    "performance_models",
    "performance_numbers",
    "performance_summary",
    "provenance",
    "reader_table",
]

TABLES = Path(__file__).resolve().parents[1] / "_tables"
#: Where each stored table was measured: ``{file name: {suite, device, machine, torch, padmods, commit, ...}}``.
PROVENANCE = TABLES / "provenance.json"
#: The whole-model suite's table (see the module docstring); the cost column prefers it.
MODELS_TABLE = TABLES / "perf_models_cpu.rst.inc"
#: The per-layer suite on the CPU.
LAYERS_TABLE = TABLES / "perf_cpu_keep.rst.inc"

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
_RANGE = re.compile(r"^(\d+\.\d+)(?:\s*[\u2013-]\s*(\d+\.\d+))?")
#: The title the benchmark gives the table of padmods' reflect, replicate and circular layers over zeros.
_OVER_ZEROS = "Torch modes over ``nn.Conv2d`` *zeros*"


def provenance(path: Path) -> dict[str, str]:
    """Where the stored table ``path`` was measured; fails if ``provenance.json`` has no entry for it."""
    entries = json.loads(PROVENANCE.read_text(encoding="utf-8")) if PROVENANCE.is_file() else {}
    entry = entries.get(path.name)
    if not entry or not entry.get("commit") or not entry.get("padmods"):
        raise ValueError(
            f"{path.name} has no entry with a 'commit' and a 'padmods' version in {PROVENANCE}: say where "
            "and at which commit it was measured (see docs/_ext/padmods_choosing.py)"
        )
    return entry


def measured_with(path: Path) -> str:
    """The label of every table from ``path``: padmods version and commit, torch version, machine."""
    entry = provenance(path)
    label = f"padmods {entry['padmods']} at commit ``{entry['commit']}``, torch {entry['torch']}, {entry['machine']}"
    return label + (f" ({entry['superseded']})" if entry.get("superseded") else "")


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
    path: Path = LAYERS_TABLE, dtype: str = "float32", baseline: str = "conv2d"
) -> dict[str, list[float]]:
    """Forward + backward time of each measured padmods layer over a baseline, shapes A-D (integer padding).

    With ``baseline="conv2d"``, ``nn.Conv2d`` with zero padding: zeros, partial and coord are
    measured against it directly; reflect, replicate and circular come from the table of
    padmods' layers for torch's modes over ``nn.Conv2d`` *zeros* (not torch's own
    ``padding_mode``, which the table "Ratio to the nn.Conv2d baseline" compares them with). With
    ``baseline="formulation"``, the straightforward formulation of the same mode (``F.pad`` then a
    convolution, NVIDIA's partial convolution, concatenated coordinates).
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
            over_zeros = title.startswith(_OVER_ZEROS)
        if not (direct or over_zeros):
            continue
        for row in rows[1:]:
            match = re.match(r"``(\w+)``(?: vs ``(\w+)``)?", row[0])
            if match is None or (baseline == "conv2d" and direct and match.group(2) not in (None, "zeros")):
                continue
            values = [_CELL.match(cell) for cell in row[1:]]
            costs[match.group(1)] = [float(value.group(1)) for value in values if value]
    return costs


def model_costs(path: Path = MODELS_TABLE, work: str = "train") -> dict[str, list[float]]:
    """The whole-model ratios of each mode, over the models of the ``Whole models ... (work)`` table.

    A cell that is a range (``1.02-1.07``, with an en dash) gives both ends. Columns named ``torch <mode>`` (torch's
    own ``padding_mode``, the reference row of the suite) are left out: the choosing table shows
    padmods' layers.
    """
    costs: dict[str, list[float]] = {}
    if not path.is_file():
        return costs
    for title, rows in list_tables(path.read_text(encoding="utf-8")):
        if not (title.startswith("Whole models") and f"({work})" in title) or not rows:
            continue
        for row in rows[1:]:
            mode = row[0].strip("`' ")
            if " " in mode:  # torch's own padding_mode
                continue
            for cell in row[1:]:
                match = _RANGE.match(cell.strip())
                if match is not None:
                    costs.setdefault(mode, []).extend(float(value) for value in match.groups() if value)
    return costs


def costs_for_choosing() -> tuple[dict[str, list[float]], str, Path]:
    """The cost column's numbers per mode, what they are, and the table they come from.

    The whole-model suite's training step when its table exists, else the per-layer suite's shapes
    A-C, float32, forward + backward.
    """
    if MODELS_TABLE.is_file():
        return model_costs(), "a training step of whole models over the same model with ``nn.Conv2d``", MODELS_TABLE
    per_layer = {mode: values[:3] for mode, values in cost_over_conv2d().items()}
    what = "forward + backward of one layer over ``nn.Conv2d`` with zero padding, shapes A-C, float32"
    return per_layer, what, LAYERS_TABLE


def reader_table(path: Path) -> str:
    """A stored benchmark table for the performance page: no development targets, every title labelled.

    Each title says which padmods version and commit measured it (and on what), and the table of
    padmods' layers for torch's modes over zeros is titled for what it holds.
    """
    label = measured_with(path)
    text = path.read_text(encoding="utf-8")
    text = text.replace("; target in brackets", "")
    text = re.sub(r" \[[<>=]+ ?[\d.]+\]", "", text)
    text = text.replace(_OVER_ZEROS, "padmods' reflect, replicate and circular layers over ``nn.Conv2d`` *zeros*")
    lines = []
    for line in text.splitlines():
        if line.startswith(".. list-table::"):
            lines += [f"{line}; {label}", "   :class: padmods-numbers"]
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def performance_models() -> str:
    """The performance page's whole-model tables, or a sentence saying that this version has none yet."""
    if MODELS_TABLE.is_file():
        return reader_table(MODELS_TABLE)
    return (
        "There are no whole-model numbers for this version yet. The suite writes them to "
        f"``docs/_tables/{MODELS_TABLE.name}``, and this section and the cost column of "
        ":doc:`guide/choosing` then show them.\n"
    )


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


def _leak(mode: str) -> str:
    """The balanced accuracy of Experiment 1, and which coordinate leaks when only one does.

    ``'spherical'`` wraps the width but not the height: every pixel of the top row gets the
    corner's score, so the model learns the row (the latitude) but not the column, and its
    balanced accuracy stays below 1.00 only because the rest of the top row counts as false alarms.
    """
    result = position_leak(mode)
    scores = result.scores
    same_along_rows = bool(torch.allclose(scores, scores[:, :1].expand_as(scores), atol=1e-5))
    same_along_columns = bool(torch.allclose(scores, scores[:1, :].expand_as(scores), atol=1e-5))
    text = f"{result.balanced_accuracy:.2f}"
    if same_along_rows and not same_along_columns:
        text += " (row only)"
    elif same_along_columns and not same_along_rows:
        text += " (column only)"
    return text


def _suits(mode: str) -> str:
    if mode in SUITS:
        return SUITS[mode]
    doc = (padmods.get(mode).__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def _range(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}\u2013{high:.2f}"


def performance_summary() -> str:
    """The summary table of the performance page: each measured padmods layer's cost, shapes A-C."""
    columns = [
        ("CPU, float32", cost_over_conv2d(LAYERS_TABLE, "float32")),
        ("CPU, bfloat16", cost_over_conv2d(LAYERS_TABLE, "bfloat16")),
        ("CPU, float32, over the straightforward code", cost_over_conv2d(LAYERS_TABLE, "float32", "formulation")),
    ]
    rows = [
        f".. list-table:: One layer, forward + backward, shapes A-C; {measured_with(LAYERS_TABLE)}",
        "   :header-rows: 1",
        "   :stub-columns: 1",
        "   :class: padmods-numbers",
        "",
        "   * - mode",
    ]
    rows += [f"     - {name}" for name, _ in columns]
    modes = [mode for mode in padmods.available(dim=2) if any(mode in costs for _, costs in columns)]
    for mode in modes:
        rows.append(f"   * - ``'{mode}'``")
        rows += [f"     - {_range(costs[mode][:3]) if mode in costs else '—'}" for _, costs in columns]
    return "\n".join(rows) + "\n"


def _percent(values: list[float]) -> str:
    """``1.02`` to ``1.05`` as 2 to 5 percent over the baseline, written with an en dash."""
    low, high = (round(100 * (value - 1)) for value in (min(values), max(values)))
    return f"{low}%" if low == high else f"{low}\u2013{high}%"


def performance_numbers() -> str:
    """The substitutions for every number the performance page's prose quotes, computed from its tables.

    The prose writes ``|partial-cost|`` rather than a number, so that regenerating the tables
    cannot leave the text saying something else than the tables.
    """
    over_zeros = cost_over_conv2d(LAYERS_TABLE, "float32")
    over_zeros_bf16 = cost_over_conv2d(LAYERS_TABLE, "bfloat16")
    over_formulation = cost_over_conv2d(LAYERS_TABLE, "float32", "formulation")
    over_torch = {}
    for title, rows in list_tables(LAYERS_TABLE.read_text(encoding="utf-8")):
        if title.startswith("Ratio to the ``nn.Conv2d`` baseline (float32, padding=int)"):
            for row in rows[1:]:
                match = re.match(r"``(\w+)`` vs ``(\w+)``", row[0])
                if match and match.group(1) == match.group(2):
                    over_torch[match.group(1)] = [float(m.group(1)) for m in map(_CELL.match, row[1:]) if m]
    torch_modes = [value for mode in ("reflect", "replicate", "circular") for value in over_zeros[mode][:3]]
    values = {
        "torch-modes-cost": _percent(torch_modes),
        "partial-cost": _percent(over_zeros["partial"][:3]),
        "coord-cost": _percent(over_zeros["coord"][:3]),
        "coord-cost-b": f"{over_zeros['coord'][1]:.2f}",
        "partial-vs-formulation": _range(over_formulation["partial"][:3]),
        "coord-vs-formulation": _range(over_formulation["coord"][:3]),
        "circular-vs-torch": _range(over_torch["circular"][:3]),
        "partial-cost-bf16": _range(over_zeros_bf16["partial"][:3]),
        "coord-cost-bf16": _range(over_zeros_bf16["coord"][:3]),
        "layers-measured": measured_with(LAYERS_TABLE),
    }
    return "\n".join(f".. |{name}| replace:: {value}" for name, value in values.items()) + "\n"


def choosing_table() -> str:
    """The ``list-table`` of the guide's "Choosing a padding mode" page, one row per 2-D mode."""
    costs, what, source = costs_for_choosing()
    rows = [
        f".. list-table:: Every registered mode. Cost: {what}; {measured_with(source)}",
        "   :header-rows: 1",
        "   :stub-columns: 1",
        "   :class: padmods-choosing",
        "",
        "   * - mode",
        "     - position leak (0.50 = none)",
        "     - border impact (1.00 = even)",
        "     - cost (1.00 = zeros)",
        "     - exact under ``torch.roll``",
        "     - suits",
    ]
    with torch.enable_grad():
        for mode in padmods.available(dim=2):
            cost = _range(costs[mode]) if costs.get(mode) else "not measured"
            rows += [
                f"   * - ``'{mode}'``",
                f"     - {_leak(mode)}",
                f"     - {_border_impact(mode):.2f}",
                f"     - {cost}",
                f"     - {'yes' if _roll_exact(mode) else 'no'}",
                f"     - {_suits(mode)}",
            ]
    return "\n".join(rows) + "\n"
