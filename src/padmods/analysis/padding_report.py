"""Which padding a model's convolutions really use, and which they drop (Alsallakh et al., ICLR 2021).

A strided convolution does not always reach the end of its padded input: with stride 2, a 3x3
kernel, padding 1 and an even size, the last window stops one short of the bottom and right
padding. That padding is never read, so the layer pads one side only, and a stack of such layers
develops blind spots and an asymmetry that the network learns to exploit. ResNet-50 at 224x224
drops a row and a column at every stride-2 stage; at 225x225 it drops none.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd

from padmods import _checks, _geometry
from padmods._conv_classes import conv_dims
from padmods._typing import Pairs
from padmods.conversion.adapters import plain_overrides

__all__ = ["LayerPadding", "PaddingReport", "axis_padding_use", "padding_report", "suggest_sizes"]


def axis_padding_use(size: int, before: int, after: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """How many of the ``before`` and ``after`` padding elements of one axis some output reads.

    An output ``i`` reads the padded positions ``i * stride + t * dilation`` for ``t < kernel``.

    Examples:
        >>> axis_padding_use(224, 1, 1, kernel=3, stride=2, dilation=1)  # the last window stops short
        (1, 0)
        >>> axis_padding_use(225, 1, 1, kernel=3, stride=2, dilation=1)
        (1, 1)
    """
    padded = size + before + after
    outputs = (padded - dilation * (kernel - 1) - 1) // stride + 1
    if outputs <= 0:
        return 0, 0

    def read(position: int) -> bool:
        return any(
            (position - tap * dilation) % stride == 0 and 0 <= (position - tap * dilation) // stride < outputs
            for tap in range(kernel)
            if position >= tap * dilation
        )

    used_before = sum(read(position) for position in range(before))
    used_after = sum(read(position) for position in range(size + before, padded))
    return used_before, used_after


@dataclass(frozen=True)
class LayerPadding:
    """The padding of one call of one convolution.

    Attributes:
        name: Qualified name of the layer in the model (``''`` for the model itself).
        layer: Class name of the layer.
        input_size: Spatial size of its input, e.g. ``(H, W)``.
        padding: Padding ``(before, after)`` per spatial axis, as the layer resolves it for that size.
        used: The part of :attr:`padding` that some output reads.
        unused: The part that no output reads: ``padding - used``, side by side.
    """

    name: str
    layer: str
    input_size: tuple[int, ...]
    padding: Pairs
    used: Pairs

    @property
    def unused(self) -> Pairs:
        """Padding that no output reads, per axis: ``(before, after)``."""
        return tuple((pb - ub, pa - ua) for (pb, pa), (ub, ua) in zip(self.padding, self.used, strict=True))

    @property
    def drops_padding(self) -> bool:
        """Whether some padding is never read."""
        return any(before or after for before, after in self.unused)

    @property
    def asymmetric(self) -> bool:
        """Whether the padding read differs between the two sides of some axis."""
        return any(before != after for before, after in self.used)

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON values."""
        return {
            "name": self.name,
            "layer": self.layer,
            "input_size": list(self.input_size),
            "padding": [list(pair) for pair in self.padding],
            "used": [list(pair) for pair in self.used],
            "unused": [list(pair) for pair in self.unused],
            "asymmetric": self.asymmetric,
        }


@dataclass(frozen=True)
class PaddingReport:
    """The padding of every convolution call in one forward pass.

    Attributes:
        input_shape: The shape of the input the model ran on.
        layers: One row per convolution call, in the order they ran (a layer called twice at
            different sizes has two rows).
        unknown: Convolutions whose ``forward`` is their own and which no adapter describes
            (see :func:`padmods.conversion.register_adapter`): their padding is unknown.
    """

    input_shape: tuple[int, ...]
    layers: tuple[LayerPadding, ...]
    unknown: tuple[str, ...] = ()

    @property
    def dropped(self) -> tuple[LayerPadding, ...]:
        """The rows of layers that drop padding."""
        return tuple(row for row in self.layers if row.drops_padding)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON values."""
        return {
            "input_shape": list(self.input_shape),
            "layers": [row.to_dict() for row in self.layers],
            "unknown": list(self.unknown),
        }

    def __str__(self) -> str:
        header = ("layer", "class", "input", "padding", "used", "unused", "")
        rows = [
            (
                row.name or "<model>",
                row.layer,
                "x".join(map(str, row.input_size)),
                _pairs_text(row.padding),
                _pairs_text(row.used),
                _pairs_text(row.unused),
                "asymmetric" if row.asymmetric else "",
            )
            for row in self.layers
        ]
        widths = [max(len(str(cells[i])) for cells in (header, *rows)) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
            for cells in (header, *rows)
        ]
        shape = "x".join(map(str, self.input_shape))
        lines.append(f"{len(self.dropped)} of {len(self.layers)} convolution calls drop padding at input {shape}")
        lines.extend(f"unknown padding (own forward, no adapter): {name}" for name in self.unknown)
        return "\n".join(lines)


def _pairs_text(pairs: Pairs) -> str:
    return " ".join(f"{before}/{after}" for before, after in pairs)


def _layer_padding(conv: _ConvNd, name: str, sizes: tuple[int, ...]) -> Optional[LayerPadding]:
    """The row of ``conv`` for an input of spatial ``sizes``; ``None`` when its padding is unknown."""
    overrides = plain_overrides(conv, repr(name))
    if isinstance(overrides, str):
        return None
    padding: Any = overrides.get("padding", conv.padding)
    stride = tuple(overrides.get("stride", conv.stride))
    dilation = tuple(overrides.get("dilation", conv.dilation))
    spec = padding if isinstance(padding, str) else _checks.parse_padding(tuple(padding), len(sizes))
    kernel = tuple(conv.kernel_size)
    pairs = _geometry.resolve_padding(spec, sizes, kernel, stride, dilation)
    used = tuple(
        axis_padding_use(size, before, after, k, s, d)
        for size, (before, after), k, s, d in zip(sizes, pairs, kernel, stride, dilation, strict=True)
    )
    return LayerPadding(name, type(conv).__name__, sizes, pairs, used)


def _checked_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(_checks.check_int("every size of input_shape", size, 1) for size in input_shape)
    if len(shape) < 3:
        raise ValueError(f"input_shape is (N, C, *spatial) with positive sizes, got {tuple(input_shape)}")
    return shape


def _example(model: nn.Module, input: Union[Tensor, Sequence[int]]) -> Tensor:
    """``input`` itself, or zeros of that shape with the dtype and device of the model's parameters."""
    if isinstance(input, Tensor):
        return input
    shape = _checked_shape(input)
    reference = next(itertools.chain(model.parameters(), model.buffers()), None)
    dtype = reference.dtype if reference is not None and reference.is_floating_point() else torch.get_default_dtype()
    device = reference.device if reference is not None else None
    return torch.zeros(shape, dtype=dtype, device=device)


