"""Which padding a model's convolutions really use, and which they drop (Alsallakh et al., ICLR 2021).

A strided convolution does not always reach the end of its padded input: with stride 2, a 3x3
kernel, padding 1 and an even size, the last window stops one short of the bottom and right
padding. That padding is never read, so the layer pads one side only, and a stack of such layers
develops blind spots and an asymmetry that the network learns to exploit. ResNet-50 at 224x224
drops a row and a column at every stride-2 stage; at 225x225 it drops none.

Pooling windows pad the same way: a ``MaxPool2d(3, 2, padding=1)`` on an even size never reads
its bottom and right padding, so the report lists the max- and average-pooling layers that pad.
:func:`suggest_sizes` (in :mod:`padmods.analysis.sizes`) searches for the sizes that drop nothing.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd

from padmods import _checks, _geometry
from padmods._conv_classes import conv_dims
from padmods._typing import Pairs
from padmods.conversion.adapters import foreign_convolution, plain_overrides

__all__ = ["POOLS", "LayerPadding", "PaddingReport", "axis_padding_use", "padding_report", "pool_dims"]

#: The pooling layers whose padding the report reads, by number of spatial axes: their windows
#: pad as a convolution's do (with -inf for max-pooling, zeros for average-pooling).
POOLS: dict[type[nn.Module], int] = {
    nn.MaxPool1d: 1,
    nn.MaxPool2d: 2,
    nn.MaxPool3d: 3,
    nn.AvgPool1d: 1,
    nn.AvgPool2d: 2,
    nn.AvgPool3d: 3,
}


def pool_dims(module: nn.Module) -> int:
    """1, 2 or 3 for a max- or average-pooling layer (a subclass too) with padding; 0 otherwise."""
    dims = next((dims for cls, dims in POOLS.items() if isinstance(module, cls)), 0)
    if not dims or not any(_checks.as_tuple("padding", getattr(module, "padding", 0), dims, minimum=0)):
        return 0
    return dims


def axis_padding_use(
    size: int, before: int, after: int, kernel: int, stride: int, dilation: int, *, ceil_mode: bool = False
) -> tuple[int, int]:
    """How many of the ``before`` and ``after`` padding elements of one axis some output reads.

    An output ``i`` reads the padded positions ``i * stride + t * dilation`` for ``t < kernel``.
    ``ceil_mode`` counts the outputs as torch's pooling layers do with ``ceil_mode=True``: one more
    window where the last would start inside the input or its ``before`` padding.

    Examples:
        >>> axis_padding_use(224, 1, 1, kernel=3, stride=2, dilation=1)  # the last window stops short
        (1, 0)
        >>> axis_padding_use(225, 1, 1, kernel=3, stride=2, dilation=1)
        (1, 1)
        >>> axis_padding_use(112, 1, 1, kernel=3, stride=2, dilation=1, ceil_mode=True)  # pooling's extra window
        (1, 1)
    """
    padded = size + before + after
    span = padded - dilation * (kernel - 1) - 1
    if span < 0:
        return 0, 0
    outputs = span // stride + 1
    if ceil_mode:
        outputs = -(-span // stride) + 1
        if (outputs - 1) * stride >= size + before:
            outputs -= 1

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
    """The padding of one call of one convolution or padded pooling layer.

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
    """The padding of every convolution call (and padded pooling call) in one forward pass.

    Attributes:
        input_shape: The shape of the input the model ran on.
        layers: One row per call of a convolution or of a max- or average-pooling layer with
            padding, in the order they ran (a layer called twice at different sizes has two rows).
        unknown: Convolutions whose padding cannot be read: a ``forward`` of their own that no
            adapter describes (see :func:`padmods.conversion.register_adapter`), or modules that
            convolve without being torch convolution modules (timm's ``CondConv2d``).
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
        header = ("layer", "class", "input", "padding", "used", "unused", "asymmetric")
        rows = [
            (
                row.name or "<model>",
                row.layer,
                "x".join(map(str, row.input_size)),
                _pairs_text(row.padding),
                _pairs_text(row.used),
                _pairs_text(row.unused),
                "yes" if row.asymmetric else "",
            )
            for row in self.layers
        ]
        widths = [max(len(str(cells[i])) for cells in (header, *rows)) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
            for cells in (header, *rows)
        ]
        shape = "x".join(map(str, self.input_shape))
        lines.append(f"{len(self.dropped)} of {len(self.layers)} layer calls drop padding at input {shape}")
        if self.unknown:
            lines.append(
                "padding unknown (a forward of its own that no adapter describes, or not a torch convolution "
                f"module): {', '.join(self.unknown)}"
            )
        return "\n".join(lines)


def _pairs_text(pairs: Pairs) -> str:
    return " ".join(f"{before}/{after}" for before, after in pairs)


def _layer_padding(module: nn.Module, name: str, sizes: tuple[int, ...]) -> Optional[LayerPadding]:
    """The row of a convolution or pooling layer for an input of spatial ``sizes``; ``None`` when unknown."""
    if not conv_dims(module):
        return _pool_padding(module, name, sizes)
    conv: _ConvNd = module  # type: ignore[assignment]
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


def _pool_padding(pool: nn.Module, name: str, sizes: tuple[int, ...]) -> LayerPadding:
    """The row of a max- or average-pooling layer: symmetric padding, windows counted as torch counts them."""
    dims = len(sizes)
    kernel = _checks.as_tuple("kernel_size", pool.kernel_size, dims)
    stride = _checks.as_tuple("stride", pool.stride or pool.kernel_size, dims)
    padding = _checks.as_tuple("padding", pool.padding, dims, minimum=0)
    dilation = _checks.as_tuple("dilation", getattr(pool, "dilation", 1), dims)
    ceil_mode = bool(getattr(pool, "ceil_mode", False))
    used = tuple(
        axis_padding_use(size, p, p, k, s, d, ceil_mode=ceil_mode)
        for size, p, k, s, d in zip(sizes, padding, kernel, stride, dilation, strict=True)
    )
    return LayerPadding(name, type(pool).__name__, sizes, tuple((p, p) for p in padding), used)


def _first_input(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[Tensor]:
    """The tensor a layer was called on: its first argument, positional or by keyword (``conv(input=x)``)."""
    if args:
        return args[0] if isinstance(args[0], Tensor) else None
    try:
        first = next(iter(inspect.signature(module.forward).parameters))
    except (StopIteration, TypeError, ValueError):
        first = None
    found = kwargs.get(first) if first is not None else None
    if isinstance(found, Tensor):
        return found
    return next((value for value in kwargs.values() if isinstance(value, Tensor)), None)


class Recorder:
    """Forward pre-hooks on every convolution, padded pooling layer and foreign convolution of a model.

    Each call of one of them adds a :class:`LayerPadding` row to :attr:`rows` (or the layer's name to
    :attr:`unknown`), whether the layer was called with its input as an argument or by keyword.
    Used as a context manager, it starts empty, puts its hooks on and takes them off again;
    :meth:`attach` and :meth:`reset` keep them on across many runs (each layer's row for each input
    size is worked out once).
    """

    def __init__(self, model: nn.Module) -> None:
        self.rows: list[LayerPadding] = []
        self.unknown: list[str] = []
        self._seen: set[LayerPadding] = set()
        self._names: dict[int, str] = {}
        for name, module in model.named_modules():
            if conv_dims(module) or pool_dims(module) or foreign_convolution(module) is not None:
                self._names.setdefault(id(module), name)
        self._dims = {id(module): conv_dims(module) or pool_dims(module) for module in model.modules()}
        self._modules = [module for module in model.modules() if id(module) in self._names]
        self._known: dict[tuple[int, tuple[int, ...]], Optional[LayerPadding]] = {}
        self._handles: list[Any] = []

    def _record(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        dims = self._dims[id(module)]
        input = _first_input(module, args, kwargs)
        sizes = tuple(input.shape[-dims:]) if dims and input is not None else ()
        key = (id(module), sizes)
        if key not in self._known:
            self._known[key] = _layer_padding(module, self._names[id(module)], sizes) if sizes else None
        row = self._known[key]
        if row is None:
            if self._names[id(module)] not in self.unknown:
                self.unknown.append(self._names[id(module)])
        elif row not in self._seen:
            self._seen.add(row)
            self.rows.append(row)

    def reset(self) -> None:
        """Forget the rows of the runs so far."""
        self.rows, self.unknown, self._seen = [], [], set()

    def attach(self) -> None:
        """Put the hooks on the layers."""
        self._handles = [module.register_forward_pre_hook(self._record, with_kwargs=True) for module in self._modules]

    def detach(self) -> None:
        """Take the hooks off again."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> Recorder:
        self.reset()
        self.attach()
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Every submodule in eval mode for the block, then back to its own ``training`` flag."""
    training = {module: module.training for module in model.modules()}
    try:
        model.eval()
        yield
    finally:
        for module, flag in training.items():
            module.training = flag


def checked_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    """``input_shape`` as positive ints, ``(N, C, *spatial)`` with at least one spatial size."""
    shape = tuple(_checks.check_int("every size of input_shape", size, 1) for size in input_shape)
    if len(shape) < 3:
        raise ValueError(f"input_shape is (N, C, *spatial) with positive sizes, got {tuple(input_shape)}")
    return shape


def _example(model: nn.Module, input: Union[Tensor, Sequence[int]]) -> Tensor:
    """``input`` itself, or zeros of that shape with the dtype and device of the model's parameters."""
    if isinstance(input, Tensor):
        return input
    shape = checked_shape(input)
    reference = next(itertools.chain(model.parameters(), model.buffers()), None)
    dtype = reference.dtype if reference is not None and reference.is_floating_point() else torch.get_default_dtype()
    device = reference.device if reference is not None else None
    return torch.zeros(shape, dtype=dtype, device=device)


def padding_report(model: nn.Module, input_shape: Union[Sequence[int], Tensor]) -> PaddingReport:
    """Run ``model`` once and report the padding each convolution and padded pooling layer reads and drops.

    Covers every :class:`torch.nn.Conv1d`, ``Conv2d`` and ``Conv3d`` (padmods layers included),
    timm's ``Conv2dSame`` through its adapter, and every max- and average-pooling layer with
    padding (``MaxPool2d(3, 2, padding=1)``: a ResNet's stem), however they are called
    (``self.conv(x)`` or ``self.conv(input=x)``). Convolutions whose padding cannot be read are
    listed in :attr:`PaddingReport.unknown`. The forward pass runs in eval mode under
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
    with Recorder(model) as recorder, eval_mode(model), torch.no_grad():
        model(example)
    return PaddingReport(tuple(example.shape), tuple(recorder.rows), tuple(recorder.unknown))
