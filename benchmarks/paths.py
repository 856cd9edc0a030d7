"""The fast paths of padmods' engine, each timed against its simple form (``--experiment paths``).

The project keeps a clever path only if it wins in a row of its own. Each row times one path
against the plain code it replaces, in one process, interleaved (:func:`timing.measure`, as in the
layer table), forward under ``torch.no_grad()`` and forward+backward through ``torch.autograd.grad``:

- ``depthwise``: ``padmods._conv.conv`` on a 1->1 channel convolution (a depthwise one over the batch
  where ``_runs_depthwise`` says so) against ``F.conv2d``. Where padmods does not take the path
  (shape D forward), the row times the depthwise form itself, to show the threshold keeps it out.
- ``circular-pad``: ``padmods._border_pad.border_pad`` (one-pass backward) against ``F.pad``.
- ``circular-conv``: the whole circular layer, ``padmods._conv.border_conv`` against
  ``F.conv2d(F.pad(x, pads, mode='circular'), ...)``. Both circular paths differ only in backward,
  so their forward rows are listed as not timed.
- ``partial``: ``padmods._partial.partial_conv`` (ratio and bias applied in place) against
  ``F.conv2d(x, w) * ratio + b``.
- ``coord``: ``padmods._coord.coord_conv`` on one image (the coordinate term added into the
  convolution's output by ``addmm_``/``baddbmm_``) against ``F.conv2d(x, w[:, :C], b) + coord_term(w[:, C:])``.
- ``coord-flat``: ``padmods._coord.coord_conv`` on a batch of small maps, whose coordinate term is
  one product with a cached flattened factor, against the same layer with the per-axis factors
  (``CoordFactors.flat`` set to ``None``), the form it takes on large maps.
- ``one-pass-pad``: ``padmods._conv.eager_pad`` for a border ``F.pad`` lacks (symmetric, per-axis),
  in one buffer with a one-pass backward, against ``padmods._axis_pad.concat_pad`` (one
  concatenation per axis).
- ``reflect-fold``: reflect padding with the one-pass fold as its backward, against ``F.pad``.
- ``fold-in-place``: a layer's convolution over a reflect or symmetric border whose backward folds
  the border into the convolution's fresh input gradient in place (``owned``), against folding it
  into a copy of that gradient, the form for a padded tensor someone else may hold.
- ``coord-append``: training CoordConv on a deep layer (weights larger than maps), the coordinate
  channels appended to the input, against splitting the weight into input and coordinate taps.
- ``coord-kept``: inference CoordConv with the layer's input taps and coordinate term kept
  between calls (one convolution and one addition), against splitting the weight and computing
  the term per call (``R4``), and against appending the coordinate channels to the input of a
  pointwise layer that widens the channels (``PW``), the form it replaced there.
- ``stride2-trim``: a stride-2 reflect convolution through ``padmods._conv.border_conv``, which
  leaves out the last padded row and column that no window reads (``_conv.unread_trimmed``),
  against ``F.conv2d(F.pad(x, pads, mode='reflect'), ...)`` with the whole border: depthwise on a
  MobileNet-shaped map (``DW2``) and dense on a 112x112 map (``S2``).
- ``zero-axes``: a per-axis layer's convolution (zeros along the height, circular along the
  width) with the zero axis left to the convolution's own padding (``_conv.zero_axes_apart``),
  against the whole border padded explicitly, then an unpadded convolution.
- ``eager-call``: a whole reflect layer's plain eager call (padding planned once per setting, a
  few comparisons for the common input) against the same layer's traced path.

Both contenders of a row share the input and parameters; their outputs (and, for forward+backward,
their gradients) are checked with ``torch.testing.assert_close`` before anything is timed. The
simple forms fetch the cached ratio map and coordinate factors per call, as the engine does, so a
row measures the path and nothing else. CPU only: the depthwise and circular paths are CPU paths.

Run through ``python benchmarks/run.py --experiment paths --malloc keep``.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from cases import SHAPES, Shape
from timing import PHASES, Stats, measure, paired_ratio
from torch import Tensor, nn

import padmods
from padmods import _conv, _coord, _partial
from padmods._axis_pad import concat_pad
from padmods._border_pad import border_pad

#: The shapes of the rows: A-D of the layer table, plus a larger single-channel case and A on one image.
CASES: dict[str, Shape] = {
    **SHAPES,
    "D64": Shape("D64", 16, 1, 1, 64, 3, 1, 1),
    "A1": dataclasses.replace(SHAPES["A"], name="A1", batch=1),
    "R4": Shape("R4", 4, 256, 256, 7, 3, 1, 1),  # a ResNet's deep layer: weights larger than maps
    "T": Shape("T", 1, 8, 8, 8, 3, 1, 1),  # a tiny call, where per-call Python shows
    "U1": Shape("U1", 2, 32, 32, 128, 3, 1, 1),  # a U-Net's first level: few channels, a large map
    "PW": Shape("PW", 4, 24, 144, 56, 1, 1, 0),  # MobileNetV2's pointwise expansion, 24 -> 144 channels
    "DW2": Shape("DW2", 4, 96, 96, 56, 3, 2, 1),  # MobileNetV2's first stride-2 depthwise layer (groups=96)
    "S2": Shape("S2", 4, 32, 32, 112, 3, 2, 1),  # a dense stride-2 3x3 layer on a 112x112 map
}

PHASE_LABELS = {"fwd": "fwd", "fwdbwd": "fwd+bwd"}

#: A contender: ``fn(x, *params)``.
Fn = Callable[..., Tensor]


@dataclass
class Pair:
    """One clever path and its simple form on one case, with the shared input and parameters."""

    path: str
    case: Shape
    x: Tensor
    params: tuple[nn.Parameter, ...]
    clever: Fn
    simple: Fn
    #: whether padmods takes the clever path, asked under the grad mode of the phase
    taken: Callable[[], bool]
    #: the clever form itself, timed where padmods does not take it (None: that row is not timed)
    forced: Fn | None = None
    #: why the row is not timed where padmods does not take the path and there is no forced form
    why_not: str = ""


class _Call(nn.Module):
    """A contender as a module, ``fn(x, *params)``, so that :data:`timing.PHASES` can time it."""

    def __init__(self, fn: Fn, params: tuple[nn.Parameter, ...]) -> None:
        super().__init__()
        self.fn = fn
        self.args = params
        for i, param in enumerate(params):
            self.register_parameter(f"p{i}", param)  # the same objects in both contenders

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x, *self.args)


# ---- the cases ---------------------------------------------------------------------------------


def _geometry(shape: Shape) -> tuple[tuple[int, int], tuple[tuple[int, int], ...], tuple[int, int], tuple[int, int]]:
    """Stride, padding pairs, padding and dilation of a square shape, as the engine takes them."""
    p = shape.padding
    return (shape.stride, shape.stride), ((p, p), (p, p)), (p, p), (1, 1)


def _input(shape: Shape) -> Tensor:
    return torch.randn(shape.batch, shape.in_channels, shape.size, shape.size, requires_grad=True)


def _params(shape: Shape, in_channels: int | None = None) -> tuple[nn.Parameter, ...]:
    """Weight and bias initialised like ``nn.Conv2d``'s."""
    conv = nn.Conv2d(
        shape.in_channels if in_channels is None else in_channels, shape.out_channels, shape.kernel, bias=True
    )
    assert conv.bias is not None
    return conv.weight, conv.bias


