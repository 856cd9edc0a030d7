"""Per-channel statistics of convolution outputs on their border and interior, gathered by forward hooks.

The border of a convolution's output is the set of positions whose window reaches the padding:
along each axis, a strip at the start and a strip at the end. Each call of a hooked convolution
is reduced at once to a count, a mean and a sum of squared deviations per channel and per region
(the interior, and each side), merged into running totals with Chan's formula; no activation
map outlives its forward pass.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd

from padmods.analysis.padding_report import _layer_padding
from padmods.conversion.adapters import plain_overrides
from padmods.registry import conv_dims

__all__ = [
    "SIDES",
    "BorderStats",
    "Recorder",
    "batches",
    "border_counts",
]

#: The sides of the border of a 1-D, 2-D and 3-D output, two per spatial axis (start, then end).
SIDES: dict[int, tuple[str, ...]] = {
    1: ("start", "end"),
    2: ("top", "bottom", "left", "right"),
    3: ("front", "back", "top", "bottom", "left", "right"),
}


def border_counts(size: int, before: int, after: int, kernel: int, stride: int, dilation: int) -> tuple[int, int, int]:
    """How many outputs of one axis reach the padding before, how many reach it after, and how many there are.

    Output ``o`` reads the input positions ``o * stride - before + t * dilation`` for ``t < kernel``;
    it reaches the padding before when the first is negative, after when the last is ``>= size``.
    Both sets are runs at the ends of the axis (they overlap when the axis is short).

    Examples:
        >>> border_counts(8, 1, 1, kernel=3, stride=1, dilation=1)
        (1, 1, 8)
        >>> border_counts(8, 1, 1, kernel=3, stride=2, dilation=1)  # the last window stops short
        (1, 0, 4)
        >>> border_counts(8, 0, 0, kernel=3, stride=1, dilation=1)  # 'valid': no border
        (0, 0, 6)
    """
    span = dilation * (kernel - 1)
    outputs = max((size + before + after - span - 1) // stride + 1, 0)
    first_after = -(-(size + before - span) // stride)  # ceil: the first output whose last tap is >= size
    return min(outputs, -(-before // stride)), max(outputs - max(first_after, 0), 0), outputs


@dataclass
class BorderStats:
    """Running per-channel statistics of one convolution's output: the interior, then each side.

    Region 0 is the interior (positions that reach no padding); region ``1 + 2 a`` is the start of
    spatial axis ``a`` and ``2 + 2 a`` its end. ``count[r]`` is the number of values seen in region
    ``r`` per channel, ``mean[r, c]`` their mean and ``m2[r, c]`` the sum of their squared
    deviations from it, all in float64 on the CPU.
    """

    count: Tensor
    mean: Tensor
    m2: Tensor
    dtype: torch.dtype

    @classmethod
    def empty(cls, dims: int, channels: int, dtype: torch.dtype) -> BorderStats:
        """Statistics of nothing yet, for a ``dims``-D output of ``channels`` channels."""
        regions = 1 + 2 * dims
        zeros = torch.zeros(regions, channels, dtype=torch.float64)
        return cls(torch.zeros(regions, dtype=torch.float64), zeros, zeros.clone(), dtype)

    @property
    def dims(self) -> int:
        """The number of spatial axes."""
        return (self.count.numel() - 1) // 2

    def update(self, output: Tensor, strips: tuple[tuple[int, int], ...]) -> None:
        """Merge in one output ``(N, C, *spatial)`` whose border strips hold ``strips[a]`` outputs per axis."""
        dims = len(strips)
        interior = [slice(before, size - after) for (before, after), size in zip(strips, output.shape[2:], strict=True)]
        window = (slice(None), slice(None), *interior)
        regions: list[Tensor] = [output[window]]
        for axis, (before, after) in enumerate(strips):
            size = output.shape[2 + axis]
            regions.append(output.narrow(2 + axis, 0, before))
            regions.append(output.narrow(2 + axis, size - after, after))
        reduce = [0, *range(2, 2 + dims)]
        for index, region in enumerate(regions):
            count = region.numel() // max(region.shape[1], 1)
            if count == 0:
                continue
            values = region if region.dtype == torch.float64 else region.float()
            var, mean = torch.var_mean(values, dim=reduce, correction=0)
            self._merge(index, count, mean.double().cpu(), var.double().cpu() * count)

    def _merge(self, region: int, count: int, mean: Tensor, m2: Tensor) -> None:
        """Chan et al.'s pairwise update of a count, mean and sum of squared deviations."""
        seen = float(self.count[region])
        total = seen + count
        delta = mean - self.mean[region]
        self.mean[region] += delta * (count / total)
        self.m2[region] += m2 + delta.square() * (seen * count / total)
        self.count[region] = total

    def merged(self, other: BorderStats) -> BorderStats:
        """The statistics of both, as if one had seen everything."""
        result = BorderStats(self.count.clone(), self.mean.clone(), self.m2.clone(), self.dtype)
        for region in range(self.count.numel()):
            if float(other.count[region]):
                result._merge(region, int(other.count[region]), other.mean[region], other.m2[region])
        return result


Geometry = tuple[tuple[tuple[int, int], ...], tuple[int, ...]]


