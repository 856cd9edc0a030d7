"""Benchmark suite: what padmods layers cost next to ``nn.Conv2d`` and next to the textbook formulations.

For every layer and shape it prints the median forward and forward+backward time, the ratio to the
baseline ``nn.Conv2d`` measured in the same run (``padding_mode='zeros'`` for zeros, partial and coord;
the same ``padding_mode`` for reflect, replicate and circular) and the ratio to the straightforward
formulation (``benchmarks/formulations.py``). Contenders of one shape are interleaved: each round
times one block of calls of every contender, in an order rotated from round to round, so slow drifts
of the machine hit all of them alike. Medians are taken over the rounds.

Run from the repository root::

    python benchmarks/run.py                      # full table, float32 and bfloat16, int and 'same'
    python benchmarks/run.py --quick              # a fast, rougher pass
    python benchmarks/run.py --json out.json --rst table.rst
    python benchmarks/run.py --device cuda --dtype float32,bfloat16
    python benchmarks/run.py --experiment impact  # impact_map: gradient vs exact (experiment 2)
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from formulations import ConcatCoordConv2d, PadThenConv2d, WholeMapPartialConv2d

import padmods

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Shape:
    """One convolution the table measures."""

    name: str
    batch: int
    in_channels: int
    out_channels: int
    size: int
    kernel: int
    stride: int
    padding: int

    def describe(self) -> str:
        text = f"N={self.batch}, {self.in_channels}->{self.out_channels}, {self.size}x{self.size}, k{self.kernel}"
        if self.stride != 1:
            text += f", stride {self.stride}"
        return text + f", pad {self.padding}"


SHAPES = {
    "A": Shape("A", 8, 64, 64, 56, 3, 1, 1),
    "B": Shape("B", 32, 16, 16, 28, 3, 1, 1),
    "C": Shape("C", 1, 3, 64, 224, 7, 2, 3),
    "D": Shape("D", 64, 1, 1, 10, 3, 1, 1),
}

LAYERS = ("zeros", "reflect", "replicate", "circular", "partial", "coord")
TORCH_MODES = ("zeros", "reflect", "replicate", "circular")

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

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}


def baseline_mode(layer: str) -> str:
    """The ``padding_mode`` of the ``nn.Conv2d`` that ``layer`` is timed against."""
    return layer if layer in TORCH_MODES else "zeros"


# ---- building the contenders ------------------------------------------------------------------


def _same_as_int(shape: Shape) -> int:
    """Symmetric int padding whose output size equals ``'same'`` (for an ``nn.Conv2d`` baseline)."""
    pairs = padmods.functional.resolve_padding2d("same", (shape.size, shape.size), shape.kernel, shape.stride)
    return max(max(pair) for pair in pairs)


def make_baseline(mode: str, shape: Shape, padding: str, device: torch.device, dtype: torch.dtype) -> nn.Conv2d:
    """``nn.Conv2d`` with ``padding_mode=mode``; ``'same'`` with a stride becomes its symmetric int twin."""
    pad: int | str = shape.padding if padding == "int" else "same"
    if pad == "same" and shape.stride != 1:
        pad = _same_as_int(shape)
    return nn.Conv2d(
        shape.in_channels,
        shape.out_channels,
        shape.kernel,
        shape.stride,
        pad,
        padding_mode=mode,
        device=device,
        dtype=dtype,
    )


def make_layer(layer: str, shape: Shape, padding: str, device: torch.device, dtype: torch.dtype) -> nn.Conv2d:
    """The padmods layer of mode ``layer`` (CoordConv2d keeps the baseline's in/out channels)."""
    pad: int | str = shape.padding if padding == "int" else "same"
    cls = padmods.get(layer)
    return cls(shape.in_channels, shape.out_channels, shape.kernel, shape.stride, pad, device=device, dtype=dtype)


def make_straightforward(layer: str, module: nn.Conv2d) -> nn.Module:
    """The textbook formulation of ``layer``, sharing the parameters of the padmods ``module``."""
    if layer == "partial":
        return WholeMapPartialConv2d(module)
    if layer == "coord":
        return ConcatCoordConv2d(module)  # type: ignore[arg-type]
    return PadThenConv2d(module, layer)


# ---- timing -----------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _forward(module: nn.Module, x: Tensor) -> Callable[[], object]:
    def call() -> object:
        with torch.no_grad():
            return module(x)

    return call


def _forward_backward(module: nn.Module, x: Tensor) -> Callable[[], object]:
    inputs = [x, *(p for p in module.parameters() if p.requires_grad)]

    def call() -> object:
        return torch.autograd.grad(module(x).sum(), inputs)

    return call


#: Clocks a block can be timed with: wall time (what a user waits for), or the CPU time of this
#: process (all threads), which does not count time when another process holds the cores.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _page_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing, e.g. Windows)."""
    if resource is None:
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)