def _depthwise_form(x: Tensor, w: Tensor, b: Tensor, stride: Any, padding: Any, dilation: Any) -> Tensor:
    """The depthwise form of a 1->1 convolution, written as ``padmods._conv.conv`` writes it."""
    batch = x.shape[0]
    planes = x.reshape(1, batch, *x.shape[2:])
    out = F.conv2d(planes, w.expand(batch, 1, *w.shape[2:]), b.expand(batch), stride, padding, dilation, batch)
    return out.view(batch, 1, *out.shape[2:])


def _depthwise(shape: Shape) -> Pair:
    stride, _, padding, dilation = _geometry(shape)
    x, params = _input(shape), _params(shape)
    return Pair(
        "depthwise",
        shape,
        x,
        params,
        clever=lambda x, w, b: _conv.conv(x, w, b, stride, padding, dilation, 1),
        simple=lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, 1),
        taken=lambda: _conv._runs_depthwise(x, params[0], 1),
        forced=lambda x, w, b: _depthwise_form(x, w, b, stride, padding, dilation),
    )


def _circular_pad(shape: Shape) -> Pair:
    _, pairs, _, _ = _geometry(shape)
    flat = tuple(p for pair in reversed(pairs) for p in pair)
    return Pair(
        "circular-pad",
        shape,
        _input(shape),
        (),
        clever=lambda x: border_pad(x, pairs, "circular"),
        simple=lambda x: F.pad(x, flat, mode="circular"),
        taken=torch.is_grad_enabled,
        why_not="same call: border_pad's forward is F.pad, the path is its backward",
    )