def _geometry(conv: _ConvNd, name: str, sizes: tuple[int, ...]) -> Optional[Geometry]:
    """How many outputs reach the padding at the start and at the end of each axis, and the output's size.

    ``None`` when the padding of ``conv`` is unknown (its own ``forward``, no adapter).
    """
    row = _layer_padding(conv, name, sizes)
    overrides = plain_overrides(conv, repr(name))
    if row is None or isinstance(overrides, str):
        return None
    stride = overrides.get("stride", conv.stride)
    dilation = overrides.get("dilation", conv.dilation)
    counts, outputs = [], []
    for size, (before, after), kernel, step, spacing in zip(
        sizes, row.padding, conv.kernel_size, stride, dilation, strict=True
    ):
        first, last, total = border_counts(size, before, after, kernel, step, spacing)
        counts.append((first, last))
        outputs.append(total)
    return tuple(counts), tuple(outputs)


class Recorder:
    """Forward hooks that reduce every call of a model's convolutions to :class:`BorderStats`.

    Records :class:`torch.nn.Conv1d`, ``Conv2d`` and ``Conv3d`` and their subclasses (padmods layers,
    timm's ``Conv2dSame`` through its adapter). A subclass whose ``forward`` is its own and which no
    adapter describes has an unknown border: it is listed in :attr:`unknown` instead. Use as a
    context manager: the hooks are removed on exit.

    Args:
        model: The model.
        names: Record only the convolutions of these qualified names. Default: all of them.
    """

    def __init__(self, model: nn.Module, names: Optional[Iterable[str]] = None) -> None:
        wanted = None if names is None else set(names)
        self.names: dict[int, str] = {}
        self.modules: list[nn.Module] = []
        for name, module in model.named_modules():
            if conv_dims(module) and id(module) not in self.names and (wanted is None or name in wanted):
                self.names[id(module)] = name
                self.modules.append(module)
        self.stats: dict[str, BorderStats] = {}
        self.classes: dict[str, str] = {}
        self.unknown: list[str] = []
        self._geometry: dict[tuple[int, tuple[int, ...]], Optional[Geometry]] = {}
        self._handles: list[Any] = []

    def _hook(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if not args or not isinstance(args[0], Tensor) or not isinstance(output, Tensor):
            return
        dims = conv_dims(module)
        name = self.names[id(module)]
        sizes = tuple(int(size) for size in args[0].shape[-dims:])
        key = (id(module), sizes)
        if key not in self._geometry:
            self._geometry[key] = _geometry(module, name, sizes)  # type: ignore[arg-type]
        geometry = self._geometry[key]
        if output.dim() == dims + 1:  # an unbatched call
            output = output.unsqueeze(0)
        # a size other than the settings give: the layer computes some other way than they say
        if geometry is None or tuple(output.shape[2:]) != geometry[1]:
            if name not in self.unknown:
                self.unknown.append(name)
            return
        if name not in self.stats:
            self.stats[name] = BorderStats.empty(dims, output.shape[1], output.dtype)
            self.classes[name] = type(module).__name__
        self.stats[name].update(output.detach(), geometry[0])

    def __enter__(self) -> Recorder:
        self._handles = [module.register_forward_hook(self._hook) for module in self.modules]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def _first_tensor(batch: Any, index: int, caller: str) -> Tensor:
    if isinstance(batch, (tuple, list)) and batch:
        batch = batch[0]
    if not isinstance(batch, Tensor):
        raise TypeError(
            f"{caller}: each batch is a tensor, or a tuple or list whose first element is one (as a "
            f"DataLoader yields (inputs, targets)); batch {index} is a {type(batch).__name__}"
        )
    return batch


def _progress(inputs: Iterable[Any], enabled: bool, description: str) -> Iterable[Any]:
    """``inputs`` behind a tqdm progress bar when ``enabled`` and tqdm is installed, else as it is."""
    if not enabled:
        return inputs
    try:
        from tqdm import tqdm
    except ImportError:
        return inputs
    total = len(inputs) if hasattr(inputs, "__len__") else None  # type: ignore[arg-type]
    return tqdm(inputs, desc=description, total=total, leave=False, unit="batch")


def batches(inputs: Union[Tensor, Iterable[Any]], *, caller: str, progress: bool, description: str) -> Iterator[Tensor]:
    """The input tensor of each batch: ``inputs`` itself if it is a tensor, else each item's first tensor.

    Raises:
        TypeError: ``inputs`` is neither a tensor nor an iterable, or a batch holds no tensor.
        ValueError: The iterable yields no batch.
    """
    if isinstance(inputs, Tensor):
        yield inputs
        return
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Iterable):
        raise TypeError(
            f"{caller}: inputs is a tensor or an iterable of batches (a list, a DataLoader), "
            f"got {type(inputs).__name__}"
        )
    count = 0
    for index, batch in enumerate(_progress(inputs, progress, description)):
        count += 1
        yield _first_tensor(batch, index, caller)
    if count == 0:
        raise ValueError(f"{caller}: inputs (a {type(inputs).__name__}) yielded no batch; give at least one")


def model_device(model: nn.Module) -> Optional[torch.device]:
    """The device of the model's first parameter or buffer, ``None`` if it has none."""
    reference = next(itertools.chain(model.parameters(), model.buffers()), None)
    return None if reference is None else reference.device


def run_model(model: nn.Module, batch: Tensor, caller: str) -> Any:
    """``model(batch)``, with the batch moved to the model's device; a failure names the batch's shape."""
    device = model_device(model)
    if device is not None and batch.device != device:
        batch = batch.to(device)
    try:
        return model(batch)
    except (RuntimeError, ValueError) as error:
        shape = "x".join(map(str, batch.shape))
        raise ValueError(f"{caller}: the model failed on inputs of shape {shape}: {error}") from error
