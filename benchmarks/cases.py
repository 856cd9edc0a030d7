"""What the benchmark measures: the shapes, the contenders built for them, and the configurations.

- :class:`Shape` and :data:`SHAPES`: the four convolutions A-D of issue 8.
- :func:`make_layer`, :func:`make_baseline`, :func:`make_straightforward`: the padmods layer, the
  ``nn.Conv2d`` it is timed against (:func:`baseline_mode`) and its textbook formulation
  (``formulations.py``); :func:`make_contenders` builds all of them for one shape and checks each
  layer's output against its formulation before anything is timed.
- :func:`configs`: the (padding, dtype) configurations a run covers, without the dtypes the device
  cannot run a convolution backward in.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from formulations import ConcatCoordConv2d, PadThenConv2d, WholeMapPartialConv2d
from torch import Tensor, nn

import padmods


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

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}


def baseline_mode(layer: str) -> str:
    """The ``padding_mode`` of the ``nn.Conv2d`` that ``layer`` is timed against."""
    return layer if layer in TORCH_MODES else "zeros"


# ---- building the contenders ------------------------------------------------------------------


def _same_as_int(shape: Shape) -> int:
    """Symmetric int padding whose output size equals ``'same'`` (for an ``nn.Conv2d`` baseline)."""
    pairs = padmods.functional.resolve_padding("same", (shape.size, shape.size), shape.kernel, shape.stride)
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


def make_contenders(
    layers: Sequence[str],
    shape: Shape,
    padding: str,
    device: torch.device,
    dtype: torch.dtype,
    log: Callable[[str], None],
) -> tuple[Tensor, dict[str, nn.Module], dict[str, float]]:
    """The shared input, every contender of one shape by name, and each layer's output check.

    Names: ``nn.Conv2d[<mode>]`` for the baselines, ``padmods[<layer>]`` and ``straight[<layer>]``.
    The input (seed 0) requires grad; the checks are :func:`_check_outputs`'s relative differences.
    """
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
    return x, modules, checks


# ---- configurations ---------------------------------------------------------------------------


def split_commas(text: str) -> list[str]:
    """The non-empty items of a comma-separated option, stripped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _supported(dtype_name: str, device: torch.device) -> bool:
    """Whether a small conv forward+backward runs in this dtype on this device."""
    try:
        x = torch.randn(1, 2, 5, 5, device=device, dtype=DTYPES[dtype_name], requires_grad=True)
        conv = nn.Conv2d(2, 2, 3, padding=1, device=device, dtype=DTYPES[dtype_name])
        conv(x).sum().backward()
    except (RuntimeError, NotImplementedError):
        return False
    return True


def configs(args: argparse.Namespace, device: torch.device) -> list[tuple[str, str]]:
    """The ``(padding, dtype name)`` pairs to run, from ``--padding``, ``--dtype`` and ``--quick``."""
    if args.padding or args.dtype or args.quick:
        paddings = split_commas(args.padding or "int")
        dtypes = split_commas(args.dtype or "float32")
        pairs = [(p, d) for d in dtypes for p in paddings]
    else:
        pairs = [("int", "float32"), ("same", "float32"), ("int", "bfloat16")]
    kept = []
    for padding, dtype_name in pairs:
        if padding not in ("int", "same"):
            raise SystemExit(f"--padding takes 'int' and 'same', got {padding!r}")
        if dtype_name not in DTYPES:
            raise SystemExit(f"--dtype takes {sorted(DTYPES)}, got {dtype_name!r}")
        if _supported(dtype_name, device):
            kept.append((padding, dtype_name))
        else:
            print(f"skipping {dtype_name}: no convolution backward for it on {device}")
    return kept