def _circular_conv(shape: Shape) -> Pair:
    stride, pairs, _, dilation = _geometry(shape)
    flat = tuple(p for pair in reversed(pairs) for p in pair)
    x = _input(shape)
    return Pair(
        "circular-conv",
        shape,
        x,
        _params(shape),
        clever=lambda x, w, b: _conv.border_conv(x, w, b, stride, pairs, dilation, 1, "circular"),
        simple=lambda x, w, b: F.conv2d(F.pad(x, flat, mode="circular"), w, b, stride, 0, dilation),
        taken=lambda: torch.is_grad_enabled() and x.numel() >= _conv._BORDER_PAD_MIN_ELEMENTS,
        why_not="same calls: the layer's forward is F.pad then F.conv2d, the path is the pad's backward",
    )


def _partial_pair(shape: Shape) -> Pair:
    stride, pairs, padding, dilation = _geometry(shape)
    kernel = (shape.kernel, shape.kernel)

    def simple(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        ratio = _partial.ratio_map(tuple(x.shape[2:]), kernel, stride, dilation, pairs, x.device, x.dtype)
        return F.conv2d(x, w, None, stride, padding, dilation) * ratio + b.view(1, -1, 1, 1)

    return Pair(
        "partial",
        shape,
        _input(shape),
        _params(shape),
        clever=lambda x, w, b: _partial.partial_conv(x, w, b, stride, pairs, dilation, 1),
        simple=simple,
        taken=lambda: True,
    )


def _coord_pair(shape: Shape) -> Pair:
    stride, pairs, padding, dilation = _geometry(shape)
    kernel = (shape.kernel, shape.kernel)
    channels = shape.in_channels

    def simple(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        sizes = tuple(x.shape[2:])
        factors = _coord.coord_factors(sizes, kernel, stride, dilation, pairs, "zeros", x.device, x.dtype)
        return F.conv2d(x, w[:, :channels], b, stride, padding, dilation) + _coord.coord_term(w[:, channels:], factors)

    return Pair(
        "coord",
        shape,
        _input(shape),
        _params(shape, channels + 2),
        clever=lambda x, w, b: _coord.coord_conv(x, w, b, stride, pairs, dilation, False, "zeros"),
        simple=simple,
        taken=lambda: True,  # one contiguous image: add_coord_term_ adds with addmm_
    )


def _coord_flat_pair(shape: Shape) -> Pair:
    stride, pairs, padding, dilation = _geometry(shape)
    kernel = (shape.kernel, shape.kernel)
    channels = shape.in_channels

    def factors(x: Tensor) -> _coord.CoordFactors:
        sizes = tuple(x.shape[2:])
        return _coord.coord_factors(sizes, kernel, stride, dilation, pairs, "zeros", x.device, x.dtype)

    def separable(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        per_axis = dataclasses.replace(factors(x), flat=None)
        out = F.conv2d(x, w[:, :channels], b, stride, padding, dilation)
        return _coord.add_coord_term_(out, w[:, channels:], per_axis)

    x = _input(shape)
    return Pair(
        "coord-flat",
        shape,
        x,
        _params(shape, channels + 2),
        clever=lambda x, w, b: _coord.coord_conv(x, w, b, stride, pairs, dilation, False, "zeros"),
        simple=separable,
        taken=lambda: factors(x).flat is not None,
    )


def _one_pass_pad(shape: Shape, modes: tuple[str, str]) -> Pair:
    """A border ``F.pad`` lacks, in one buffer, against one concatenation per axis."""
    _, pairs, _, _ = _geometry(shape)
    pairs = tuple((p + 1, p + 1) for p, _ in pairs)  # beyond one element: symmetric is not replication
    return Pair(
        "one-pass-pad",
        shape,
        _input(shape),
        (),
        clever=lambda x: _conv.eager_pad(x, pairs, modes),
        simple=lambda x: concat_pad(x, pairs, modes),
        taken=lambda: True,
    )


def _fold_backward(shape: Shape, mode: str) -> Pair:
    """Reflect padding with the one-pass fold as its backward, against torch's own backward."""
    _, pairs, _, _ = _geometry(shape)
    flat = tuple(p for pair in reversed(pairs) for p in pair)
    return Pair(
        f"{mode}-fold",
        shape,
        _input(shape),
        (),
        clever=lambda x: _conv.eager_pad(x, pairs, mode),
        simple=lambda x: F.pad(x, flat, mode=mode),
        taken=torch.is_grad_enabled,
        why_not="same call: without autograd the layer pads with F.pad",
    )


def _fold_in_place(shape: Shape, mode: str) -> Pair:
    """A layer's convolution whose border folds into the convolution's input gradient in place, against into a copy."""
    stride, pairs, _, dilation = _geometry(shape)
    modes = (mode,) * len(pairs)
    return Pair(
        "fold-in-place",
        shape,
        _input(shape),
        _params(shape),
        clever=lambda x, w, b: _conv.border_conv(x, w, b, stride, pairs, dilation, 1, mode, eager=True),
        simple=lambda x, w, b: F.conv2d(border_pad(x, pairs, modes), w, b, stride, 0, dilation),
        taken=torch.is_grad_enabled,
        why_not="a backward path: the forward is the same call",
    )


def _coord_append(shape: Shape) -> Pair:
    """Training CoordConv on a deep layer: coordinates appended to the input, against the split weight."""
    stride, pairs, _, dilation = _geometry(shape)
    x = _input(shape)
    params = _params(shape, shape.in_channels + 2)
    return Pair(
        "coord-append",
        shape,
        x,
        params,
        clever=lambda x, w, b: _coord.coord_conv(x, w, b, stride, pairs, dilation, False, "zeros", eager=True),
        simple=lambda x, w, b: _coord.coord_conv(x, w, b, stride, pairs, dilation, False, "zeros"),
        taken=lambda: _coord.appends_coordinates(x, params[0]),
        why_not="without autograd the layer keeps its input taps and coordinate term instead (the coord-kept rows)",
    )


def _coord_kept(shape: Shape, against: str) -> Pair:
    """Inference CoordConv with its input taps and coordinate term kept between calls.

    ``against='split'``: the weight split per call and the term computed per call (the form with
    autograd); ``against='append'``: the coordinate channels appended to the input, the form a
    layer whose weight cannot be kept (parametrized) takes where its output is the wider.
    """
    stride, pairs, _, dilation = _geometry(shape)
    layer = padmods.CoordConv2d(shape.in_channels, shape.out_channels, shape.kernel, padding=shape.padding)
    params = (layer.weight, layer.bias)
    x = _input(shape)
    appends = against == "append"
    if appends:
        with torch.no_grad():
            assert _coord.appends_coordinates(x, layer.weight, stride)
    return Pair(
        "coord-kept",
        shape,
        x,
        params,
        clever=lambda x, w, b: layer(x),
        simple=lambda x, w, b: _coord.coord_conv(x, w, b, stride, pairs, dilation, False, "zeros", eager=appends),
        taken=lambda: not torch.is_grad_enabled(),
        why_not="with autograd the weight changes every step: coord-append or the split",
    )


def _stride2_trim(shape: Shape, depthwise: bool) -> Pair:
    """A stride-2 reflect convolution without the border no window reads, against the whole border."""
    stride, pairs, _, dilation = _geometry(shape)
    groups = shape.in_channels if depthwise else 1
    conv = nn.Conv2d(shape.in_channels, shape.out_channels, shape.kernel, groups=groups)
    assert conv.bias is not None
    flat = tuple(p for pair in reversed(pairs) for p in pair)
    return Pair(
        "stride2-trim",
        shape,
        _input(shape),
        (conv.weight, conv.bias),
        clever=lambda x, w, b: _conv.border_conv(x, w, b, stride, pairs, dilation, groups, "reflect", eager=True),
        simple=lambda x, w, b: F.conv2d(F.pad(x, flat, mode="reflect"), w, b, stride, 0, dilation, groups),
        taken=lambda: True,
    )


def _zero_axes(shape: Shape) -> Pair:
    """A per-axis convolution whose zero axis is the convolution's own padding, against padding both axes."""
    stride, pairs, _, dilation = _geometry(shape)
    modes = ("zeros", "circular")
    return Pair(
        "zero-axes",
        shape,
        _input(shape),
        _params(shape),
        clever=lambda x, w, b: _conv.border_conv(x, w, b, stride, pairs, dilation, 1, modes, eager=True),
        simple=lambda x, w, b: F.conv2d(_conv.eager_pad(x, pairs, modes, owned=True), w, b, stride, 0, dilation),
        taken=lambda: True,
    )


def _eager_plan(shape: Shape) -> Pair:
    """A whole reflect layer's eager call (padding planned once, few checks) against its traced path."""
    layer = padmods.ReflectPadConv2d(shape.in_channels, shape.out_channels, shape.kernel, padding=shape.padding)
    return Pair(
        "eager-call",
        shape,
        _input(shape),
        (layer.weight, layer.bias),  # type: ignore[arg-type]
        clever=lambda x, w, b: layer(x),
        simple=lambda x, w, b: layer._traced_forward(x, w, b),
        taken=lambda: True,
    )


def make_pairs() -> list[Pair]:
    """Every row's contenders, inputs and parameters from seed 0."""
    torch.manual_seed(0)
    return [
        _depthwise(CASES["D"]),
        _depthwise(CASES["D64"]),
        _circular_pad(CASES["A"]),
        _circular_pad(CASES["C"]),
        _circular_conv(CASES["A"]),
        _circular_conv(CASES["C"]),
        _partial_pair(CASES["A"]),
        _partial_pair(CASES["B"]),
        _coord_pair(CASES["C"]),
        _coord_pair(CASES["A1"]),
        _coord_flat_pair(CASES["D"]),
        _coord_flat_pair(CASES["B"]),
        _one_pass_pad(CASES["A"], ("symmetric", "symmetric")),
        _one_pass_pad(CASES["A"], ("zeros", "circular")),
        _fold_backward(CASES["A"], "reflect"),
        _fold_backward(CASES["R4"], "reflect"),
        _fold_in_place(CASES["A"], "reflect"),
        _fold_in_place(CASES["U1"], "reflect"),
        _fold_in_place(CASES["U1"], "symmetric"),
        _coord_append(CASES["R4"]),
        _coord_kept(CASES["R4"], "split"),
        _coord_kept(CASES["PW"], "append"),
        _stride2_trim(CASES["DW2"], depthwise=True),
        _stride2_trim(CASES["S2"], depthwise=False),
        _zero_axes(CASES["A"]),
        _zero_axes(CASES["R4"]),
        _eager_plan(CASES["T"]),
        _eager_plan(CASES["B"]),
    ]


# ---- checking and timing -----------------------------------------------------------------------


def check(clever: nn.Module, simple: nn.Module, x: Tensor, phase: str) -> float:
    """Assert both contenders give the same output (and gradients, for fwd+bwd); the largest relative difference."""
    inputs = [x, *clever.parameters()]
    if phase == "fwd":
        with torch.no_grad():
            pairs = [(clever(x), simple(x))]
    else:
        a, b = clever(x), simple(x)
        grad = torch.randn_like(a)
        pairs = [(a, b), *zip(torch.autograd.grad(a, inputs, grad), torch.autograd.grad(b, inputs, grad), strict=True)]
    worst = 0.0
    for ours, theirs in pairs:
        # float32's rtol; the absolute tolerance is the layer table's (1e-4 of the tensor's scale):
        # a weight or bias gradient sums up to 65k products, in another order on each path
        scale = max(1.0, theirs.detach().abs().max().item())
        torch.testing.assert_close(ours, theirs, rtol=1.3e-6, atol=1e-4 * scale)
        worst = max(worst, (ours.detach() - theirs.detach()).abs().max().item() / scale)
    return worst


def _row(pair: Pair, phase: str, taken: bool, times: dict[str, list[float]], faults: dict[str, list[float]]) -> dict:
    clever, simple = times["clever"], times["simple"]
    stats = {name: Stats.of(samples) for name, samples in times.items()}
    return {
        "path": pair.path,
        "case": pair.case.name,
        "phase": phase,
        "taken": taken,
        "clever_ms": stats["clever"].median * 1e3,
        "simple_ms": stats["simple"].median * 1e3,
        "ratio": statistics.median(clever) / statistics.median(simple),
        "paired_ratio": paired_ratio(clever, simple),
        "noise": {name: s.spread for name, s in stats.items()},
        "stats_s": {name: asdict(s) for name, s in stats.items()},
        "samples_s": times,
        "page_faults_per_call": {name: statistics.median(f) for name, f in faults.items()},
    }


def format_path_row(row: dict) -> str:
    """The printed line of one row."""
    text = (
        f"  {row['path']:<14} {row['case']:<3} {PHASE_LABELS[row['phase']]:<8}"
        f" clever {row['clever_ms']:8.3f} ms  simple {row['simple_ms']:8.3f} ms  x{row['ratio']:.3f}"
        f" (paired x{row['paired_ratio']:.3f}, noise {max(row['noise'].values()):.0%})"
    )
    if not row["taken"]:
        text += " | forced: padmods does not take this path here"
    faults = row["page_faults_per_call"]
    if faults["clever"] or faults["simple"]:
        text += f" | page faults/call {faults['clever']:.0f} vs {faults['simple']:.0f}"
    return text


def run_paths(
    *,
    quick: bool = False,
    rounds: int | None = None,
    block: float | None = None,
    clock: str = "wall",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Time every fast path against its simple form on CPU; the rows, as JSON-able dicts."""
    rounds = rounds if rounds is not None else (7 if quick else 21)
    block = block if block is not None else (0.01 if quick else 0.02)
    warmup = min(0.2, 5 * block)
    device = torch.device("cpu")
    pairs = make_pairs()
    used = dict.fromkeys(pair.case.name for pair in pairs)
    for name in used:
        log(f"  {name:<3} {CASES[name].describe()}")
    rows: list[dict[str, Any]] = []
    not_timed: list[dict[str, Any]] = []
    for pair in pairs:
        for phase, maker in PHASES.items():
            with torch.set_grad_enabled(phase == "fwdbwd"):
                taken = pair.taken()
            clever_fn = pair.clever if taken else pair.forced
            if clever_fn is None:
                not_timed.append({"path": pair.path, "case": pair.case.name, "phase": phase, "why": pair.why_not})
                log(f"  {pair.path:<14} {pair.case.name:<3} {PHASE_LABELS[phase]:<8} not timed: {pair.why_not}")
                continue
            clever, simple = _Call(clever_fn, pair.params), _Call(pair.simple, pair.params)
            max_diff = check(clever, simple, pair.x, phase)
            fns = {"clever": maker(clever, pair.x), "simple": maker(simple, pair.x)}
            times, faults = measure(fns, rounds=rounds, block_s=block, warmup_s=warmup, device=device, clock=clock)
            row = _row(pair, phase, taken, times, faults)
            row["max_rel_diff"] = max_diff
            rows.append(row)
            log(format_path_row(row))
        gc.collect()
    return {
        "rounds": rounds,
        "block_s": block,
        "cases": {name: CASES[name].describe() for name in used},
        "rows": rows,
        "not_timed": not_timed,
    }
