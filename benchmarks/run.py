"""Benchmark suite: what padmods layers cost next to ``nn.Conv2d`` and next to the textbook formulations.

For every layer and shape it prints the median forward and forward+backward time, the ratio to the
baseline ``nn.Conv2d`` measured in the same run (``padding_mode='zeros'`` for zeros, partial and coord;
the same ``padding_mode`` for reflect, replicate and circular) and the ratio to the straightforward
formulation (``benchmarks/formulations.py``). Contenders of one shape are interleaved: each round
times one block of calls of every contender, in an order rotated from round to round, so slow drifts
of the machine hit all of them alike. Medians are taken over the rounds.

This file parses the options and wires the others together: ``cases.py`` (shapes, contenders,
configurations), ``timing.py`` (clocks, interleaved rounds), ``report.py`` (rows, verdicts, log,
reST, JSON), ``impact.py`` (``--experiment impact``) and ``paths.py`` (``--experiment paths``).

Run from the repository root::

    python benchmarks/run.py                      # full table, float32 and bfloat16, int and 'same'
    python benchmarks/run.py --quick              # a fast, rougher pass
    python benchmarks/run.py --json out.json --rst table.rst
    python benchmarks/run.py --device cuda --dtype float32,bfloat16
    python benchmarks/run.py --experiment impact  # impact_map: gradient vs exact (experiment 2)
    python benchmarks/run.py --experiment paths --malloc keep  # each fast path vs its simple form
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import DTYPES, LAYERS, SHAPES, Shape, configs, make_contenders, split_commas
from report import Row, environment, format_row, make_row, rst_table, verdict, write_json
from timing import CLOCKS, PHASES, keep_freed_memory, measure

HERE = Path(__file__).resolve().parent


def run_config(
    layers: Sequence[str],
    shapes: Sequence[Shape],
    padding: str,
    dtype_name: str,
    device: torch.device,
    *,
    rounds: int,
    block_s: float,
    warmup_s: float,
    log: Callable[[str], None],
    clock: str = "wall",
) -> list[Row]:
    """Time every layer on every shape for one padding kind (``'int'``/``'same'``) and dtype."""
    dtype = DTYPES[dtype_name]
    config = f"{dtype_name}, padding={'int' if padding == 'int' else repr('same')}"
    rows = []
    for shape in shapes:
        x, modules, checks = make_contenders(layers, shape, padding, device, dtype, log)
        result = {}
        page_faults = {}
        for phase, maker in PHASES.items():
            fns = {name: maker(m, x) for name, m in modules.items()}
            result[phase], page_faults[phase] = measure(
                fns, rounds=rounds, block_s=block_s, warmup_s=warmup_s, device=device, clock=clock
            )
        for layer in layers:
            row = make_row(config, layer, shape, padding, dtype_name, result, page_faults, checks[layer])
            rows.append(row)
            log(format_row(row))
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--experiment", choices=("layers", "impact", "paths", "models"), default="layers", help="what to measure"
    )
    parser.add_argument("--layers", default=",".join(LAYERS), help="comma-separated modes (default: all six)")
    parser.add_argument("--shapes", default="ABCD", help="shape letters, e.g. 'AC' (default: ABCD)")
    parser.add_argument(
        "--padding",
        default=None,
        help="comma-separated 'int' and/or 'same' (default: int, plus 'same' for float32)",
    )
    parser.add_argument(
        "--dtype",
        default=None,
        help="comma-separated dtypes (default: float32, plus bfloat16 int-padding rows where supported)",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads on CPU (default: 2)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per shape (default: 21)")
    parser.add_argument("--block", type=float, default=None, help="seconds per timed block (default: 0.02)")
    parser.add_argument("--quick", action="store_true", help="few rounds and short blocks, float32 int only")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time (default), or this process's CPU time, which a busy machine disturbs less",
    )
    parser.add_argument(
        "--malloc",
        choices=("system", "keep"),
        default="system",
        help="'keep': glibc keeps freed memory mapped (no page faults from reallocating; see keep_freed_memory)",
    )
    parser.add_argument(
        "--models", default="resnet,mobilenet,unet", help="--experiment models: comma-separated model shapes"
    )
    parser.add_argument(
        "--modes", default=None, help="--experiment models: comma-separated modes (default: all, torch's included)"
    )
    parser.add_argument("--works", default="train,infer", help="--experiment models: train and/or infer")
    parser.add_argument(
        "--from-json", nargs="+", metavar="JSON", help="--experiment models: no timing, --rst from these runs' JSON"
    )
    parser.add_argument(
        "--channels-last", action="store_true", help="--experiment models: channels_last models and input"
    )
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="--experiment models: each mode in a process of its own, with the plain model (as a user runs one)",
    )
    parser.add_argument("--json", default=str(HERE / "results" / "results.json"), help="where to write JSON results")
    parser.add_argument("--rst", default=None, help="also write the table as reST list-tables to this path")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.malloc == "keep" and not keep_freed_memory():
        raise SystemExit("--malloc keep needs glibc's mallopt, which this system does not have")
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    else:  # true float32 on CUDA: TF32 convolutions would differ from the formulations by ~1e-4
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    if args.rounds is None:
        args.rounds = 7 if args.quick else 21
    if args.block is None:
        args.block = 0.01 if args.quick else 0.02
    if args.experiment == "impact":
        from impact import run_impact

        report = {"environment": environment(args, device), "impact": run_impact(quick=args.quick, log=print)}
        write_json(args.json, report)
        return 0
    if args.experiment == "paths":
        from paths import run_paths

        if device.type != "cpu":
            raise SystemExit("--experiment paths times CPU paths; run it without --device")
        env = environment(args, device)
        print(f"padmods {env['padmods']}, torch {env['torch']}, {env['processor']}, {env['threads']} threads, cpu")
        paths = run_paths(quick=args.quick, rounds=args.rounds, block=args.block, clock=args.clock, log=print)
        env["load_average_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
        write_json(args.json, {"environment": env, "paths": paths})
        return 0
    if args.experiment == "models":
        return _run_models(args, device)
    layers = split_commas(args.layers)
    unknown = [layer for layer in layers if layer not in LAYERS]
    if unknown:
        raise SystemExit(f"--layers takes {LAYERS}, got {unknown}")
    shapes = [SHAPES[letter] for letter in args.shapes.upper() if letter in SHAPES]
    env = environment(args, device)
    print(f"padmods {env['padmods']}, torch {env['torch']}, {env['processor']}, {env['threads']} threads, {device}")
    rows: list[Row] = []
    for padding, dtype_name in configs(args, device):
        rows += run_config(
            layers,
            shapes,
            padding,
            dtype_name,
            device,
            rounds=args.rounds,
            block_s=args.block,
            warmup_s=min(0.2, 5 * args.block),
            log=print,
            clock=args.clock,
        )
    env["load_average_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    report = {
        "environment": env,
        "shapes": {k: asdict(v) for k, v in SHAPES.items()},
        "rows": [asdict(r) for r in rows],
    }
    write_json(args.json, report)
    table = rst_table(rows, shapes)
    print()
    _show_table(table, args.rst)
    misses = [row for row in rows if verdict(row) == "MISS"]
    print(f"targets: {sum(verdict(r) == 'ok' for r in rows)} met, {len(misses)} missed")
    return 0


def _show_table(table: str, rst: str | None) -> None:
    """Print a reST table, and write it to ``rst`` too when given."""
    print(table)
    if rst:
        Path(rst).parent.mkdir(parents=True, exist_ok=True)
        Path(rst).write_text(table + "\n")
        print(f"wrote {rst}")


def _run_models(args: argparse.Namespace, device: torch.device) -> int:
    """``--experiment models``: whole converted models against the plain model (``models.py``)."""
    from border_taps import count_taps
    from models import CASES, MODES, rst_table, run_models

    if device.type != "cpu":
        raise SystemExit("--experiment models times the CPU; run it without --device")
    modes = split_commas(args.modes) if args.modes else list(MODES)
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        raise SystemExit(f"--modes takes {list(MODES)}, got {unknown}")
    if args.from_json:  # tables from earlier runs, one range per cell
        rows = [row for path in args.from_json for row in json.loads(Path(path).read_text())["models"]]
        _show_table(rst_table(rows, modes), args.rst)
        return 0
    env = environment(args, device)
    print(f"padmods {env['padmods']}, torch {env['torch']}, {env['processor']}, {env['threads']} threads, cpu")
    names = split_commas(args.models)
    if any(name not in CASES for name in names):
        raise SystemExit(f"--models takes {list(CASES)}, got {names}")
    border_taps = {}
    for name in names:  # the arithmetic bound of a border other than zeros (border_taps.py)
        border_taps[name] = count_taps(CASES[name].build(), torch.randn(CASES[name].input_shape)).ratio
        print(f"{name}: a border other than zeros computes {border_taps[name]:.3f}x zero padding's multiply-adds")
    if args.isolate:
        rows = _isolated_model_rows(args, names, modes)
    else:
        rows = run_models(
            models=names,
            modes=modes,
            works=split_commas(args.works),
            rounds=args.rounds,
            block=max(args.block, 0.2),
            channels_last=args.channels_last,
            clock=args.clock,
        )
    env["load_average_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    write_json(args.json, {"environment": env, "models": rows, "border_taps": border_taps})
    table = rst_table(rows, modes)
    print()
    _show_table(table, args.rst)
    return 0


def _isolated_model_rows(args: argparse.Namespace, names: Sequence[str], modes: Sequence[str]) -> list[dict]:
    """``--isolate``: each (model, mode) in a process of its own, timed against the plain model there.

    A user's process holds one model, not a dozen variants of it; the allocator's state, and so
    which calls page-fault, depends on everything the process allocated before (``--malloc``).
    """
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            for mode in modes:
                out = Path(folder) / "run.json"
                command = [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--experiment=models",
                    f"--models={name}",
                    f"--modes={mode}",
                    f"--works={args.works}",
                    f"--rounds={args.rounds}",
                    f"--block={args.block}",
                    f"--threads={args.threads}",
                    f"--clock={args.clock}",
                    f"--malloc={args.malloc}",
                    f"--json={out}",
                    *(["--channels-last"] if args.channels_last else []),
                ]
                result = subprocess.run(command, capture_output=True, text=True, check=True)
                print("\n".join(line for line in result.stdout.splitlines() if line.startswith((name, "  "))))
                rows += json.loads(out.read_text())["models"]
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
