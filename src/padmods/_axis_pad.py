"""Padding built from slices and concatenation, one axis at a time, each axis with its own mode.

Every border here is a copy of input slices (or zeros) glued on along one axis, so it works for
any number of axes, mixes modes per axis (``('zeros', 'circular')``: zeros along the height,
wrapped along the width), and traces into graphs that inductor compiles (it has no CPU backward
trouble with ``cat``, ``flip`` and ``narrow``). It also holds the two borders that torch's
``F.pad`` lacks: ``'symmetric'``, and ``'spherical'`` for equirectangular images.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from padmods._geometry import is_static, tap_sources_of
from padmods._typing import Pairs

__all__ = [
    "AXIS_MODES",
    "axis_pad",
    "concat_pad",
    "gather_axis_pad",
    "gather_pad",
    "gather_spherical_pad",
    "refuse_beyond_reach",
    "spherical_pad",
]

#: The modes that one axis can be padded with.
AXIS_MODES = ("zeros", "reflect", "replicate", "circular", "symmetric")


def _zeros_like_strip(input: Tensor, axis: int, length: int) -> Tensor:
    return input.new_zeros(*input.shape[:axis], length, *input.shape[axis + 1 :])


def _symmetric_axis(input: Tensor, axis: int, before: int, after: int) -> Tensor:
    """The mirror with the edge repeated; beyond the axis it keeps reflecting (period ``2n``)."""
    size = input.shape[axis]
    if before <= size and after <= size:
        head = input.narrow(axis, 0, before).flip(axis)
        tail = input.narrow(axis, size - after, after).flip(axis)
        return torch.cat([head, input, tail], dim=axis)
    # the axis continued as whole periods [x, flip(x)], then cut to the padded extent
    period = torch.cat([input, input.flip(axis)], dim=axis)
    periods_before = -(-before // (2 * size))
    periods_after = -(-(size + after) // (2 * size))
    tiled = torch.cat([period] * (periods_before + periods_after), dim=axis)
    return tiled.narrow(axis, periods_before * 2 * size - before, before + size + after)


def _symmetric_gather(input: Tensor, axis: int, before: Any, after: Any) -> Tensor:
    """:func:`_symmetric_axis` as one gather of computed indices, for padding that a tracer knows as a symbol."""
    return gather_axis_pad(input, axis, before, after, "symmetric")


def gather_axis_pad(input: Tensor, axis: int, before: Any, after: Any, mode: str) -> Tensor:
    """:func:`axis_pad` without a branch on the padding: one gather of computed indices (zeros: ``F.pad``).

    For a traced call whose padding is a tracer's symbol (``'same'`` with a stride, dynamic
    sizes): slicing by a symbolic amount makes the tracer guard on it, a gather does not.
    """
    if axis < 0:
        axis += input.dim()
    if mode == "zeros":
        pads = [0, 0] * (input.dim() - 1 - axis) + [before, after]
        return F.pad(input, pads)
    size = input.shape[axis]
    positions = torch.arange(before + size + after, device=input.device) - before
    source, _ = tap_sources_of(positions, size, mode)
    if mode in _REACH:
        source = refuse_beyond_reach(source, positions, size, _REACH[mode])
    return input.index_select(axis, source)


#: How far beyond each end of an axis of ``n`` elements a mode fills from the axis itself, as
#: ``n + offset``: reflection less than the size (``n - 1``), circular wrapping at most the size
#: (``n``), the rules of :func:`padmods._checks.check_padding_fits`.
_REACH = {"reflect": -1, "circular": 0}


def refuse_beyond_reach(source: Tensor, positions: Tensor, size: Any, offset: int) -> Tensor:
    """``source``, with the index of every position more than ``size + offset`` beyond the axis pointed past its end.

    A gather of computed indices would wrap such positions around the axis again and return
    numbers where the eager layer raises. In a traced program (``torch.jit.trace``,
    ``torch.export``, ONNX) the size is known only at run time, so the refusal has to be part of
    the program: an index of ``size`` is out of range, and the gather fails there
    (``index out of range`` in torch, ``indices element out of data bounds`` in onnxruntime).
    """
    size = positions.new_zeros(()) + size  # a 0-dim tensor: traced programs compute it from the input
    reach = size + offset
    fits = (positions >= -reach) & (positions < size + reach)
    return torch.where(fits, source, size)


def gather_pad(input: Tensor, pairs: Pairs, modes: tuple[str, ...]) -> Tensor:
    """:func:`concat_pad` by :func:`gather_axis_pad`, for any padding, symbolic included."""
    first_axis = input.dim() - len(pairs)
    for axis, ((before, after), mode) in enumerate(zip(pairs, modes, strict=True), start=first_axis):
        input = gather_axis_pad(input, axis, before, after, mode)
    return input


def gather_spherical_pad(input: Tensor, pairs: Pairs) -> Tensor:
    """:func:`spherical_pad` without a branch on the padding: rows past a pole gathered, then turned half way."""
    (top, bottom), (left, right) = pairs
    height, width = input.shape[-2], input.shape[-1]
    positions = torch.arange(top + height + bottom, device=input.device) - top
    source, _ = tap_sources_of(positions, height, "symmetric")
    source = refuse_beyond_reach(source, positions, height, _REACH["circular"])  # each pole mirrors at most the height
    rows = input.index_select(input.dim() - 2, source)
    beyond = ((positions < 0) | (positions >= height)).unsqueeze(-1)  # rows across a pole: the opposite meridian
    columns = torch.arange(width, device=input.device)
    turn, _ = tap_sources_of(columns - width // 2, width, "circular")  # a roll, as a traceable gather
    if not (is_static((top, bottom)) and not (top or bottom)):
        # an odd width has no opposite meridian: past the end of the axis, as refuse_beyond_reach does
        size = columns.new_zeros(()) + width
        turn = torch.where((size % 2 == 1) & (size * 0 + top + bottom > 0), size, turn)
    half_turn = rows.index_select(rows.dim() - 1, turn)
    rows = torch.where(beyond, half_turn, rows)
    return gather_axis_pad(rows, rows.dim() - 1, left, right, "circular")


def axis_pad(input: Tensor, axis: int, before: int, after: int, mode: str) -> Tensor:
    """Pad one ``axis`` of ``input`` by ``before`` and ``after`` elements with one of :data:`AXIS_MODES`.

    Within torch's limits (reflect: pads below the size; circular: at most the size) every mode
    equals ``F.pad``; ``'symmetric'`` takes any padding.
    """
    static = is_static((before, after))  # not a tracer's symbolic padding
    if static and not (before or after):
        return input
    size = input.shape[axis]
    if mode == "symmetric":
        if not static or torch.jit.is_tracing():  # any padding, without branching on the (traced) size
            return _symmetric_gather(input, axis, before, after)
        return _symmetric_axis(input, axis, before, after)
    if mode == "zeros":
        head, tail = _zeros_like_strip(input, axis, before), _zeros_like_strip(input, axis, after)
    elif mode == "replicate":
        head = input.narrow(axis, 0, 1).expand(*input.shape[:axis], before, *input.shape[axis + 1 :])
        tail = input.narrow(axis, size - 1, 1).expand(*input.shape[:axis], after, *input.shape[axis + 1 :])
    elif mode == "reflect":
        head = input.narrow(axis, 1, before).flip(axis)
        tail = input.narrow(axis, size - 1 - after, after).flip(axis)
    elif mode == "circular":
        head = input.narrow(axis, size - before, before)
        tail = input.narrow(axis, 0, after)
    else:
        raise ValueError(f"axis_pad: mode must be one of {AXIS_MODES}, got {mode!r}")
    return torch.cat([head, input, tail], dim=axis)


def concat_pad(input: Tensor, pairs: Pairs, modes: tuple[str, ...]) -> Tensor:
    """Pad the last ``len(pairs)`` axes, axis ``i`` with ``modes[i]``, first axis first (no checks)."""
    first_axis = input.dim() - len(pairs)
    for axis, ((before, after), mode) in enumerate(zip(pairs, modes, strict=True), start=first_axis):
        input = axis_pad(input, axis, before, after, mode)
    return input


def spherical_pad(input: Tensor, pairs: Pairs) -> Tensor:
    r"""Pad an equirectangular image (rows: latitude, columns: longitude) as the sphere continues.

    Past the top and bottom rows the image continues on the far side of the pole: the rows are
    mirrored across it (the edge row repeated, as with ``'symmetric'``) and shifted by half the
    width, the opposite meridian; along the width it wraps around (``'circular'``). The width must
    be even, and each pad at most the size of its axis (checked by
    :func:`padmods._checks.check_padding_fits`).

    Shape:
        - Input: :math:`(*, H, W)`, :math:`W` even
        - Output: :math:`(*, H + p_{top} + p_{bottom}, W + p_{left} + p_{right})`
    """
    (top, bottom), (left, right) = pairs
    height, width = input.shape[-2], input.shape[-1]
    if torch.jit.is_tracing():  # roll() keeps the example's width in a jit trace
        return gather_spherical_pad(input, pairs)
    parts = []
    static = is_static((top, bottom))  # a tracer's symbolic padding: no branches
    if top or not static:
        parts.append(input.narrow(-2, 0, top).flip(-2).roll(width // 2, -1))
    parts.append(input)
    if bottom or not static:
        parts.append(input.narrow(-2, height - bottom, bottom).flip(-2).roll(width // 2, -1))
    rows = torch.cat(parts, dim=-2) if len(parts) > 1 else input
    return axis_pad(rows, rows.dim() - 1, left, right, "circular")