def _time_block(
    fn: Callable[[], object], number: int, device: torch.device, clock: str = "wall"
) -> tuple[float, float]:
    """Seconds and minor page faults per call, over ``number`` calls."""
    now = CLOCKS[clock]
    _sync(device)
    faults, start = _page_faults(), now()
    for _ in range(number):
        fn()
    _sync(device)
    elapsed = now() - start
    return elapsed / number, (_page_faults() - faults) / number


def measure(
    fns: dict[str, Callable[[], object]],
    *,
    rounds: int,
    block_s: float,
    warmup_s: float,
    device: torch.device,
    clock: str = "wall",
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-call seconds and page faults of every function, one block per round each, in a rotated order.

    Each function first runs for about ``warmup_s`` (caches, allocator, kernel selection); the
    number of calls per block is then set so that one block lasts about ``block_s``. Garbage
    collection is off while blocks run, as in :mod:`timeit`.
    """
    numbers = {}
    for name, fn in fns.items():
        fn()
        start, calls = time.perf_counter(), 0
        while True:
            _time_block(fn, 1, device)
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= warmup_s:
                break
        numbers[name] = max(1, round(block_s / (elapsed / calls)))
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    faults: dict[str, list[float]] = {name: [] for name in names}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            shift = r % len(names)
            order = names[shift:] + names[:shift]
            if (r // len(names)) % 2:  # every other cycle also runs backwards, so no one always follows X
                order.reverse()
            for name in order:
                seconds, page_faults = _time_block(fns[name], numbers[name], device, clock)
                times[name].append(seconds)
                faults[name].append(page_faults)
    finally:
        if enabled:
            gc.enable()
    return times, faults


#: glibc's ``mallopt`` parameters (malloc.h): trim threshold and mmap threshold.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory mapped, as jemalloc and tcmalloc do; True if it took effect.

    By default glibc serves buffers of more than 128 KiB-32 MiB (a threshold it adapts as it goes)
    with fresh ``mmap`` calls and returns the top of its heap to the kernel once more than twice
    that is free. A buffer of an output's size then costs one page fault per 4 KiB page each time
    it is allocated, and which calls pay depends on the history of the process: the same
    ``nn.Conv2d`` call measured 0 and 1,536 faults per call in two runs. With a fixed 32 MiB mmap
    threshold and no trimming, freed buffers are reused and a benchmark sees the layers' own cost.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)) and bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20))
    except (OSError, AttributeError):
        return False


@dataclass
class Stats:
    """Summary of one contender's per-round times (seconds per call)."""

    median: float
    q1: float
    q3: float
    rounds: int
    calls_per_block: int = 0

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        q = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
        return cls(statistics.median(samples), q[0], q[2], len(samples))

    @property
    def spread(self) -> float:
        """Interquartile range over the median: the noise of this contender in this run."""
        return (self.q3 - self.q1) / self.median


def _paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """Median over rounds of ``a[r] / b[r]``: robust when the machine drifts between rounds."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


# ---- one configuration ------------------------------------------------------------------------


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


def _check_outputs(
    layer: str, module: nn.Module, straight: nn.Module, x: Tensor, dtype: torch.dtype, log: Callable[[str], None]
) -> float:
    """Largest difference between the padmods layer and its formulation, relative to the output scale.

    A difference beyond rounding is reported, not raised, so that one bad cell does not cost a
    whole (GPU) run; the JSON keeps it. CUDA float32 convolutions may run in TF32.
    """
    with torch.no_grad():
        a, b = module(x).double(), straight(x).double()
    scale = max(1.0, b.abs().max().item())
    diff = (a - b).abs().max().item() / scale
    if dtype == torch.float64:
        tol = 1e-7  # NVIDIA divides by (valid + 1e-8)
    elif dtype == torch.float32:
        tol = 1e-4 if x.device.type == "cpu" else 5e-3
    else:
        tol = 3e-2
    if diff > tol:
        log(f"  CHECK FAILED: {layer} differs from the straightforward formulation by {diff:.3g} (tolerance {tol:g})")
    return diff


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
        torch.manual_seed(0)
        x = torch.randn(
            shape.batch, shape.in_channels, shape.size, shape.size, device=device, dtype=dtype, requires_grad=True
        )
        modules: dict[str, nn.Module] = {}
        checks: dict[str, float] = {}
        for mode in dict.fromkeys(baseline_mode(layer) for layer in layers):
            modules[f"nn.Conv2d[{mode}]"] = make_baseline(mode, shape, padding, device, dtype)
        for layer in layers:
            module = make_layer(layer, shape, padding, device, dtype)
            straight = make_straightforward(layer, module)
            checks[layer] = _check_outputs(layer, module, straight, x, dtype, log)
            modules[f"padmods[{layer}]"] = module
            modules[f"straight[{layer}]"] = straight
        result = {}
        page_faults = {}
        for phase, maker in (("fwd", _forward), ("fwdbwd", _forward_backward)):
            fns = {name: maker(m, x) for name, m in modules.items()}
            result[phase], page_faults[phase] = measure(
                fns, rounds=rounds, block_s=block_s, warmup_s=warmup_s, device=device, clock=clock
            )
        zeros_key = "nn.Conv2d[zeros]"
        for layer in layers:
            base = f"nn.Conv2d[{baseline_mode(layer)}]"
            row = Row(config, layer, shape.name, base, max_rel_diff=checks[layer])
            row.target = TARGETS[layer][shape.name] if padding == "int" and dtype_name == "float32" else None
            for phase in ("fwd", "fwdbwd"):
                t = result[phase]
                ours, ref, straight_t = t[f"padmods[{layer}]"], t[base], t[f"straight[{layer}]"]
                entry: dict[str, Any] = {
                    "padmods": asdict(Stats.of(ours)),
                    "baseline": asdict(Stats.of(ref)),
                    "straightforward": asdict(Stats.of(straight_t)),
                    "samples_s": {"padmods": ours, "baseline": ref, "straightforward": straight_t},
                    "ratio_baseline": statistics.median(ours) / statistics.median(ref),
                    "paired_ratio_baseline": _paired_ratio(ours, ref),
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
            rows.append(row)
            log(_format_row(row))
    return rows


# ---- reporting --------------------------------------------------------------------------------


def _verdict(row: Row) -> str:
    if row.target is None:
        return ""
    return "ok" if row.fwdbwd["ratio_baseline"] <= row.target else "MISS"


def _format_row(row: Row) -> str:
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
        text += f" | target <= {row.target:.2f}: {_verdict(row)}"
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


def _environment(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    env: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "torch": torch.__version__,
        "padmods": padmods.__version__,
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


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _supported(dtype_name: str, device: torch.device) -> bool:
    """Whether a small conv forward+backward runs in this dtype on this device."""
    try:
        x = torch.randn(1, 2, 5, 5, device=device, dtype=DTYPES[dtype_name], requires_grad=True)
        conv = nn.Conv2d(2, 2, 3, padding=1, device=device, dtype=DTYPES[dtype_name])
        conv(x).sum().backward()
    except (RuntimeError, NotImplementedError):
        return False
    return True


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--experiment", choices=("layers", "impact"), default="layers", help="what to measure")
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
    parser.add_argument("--json", default=str(HERE / "results" / "results.json"), help="where to write JSON results")
    parser.add_argument("--rst", default=None, help="also write the table as reST list-tables to this path")
    return parser.parse_args(argv)


def _configs(args: argparse.Namespace, device: torch.device) -> list[tuple[str, str]]:
    if args.padding or args.dtype or args.quick:
        paddings = _split(args.padding or "int")
        dtypes = _split(args.dtype or "float32")
        configs = [(p, d) for d in dtypes for p in paddings]
    else:
        configs = [("int", "float32"), ("same", "float32"), ("int", "bfloat16")]
    kept = []
    for padding, dtype_name in configs:
        if padding not in ("int", "same"):
            raise SystemExit(f"--padding takes 'int' and 'same', got {padding!r}")
        if dtype_name not in DTYPES:
            raise SystemExit(f"--dtype takes {sorted(DTYPES)}, got {dtype_name!r}")
        if _supported(dtype_name, device):
            kept.append((padding, dtype_name))
        else:
            print(f"skipping {dtype_name}: no convolution backward for it on {device}")
    return kept


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

        report = {"environment": _environment(args, device), "impact": run_impact(quick=args.quick, log=print)}
        _write_json(args.json, report)
        return 0
    layers = _split(args.layers)
    unknown = [layer for layer in layers if layer not in LAYERS]
    if unknown:
        raise SystemExit(f"--layers takes {LAYERS}, got {unknown}")
    shapes = [SHAPES[letter] for letter in args.shapes.upper() if letter in SHAPES]
    env = _environment(args, device)
    print(f"padmods {env['padmods']}, torch {env['torch']}, {env['processor']}, {env['threads']} threads, {device}")
    rows: list[Row] = []
    for padding, dtype_name in _configs(args, device):
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
    _write_json(args.json, report)
    table = rst_table(rows, shapes)
    print()
    print(table)
    if args.rst:
        Path(args.rst).parent.mkdir(parents=True, exist_ok=True)
        Path(args.rst).write_text(table + "\n")
        print(f"wrote {args.rst}")
    misses = [row for row in rows if _verdict(row) == "MISS"]
    print(f"targets: {sum(_verdict(r) == 'ok' for r in rows)} met, {len(misses)} missed")
    return 0


def _write_json(path: str, report: dict[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
