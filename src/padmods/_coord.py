"""CoordConv (Liu et al., 2018): coordinate channels, and their convolution in closed form.

The coordinate channels are the same for every image, so by linearity CoordConv is the
convolution of the input's own channels plus one coordinate term broadcast over the batch. Each
coordinate varies along one axis only, and a border mode fills each axis on its own, so the
convolution of a coordinate channel separates into one small factor per spatial axis
(:func:`coord_factors`); the term is a chain of small contractions of the weight with them
(:func:`add_coord_term_`), whatever the batch and channel count, for 1, 2 or 3 spatial axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor

from padmods import _geometry
from padmods._cache import cached
from padmods._conv import PAD_MODES, Border, border_conv
from padmods._engine import engine_conv, padding_of
from padmods._partial import ratio_map
from padmods._trace import is_plain_eager
from padmods._typing import Pairs

__all__ = ["COORD_BORDERS", "add_coord_term_", "appends_coordinates", "coord_conv", "coord_factors", "coord_image"]

#: The borders whose coordinate term CoordConv's engine computes in closed form: the padding modes
#: and partial convolution (and a tuple of padding modes, one per axis). Spherical borders shift
#: rows across the poles, so they convolve a coordinate image instead.
COORD_BORDERS = (*PAD_MODES, "partial")

#: Largest flattened factor (``n k_1 ... k_n O_1 ... O_n`` elements, 256 KiB in float32) that
#: CoordConv keeps: below it the coordinate term is one matrix product with the cached matrix,
#: above it a few products with the per-axis factors (the ``coord-flat`` rows of
#: ``python benchmarks/run.py --experiment paths`` measure the two forms against each other).
FLAT_LIMIT = 1 << 16


@dataclass(frozen=True)
class CoordFactors:
    """The convolved coordinate channels in factored form, for one geometry, border, device and dtype.

    Attributes:
        axes: One factor per spatial axis, each ``(n, O_a, k_a)`` (see :func:`coord_factors`).
        flat: For small maps, their product flattened to ``(n k_1 ... k_n, O_1 ... O_n)``, so that
            the coordinate term is a single matrix product; ``None`` above :data:`FLAT_LIMIT`.
    """

    axes: tuple[Tensor, ...]
    flat: Optional[Tensor]


def _axis_coordinates(size: int) -> list[float]:
    """Coordinates along one axis: linear from -1 to 1; a single element gets -1."""
    return [-1.0] if size == 1 else [-1.0 + 2.0 * i / (size - 1) for i in range(size)]


def _symbolic_axis_coordinates(size: Any, device: torch.device) -> Tensor:
    """:func:`_axis_coordinates` as a float64 tensor, for a size that may be a tracer's symbol."""
    return _coordinates_at(torch.arange(size, device=device), size)


def _coordinates_at(index: Tensor, size: Any) -> Tensor:
    """The coordinates at positions ``index`` of an axis of ``size``, in float64, as :func:`_axis_coordinates`."""
    return 2.0 * index.to(torch.float64) / _geometry.at_least(size - 1, 1) - 1.0


def _symbolic_coord_image(sizes: tuple[Any, ...], with_r: bool, device: torch.device, dtype: torch.dtype) -> Tensor:
    """:func:`coord_image` built with tensor ops, for sizes that may be a tracer's symbols."""
    grids = torch.meshgrid(*[_symbolic_axis_coordinates(n, device) for n in sizes], indexing="ij")
    channels = list(reversed(grids))
    if with_r:
        channels.append(torch.sqrt(sum(grid**2 for grid in grids) / len(sizes)))  # type: ignore[arg-type]
    return torch.stack(channels).to(dtype)


