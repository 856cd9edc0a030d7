"""What the benchmark reports: result rows, verdicts against the targets, the log, reST and JSON.

- :class:`Row` and :func:`make_row`: one layer on one shape, its statistics and ratios per phase.
- :data:`TARGETS`, :data:`STRETCH` and :func:`verdict`: the targets of issue 8.
- :func:`format_row` (the printed line), :func:`rst_table` (the docs' ``list-table`` directives),
  :func:`environment` (machine, versions and settings) and :func:`write_json`.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from cases import TORCH_MODES, Shape, baseline_mode
from timing import Stats, paired_ratio

import padmods

#: Targets of issue 8: fwd+bwd median over the baseline's, per layer and shape.
TARGETS: dict[str, dict[str, float]] = {
    "zeros": dict.fromkeys("ABCD", 1.02),
    "reflect": dict.fromkeys("ABCD", 1.05),
    "replicate": dict.fromkeys("ABCD", 1.05),
    "circular": dict.fromkeys("ABCD", 1.05),
    "partial": {"A": 1.05, "B": 1.05, "C": 1.05, "D": 1.25},
    "coord": {"A": 1.10, "B": 1.10, "C": 1.20, "D": 1.30},
}
#: Stretch target: torch modes within this of nn.Conv2d *zeros* on these shapes.
STRETCH = {"A": 1.10, "C": 1.10}


@dataclass
class Row:
    """Results of one layer on one shape."""

    config: str
    layer: str
    shape: str
    baseline: str
    fwd: dict[str, Any] = field(default_factory=dict)
    fwdbwd: dict[str, Any] = field(default_factory=dict)
    target: float | None = None
    stretch_target: float | None = None
    max_rel_diff: float = 0.0


def make_row(
    config: str,
    layer: str,
    shape: Shape,
    padding: str,
    dtype_name: str,
    times: dict[str, dict[str, list[float]]],
    page_faults: dict[str, dict[str, list[float]]],
    max_rel_diff: float,
) -> Row:
    """The row of ``layer`` from the per-round samples of every contender of ``shape``, by phase and name."""
    zeros_key = "nn.Conv2d[zeros]"
    base = f"nn.Conv2d[{baseline_mode(layer)}]"
    row = Row(config, layer, shape.name, base, max_rel_diff=max_rel_diff)
    row.target = TARGETS[layer][shape.name] if padding == "int" and dtype_name == "float32" else None
    for phase in ("fwd", "fwdbwd"):
        t = times[phase]
        ours, ref, straight_t = t[f"padmods[{layer}]"], t[base], t[f"straight[{layer}]"]
        entry: dict[str, Any] = {
            "padmods": asdict(Stats.of(ours)),
            "baseline": asdict(Stats.of(ref)),
            "straightforward": asdict(Stats.of(straight_t)),
            "samples_s": {"padmods": ours, "baseline": ref, "straightforward": straight_t},
            "ratio_baseline": statistics.median(ours) / statistics.median(ref),
            "paired_ratio_baseline": paired_ratio(ours, ref),
            "ratio_straightforward": statistics.median(ours) / statistics.median(straight_t),
            "noise": max(Stats.of(s).spread for s in (ours, ref)),
            "page_faults_per_call": {
                "padmods": statistics.median(page_faults[phase][f"padmods[{layer}]"]),
                "baseline": statistics.median(page_faults[phase][base]),
                "straightforward": statistics.median(page_faults[phase][f"straight[{layer}]"]),
            },
        }
        if layer in TORCH_MODES and layer != "zeros" and zeros_key in t:
            entry["ratio_zeros"] = statistics.median(ours) / statistics.median(t[zeros_key])
            if shape.name in STRETCH and padding == "int" and dtype_name == "float32":
                row.stretch_target = STRETCH[shape.name]
        setattr(row, phase, entry)
    return row


def verdict(row: Row) -> str:
    if row.target is None:
        return ""
    return "ok" if row.fwdbwd["ratio_baseline"] <= row.target else "MISS"


def format_row(row: Row) -> str:
    fb, f = row.fwdbwd, row.fwd
    text = (
        f"  {row.config:<26} {row.shape} {row.layer:<9} fwd+bwd {fb['padmods']['median'] * 1e3:8.3f} ms"
        f"  x{fb['ratio_baseline']:.3f} vs {row.baseline:<19} (paired x{fb['paired_ratio_baseline']:.3f},"
        f" noise {fb['noise']:.0%})  x{fb['ratio_straightforward']:.3f} vs straightforward"
        f" | fwd {f['padmods']['median'] * 1e3:8.3f} ms x{f['ratio_baseline']:.3f} / x{f['ratio_straightforward']:.3f}"
    )
    if "ratio_zeros" in fb:
        text += f" | vs zeros x{fb['ratio_zeros']:.3f}"
    faults = fb["page_faults_per_call"]
    if faults["padmods"] or faults["baseline"]:
        text += f" | page faults/call {faults['padmods']:.0f} vs {faults['baseline']:.0f}"
    if row.target is not None:
        text += f" | target <= {row.target:.2f}: {verdict(row)}"
    return text


def rst_table(rows: Sequence[Row], shapes: Sequence[Shape]) -> str:
    """The results as reST ``list-table`` directives, one per configuration."""
    out: list[str] = []
    for config in dict.fromkeys(row.config for row in rows):
        mine = [row for row in rows if row.config == config]
        for title, key, note in (
            (
                f"Ratio to the ``nn.Conv2d`` baseline ({config})",
                "ratio_baseline",
                "fwd+bwd (forward only); target in brackets",
            ),
            (
                f"Ratio to the straightforward formulation ({config})",
                "ratio_straightforward",
                "fwd+bwd (forward only)",
            ),
        ):
            out += [f".. list-table:: {title}: {note}", "   :header-rows: 1", "   :stub-columns: 1", ""]
            out.append("   * - layer")
            for shape in shapes:
                out.append(f"     - {shape.name}: {shape.describe()}")
            for layer in dict.fromkeys(row.layer for row in mine):
                label = f"``{layer}``" if key != "ratio_baseline" else f"``{layer}`` vs ``{baseline_mode(layer)}``"
                out.append(f"   * - {label}")
                for shape in shapes:
                    row = next((r for r in mine if r.layer == layer and r.shape == shape.name), None)
                    if row is None:
                        out.append("     - ")
                        continue
                    cell = f"{row.fwdbwd[key]:.2f} ({row.fwd[key]:.2f})"
                    if key == "ratio_baseline" and row.target is not None:
                        cell += f" [<= {row.target:.2f}]"
                    out.append(f"     - {cell}")
            out.append("")
        stretch = [row for row in mine if "ratio_zeros" in row.fwdbwd]
        if stretch:
            out += [
                f".. list-table:: Torch modes over ``nn.Conv2d`` *zeros* ({config}): fwd+bwd (forward only)",
                "   :header-rows: 1",
                "   :stub-columns: 1",
                "",
                "   * - layer",
            ]
            out += [f"     - {shape.name}" for shape in shapes]
            for layer in dict.fromkeys(row.layer for row in stretch):
                out.append(f"   * - ``{layer}``")
                for shape in shapes:
                    row = next((r for r in stretch if r.layer == layer and r.shape == shape.name), None)
                    out.append(
                        "     - " + (f"{row.fwdbwd['ratio_zeros']:.2f} ({row.fwd['ratio_zeros']:.2f})" if row else "")
                    )
            out.append("")
    return "\n".join(out)


def environment(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    env: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "torch": torch.__version__,
        "padmods": padmods.__version__,
        "commit": _commit(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "rounds": args.rounds,
        "block_s": args.block,
        "clock": args.clock,
        "malloc": args.malloc,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def _commit() -> str | None:
    """The git commit of the working tree (``+dirty`` with uncommitted changes), or ``None`` outside git."""
    import subprocess

    try:
        run = functools.partial(subprocess.run, capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
        commit = run(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_json(path: str, report: dict[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")