def padding_report(model: nn.Module, input_shape: Union[Sequence[int], Tensor]) -> PaddingReport:
    """Run ``model`` once and report the padding each convolution reads and drops.

    Covers every :class:`torch.nn.Conv1d`, ``Conv2d`` and ``Conv3d`` (padmods layers included),
    and timm's ``Conv2dSame`` through its adapter. The forward pass runs in eval mode under
    ``torch.no_grad()`` on zeros of ``input_shape``; train/eval flags are restored afterwards.

    Args:
        model: The model.
        input_shape: The input's shape, e.g. ``(1, 3, 224, 224)``, or an input tensor.

    Returns:
        A :class:`PaddingReport`; ``str(report)`` is a table, ``report.dropped`` the rows that
        drop padding.

    Examples:
        >>> stage = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Conv2d(8, 8, 3, stride=2, padding=1))
        >>> [row.unused for row in padding_report(stage, (1, 3, 224, 224)).layers]
        [((0, 1), (0, 1)), ((0, 1), (0, 1))]
        >>> padding_report(stage, (1, 3, 225, 225)).dropped
        ()
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"padding_report expects an nn.Module, got {type(model).__name__}")
    example = _example(model, input_shape)
    names: dict[int, str] = {}
    for name, module in model.named_modules():
        if conv_dims(module):
            names.setdefault(id(module), name)
    rows: list[LayerPadding] = []
    unknown: list[str] = []

    def record(module: nn.Module, args: tuple[Any, ...]) -> None:
        if not args or not isinstance(args[0], Tensor):
            return
        dims = conv_dims(module)
        sizes = tuple(args[0].shape[-dims:])
        row = _layer_padding(module, names[id(module)], sizes)  # type: ignore[arg-type]
        if row is None:
            if names[id(module)] not in unknown:
                unknown.append(names[id(module)])
        elif row not in rows:
            rows.append(row)

    modules = [module for module in model.modules() if id(module) in names]
    handles = [module.register_forward_pre_hook(record) for module in modules]
    training = {module: module.training for module in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
        for module, flag in training.items():
            module.training = flag
    return PaddingReport(tuple(example.shape), tuple(rows), tuple(unknown))


def suggest_sizes(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    count: int = 3,
    max_distance: int = 64,
) -> tuple[tuple[int, ...], ...]:
    """The input sizes nearest to ``input_shape`` at which no convolution drops padding, axis by axis.

    Each spatial axis is searched on its own, the other sizes kept: sizes at distance 0, 1, 2, ...
    (the smaller first on a tie), up to ``max_distance``, each tried with one forward pass (see
    :func:`padding_report`). A size at which the model fails (a U-Net whose skips no longer
    match) does not count. For a ResNet, whose stride-2 stages drop padding at even sizes, the
    answer for 224 is ``225`` (then ``193`` and ``257``).

    Args:
        model: The model.
        input_shape: The input's shape, ``(N, C, *spatial)``.
        count: How many sizes to name per axis. Default: 3
        max_distance: How far from the given size to search. Default: 64

    Returns:
        One tuple per spatial axis: up to ``count`` sizes, nearest first.

    Examples:
        >>> stage = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Conv2d(8, 8, 3, stride=2, padding=1))
        >>> suggest_sizes(stage, (1, 3, 224, 224), count=2)
        ((225, 221), (225, 221))
    """
    count = _checks.check_count("count", count)
    max_distance = _checks.check_int("max_distance", max_distance, 0)
    shape = _checked_shape(input_shape)
    spatial = len(shape) - 2
    suggestions = []
    for axis in range(spatial):
        found: list[int] = []
        for distance in range(max_distance + 1):
            for size in dict.fromkeys((shape[2 + axis] - distance, shape[2 + axis] + distance)):
                if size >= 1 and len(found) < count and _axis_is_clean(model, shape, axis, size):
                    found.append(size)
            if len(found) >= count:
                break
        suggestions.append(tuple(found))
    return tuple(suggestions)


def _axis_is_clean(model: nn.Module, shape: tuple[int, ...], axis: int, size: int) -> bool:
    """Whether no convolution with as many spatial axes as the input drops padding on ``axis`` at ``size``."""
    probe = (*shape[:2], *shape[2:][:axis], size, *shape[2:][axis + 1 :])
    try:
        report = padding_report(model, probe)
    except (RuntimeError, ValueError):
        return False
    spatial = len(shape) - 2
    return all(row.unused[axis] == (0, 0) for row in report.layers if len(row.input_size) == spatial)