@cached(maxsize=32, symbolic=_symbolic_coord_image)
def coord_image(sizes: tuple[int, ...], with_r: bool, device: torch.device, dtype: torch.dtype) -> Tensor:
    r"""The coordinate channels of an input of spatial ``sizes``, shape ``(n (+1), *sizes)``.

    Channel ``c`` varies along axis ``-(c + 1)``: ``x`` along the last axis (width), ``y`` along the
    one before (height), ``z`` before that (depth). The radius channel, with ``with_r``, is
    :math:`\sqrt{\sum_c c^2 / n}`, 1 at the corners.
    """
    with torch.inference_mode(False):
        axes = [torch.tensor(_axis_coordinates(n), dtype=torch.float64, device=device) for n in sizes]
        grids = torch.meshgrid(*axes, indexing="ij")
        channels = list(reversed(grids))
        if with_r:
            channels.append(torch.sqrt(sum(grid**2 for grid in grids) / len(sizes)))  # type: ignore[arg-type]
        return torch.stack(channels).to(dtype)


def _symbolic_coord_factors(
    sizes: tuple[Any, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pairs: Pairs,
    mode: Border,
    device: torch.device,
    dtype: torch.dtype,
) -> CoordFactors:
    """:func:`coord_factors` built with tensor ops, for sizes and padding that may be a tracer's symbols.

    Only the per-axis factors: whether the flattened product would be small depends on the sizes.
    """
    dims = len(sizes)
    factors = []
    for axis, (n, k, s, d, (before, after)) in enumerate(zip(sizes, kernel, stride, dilation, pairs, strict=True)):
        axis_mode = mode[axis] if isinstance(mode, tuple) else mode
        positions = _geometry.tap_positions(n, k, s, d, before, after, device)
        source, inside = _geometry.tap_sources_of(positions, n, axis_mode)
        present = inside.to(torch.float64)
        values = _coordinates_at(source, n) * present
        factors.append(torch.stack([values if axis == dims - 1 - c else present for c in range(dims)]).to(dtype))
    return CoordFactors(tuple(factors), None)


@cached(maxsize=32, symbolic=_symbolic_coord_factors)
def coord_factors(
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pairs: Pairs,
    mode: Border,
    device: torch.device,
    dtype: torch.dtype,
) -> CoordFactors:
    r"""One factor per spatial axis of the convolved coordinate channels.

    Tap ``t`` of output ``o`` on axis ``a`` reads the input position that ``mode`` copies there
    (:func:`padmods._geometry.tap_sources`). Coordinate channel ``c`` varies along axis
    ``a_c = n - 1 - c``, so the value that tap ``(t_1, ..., t_n)`` of output ``(o_1, ..., o_n)``
    reads is :math:`\prod_a F_a[c, o_a, t_a]`, where :math:`F_a[c]` holds the coordinate read
    (0 on a zero border) for :math:`a = a_c` and 1 where the tap lands in the input (0 on a zero
    border) otherwise.

    Returns:
        ``F_1, ..., F_n``, each of shape ``(n, O_a, k_a)``, and for small maps their flattened
        product (:class:`CoordFactors`).
    """
    dims = len(sizes)
    factors = []
    for axis, (n, k, s, d, (before, after)) in enumerate(zip(sizes, kernel, stride, dilation, pairs, strict=True)):
        coordinates = _axis_coordinates(n)
        axis_mode = mode[axis] if isinstance(mode, tuple) else mode
        taps = _geometry.tap_sources(n, k, s, d, before, after, axis_mode)
        inside = [[0.0 if i < 0 else 1.0 for i in row] for row in taps]
        values = [[0.0 if i < 0 else coordinates[i] for i in row] for row in taps]
        per_channel = [values if axis == dims - 1 - c else inside for c in range(dims)]
        with torch.inference_mode(False):  # cached factors must stay usable by autograd later
            factors.append(torch.tensor(per_channel, dtype=torch.float64, device=device).to(dtype))
    axes = tuple(factors)
    if len(sizes) * math.prod(kernel) * math.prod([f.shape[1] for f in axes]) > FLAT_LIMIT:
        return CoordFactors(axes, None)
    with torch.inference_mode(False):
        return CoordFactors(axes, _flatten(axes))


def _flatten(axes: tuple[Tensor, ...]) -> Tensor:
    """The product of the per-axis factors as one ``(n k_1 ... k_n, O_1 ... O_n)`` matrix."""
    outputs, taps = "ijk"[: len(axes)], "abc"[: len(axes)]
    operands = ",".join(f"n{o}{t}" for o, t in zip(outputs, taps, strict=True))
    product = torch.einsum(f"{operands}->n{taps}{outputs}", *axes)  # 2-D: "nia,njb->nabij"
    return product.reshape(len(axes) * math.prod([f.shape[2] for f in axes]), -1)


def _contract_trailing_axes(coord_weight: Tensor, factors: tuple[Tensor, ...]) -> Tensor:
    """The weight contracted with the factors of every axis but the first: ``(n, C_out, k_1, O_2 ... O_n)``.

    The last axis is one batched product over the coordinate channels; a middle axis (3-D) one
    broadcast product. The output axes after the first come back flattened into one.
    """
    out_channels, channels, *kernel = coord_weight.shape
    by_channel = coord_weight.transpose(0, 1)  # (n, C_out, k_1, ..., k_n)
    if len(kernel) == 1:
        return by_channel.unsqueeze(-1)
    last = factors[-1]
    result = torch.bmm(by_channel.reshape(channels, -1, kernel[-1]), last.transpose(1, 2))
    rest = last.shape[1]
    for axis in range(len(kernel) - 2, 0, -1):
        factor = factors[axis]  # (n, O_axis, k_axis), shared by every output channel and leading tap
        result = torch.matmul(factor.unsqueeze(1), result.view(channels, -1, kernel[axis], rest))
        rest *= factor.shape[1]
    return result.view(channels, out_channels, kernel[0], rest)


def _add_products_(target: Tensor, first: Tensor, trailing: Tensor) -> Tensor:
    """``target += sum_c first[c] @ trailing[c]`` per output channel, in place; ``target`` is ``(C_out, O_1, rest)``."""
    for channel in range(first.shape[0]):
        target.baddbmm_(first[channel].expand(target.shape[0], -1, -1), trailing[channel])
    return target


def coord_term(coord_weight: Tensor, factors: CoordFactors) -> Tensor:
    r"""The convolution of the ``n`` coordinate channels with ``coord_weight``, from their factors.

    Shape:
        - coord_weight: :math:`(C_{out}, n, k_1, \ldots, k_n)`
        - Output: :math:`(C_{out}, O_1, \ldots, O_n)`
    """
    out_channels, outputs = coord_weight.shape[0], [f.shape[1] for f in factors.axes]
    if not is_plain_eager():  # no in-place baddbmm_ (vmap), no reshape of symbolic sizes (tracers)
        return _broadcast_term(coord_weight, factors.axes)
    if factors.flat is not None:
        return torch.mm(coord_weight.reshape(out_channels, -1), factors.flat).view(out_channels, *outputs)
    trailing = _contract_trailing_axes(coord_weight, factors.axes)
    first = factors.axes[0]
    term = torch.matmul(first[0], trailing[0])
    _add_products_(term, first[1:], trailing[1:])
    return term.view(out_channels, *outputs)


def _broadcast_term(coord_weight: Tensor, axes: tuple[Tensor, ...]) -> Tensor:
    """:func:`coord_term` by broadcast products, one axis at a time, the last first; then summed over channels.

    No reshape (``einsum`` and ``matmul`` reshape), so a tracer keeps symbolic output sizes
    without guarding on them, and nothing in place, so ``torch.func`` transforms batch it. It
    holds at most ``C_out n k_1 O_1 ... O_n`` elements at a time.
    """
    dims = len(axes)
    term = coord_weight  # (C_out, n, k_1, ..., k_n): axis i at 2 + i, taps until contracted, then outputs
    for i in reversed(range(dims)):
        factor = axes[i]  # (n, O_i, k_i), broadcast as (1, n, 1, ..., O_i, k_i, 1, ...)
        for _ in range(i):
            factor = factor.unsqueeze(1)
        for _ in range(dims - 1 - i):
            factor = factor.unsqueeze(-1)
        term = (term.unsqueeze(2 + i) * factor.unsqueeze(0)).sum(3 + i)  # k_i replaced by O_i
    return term.sum(1)


def add_coord_term_(out: Tensor, coord_weight: Tensor, factors: CoordFactors) -> Tensor:
    """``out += coord_term(coord_weight, factors)``, broadcast over the batch; returns ``out``.

    For a single contiguous image the products add straight into ``out`` (``addmm_`` or
    ``baddbmm_``), so no output-sized temporary is made; batches add one term shared by every image.
    """
    if coord_weight.dtype != out.dtype:
        coord_weight = coord_weight.to(out.dtype)
    if not (out.shape[0] == 1 and out.is_contiguous()):
        return out.add_(coord_term(coord_weight, factors))
    out_channels = coord_weight.shape[0]
    if factors.flat is not None:
        out.view(out_channels, -1).addmm_(coord_weight.reshape(out_channels, -1), factors.flat)
        return out
    trailing = _contract_trailing_axes(coord_weight, factors.axes)
    first = factors.axes[0]
    _add_products_(out[0].view(out_channels, first.shape[1], -1), first, trailing)
    return out


def coord_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    pairs: Pairs,
    dilation: tuple[int, ...],
    with_r: bool,
    border: Border,
    *,
    eager: bool = False,
    input_taps: Optional[Tensor] = None,
    kept_terms: Optional[dict[Any, Tensor]] = None,
) -> Tensor:
    """CoordConv of a batched input over one of :data:`COORD_BORDERS`, given resolved ``pairs`` (no checks).

    The input's own channels go through the border's convolution; the ``x``, ``y`` (, ``z``)
    channels add their closed-form term in place to that fresh output. The radius channel does not
    separate by axis, so it is convolved as an image of its own. Partial borders rescale the
    coordinate term by the same ratio map as the input's convolution.

    ``eager=True`` (a plain eager call, decided by the caller) may take :func:`appends_coordinates`'s
    form instead. Where the weight does not change between calls (inference), the caller may keep
    ``input_taps``, ``weight[:, :C_in]`` as a contiguous tensor, so that no weight-sized copy is
    made per call, and ``kept_terms``, a dictionary in which the whole coordinate term of each
    geometry is kept once computed: the call is then the input's convolution and one addition.
    """
    channels = input.shape[1]
    if eager and kept_terms is None and appends_coordinates(input, weight, stride):
        coords = coord_image.eager(tuple(input.shape[2:]), with_r, input.device, input.dtype)
        stacked = torch.cat([input, coords.unsqueeze(0).expand(input.shape[0], *coords.shape)], dim=1)
        return engine_conv(stacked, weight, bias, stride, pairs, dilation, 1, border, eager=True)
    input_weight, coord_weight = weight.split([channels, weight.shape[1] - channels], dim=1)
    if input_taps is not None:
        input_weight = input_taps
    out = engine_conv(input, input_weight, bias, stride, pairs, dilation, 1, border, eager=eager)
    sizes, kernel = tuple(input.shape[2:]), tuple(weight.shape[2:])
    # an empty batch of empty images (the layers refuse them in a batch): no coordinates to add;
    # a tracer's symbolic sizes are not tested (a jit trace would keep the answer as a constant)
    if (eager or _geometry.is_static(sizes)) and 0 in sizes:
        return out
    # in the output's dtype, which differs from the input's under autocast
    geometry = (sizes, kernel, stride, dilation, pairs, border, with_r, input.device, out.dtype)
    if kept_terms is not None:
        term = kept_terms.get(geometry)
        if term is None:
            term = _coordinate_term(coord_weight, *geometry, input.dtype, eager=True)
            if len(kept_terms) >= KEPT_TERMS:
                kept_terms.clear()
            kept_terms[geometry] = term
        return out.add_(term)  # broadcast over the batch; the kept term is only read
    plain = eager or is_plain_eager()  # the in-place forms only in plain eager calls, not under torch.func
    if border != "partial" and not with_r and plain:
        factors = (coord_factors.eager if eager else coord_factors)(
            sizes, kernel, stride, dilation, pairs, padding_of(border), input.device, out.dtype
        )
        return add_coord_term_(out, coord_weight, factors)
    term = _coordinate_term(coord_weight, *geometry, input.dtype, eager=eager)
    # a fresh output of a built-in border: adding in place saves a copy; for a batch of one, a
    # leading unit axis keeps autograd from reducing the gradient over it
    if not plain:  # broadcast over any batch size, one the tracer may not know
        return out + term.unsqueeze(0)
    return out.add_(term.unsqueeze(0) if out.shape[0] == 1 else term)


#: How many geometries (input size, dtype, device) :func:`coord_conv` keeps a coordinate term
#: for in one ``kept_terms`` dictionary; past it the dictionary starts again.
KEPT_TERMS = 8


def _coordinate_term(
    coord_weight: Tensor,
    sizes: tuple[Any, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pairs: Pairs,
    border: Border,
    with_r: bool,
    device: torch.device,
    dtype: torch.dtype,
    input_dtype: torch.dtype,
    *,
    eager: bool,
) -> Tensor:
    """The convolution of every coordinate channel with ``coord_weight``, ``(C_out, O_1, ..., O_n)`` in ``dtype``.

    The radius channel's image is built in ``input_dtype``; a partial border's ratio map rescales
    the whole term.
    """
    dims = len(sizes)
    padding = padding_of(border)  # what the coordinates read beyond the border
    factors = (coord_factors.eager if eager else coord_factors)(
        sizes, kernel, stride, dilation, pairs, padding, device, dtype
    )
    term = coord_term(coord_weight[:, :dims].to(dtype), factors)
    if with_r:
        radius = coord_image(sizes, True, device, input_dtype)[dims:].unsqueeze(0)
        term = term + border_conv(radius, coord_weight[:, dims:], None, stride, pairs, dilation, 1, padding)[0]
    if border == "partial":
        term = term * ratio_map(sizes, kernel, stride, dilation, pairs, device, input_dtype)
    return term


def appends_coordinates(input: Tensor, weight: Tensor, stride: Optional[tuple[int, ...]] = None) -> bool:
    """Whether a plain eager call convolves the input with its coordinate channels appended.

    The other form splits the weight into input and coordinate taps and adds the coordinates'
    term to the output, a pass over the output. In training the split also copies the input taps
    in every forward and concatenates their gradients in every backward: two weight-sized copies
    per step, which in a deep layer (many channels, small maps) cost more than the layer's own
    border. Appending the coordinate channels instead copies the input once and convolves ``n``
    more channels. So the input is stacked with its coordinates when that stack holds fewer
    elements than:

    - in training (autograd records the weight), the input taps;
    - otherwise, the output (``stride`` sizes it; ``None`` is stride 1), as in a pointwise layer
      that widens the channels (MobileNet's expansions).

    :func:`coord_conv` does not ask where its caller keeps the input taps and the coordinate term
    between calls (``kept_terms``, a layer's own weight in inference): one convolution and one
    addition was as quick or quicker on every layer measured but one (the ``coord-kept`` rows).
    """
    stacked = input.numel() // input.shape[1] * weight.shape[1]
    if torch.is_grad_enabled() and weight.requires_grad:
        return stacked < weight.shape[0] * input.shape[1] * weight[0, 0].numel()
    steps = stride if stride is not None else (1,) * (input.dim() - 2)
    sizes = (-(-size // step) for size, step in zip(input.shape[2:], steps, strict=True))
    return stacked < input.shape[0] * weight.shape[0] * math.prod(sizes)
