"""Padding arithmetic, one spatial axis at a time.

Every function here is pure, so the same rules serve 1-D, 2-D and 3-D layers: a layer resolves its
padding axis by axis and only then builds tensors. They work on plain ints, and the few that a
traced call reaches also on the symbolic sizes of tracers (``torch.SymInt`` under
``torch.export``/``torch.compile``, 0-dim tensors under ``torch.jit.trace``) without branching on
them, so that a traced graph computes the padding from the input's size (:func:`is_static`,
:func:`tap_positions`, :func:`tap_sources_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from padmods._typing import Pairs

__all__ = [
    "at_least",
    "conv_output_size",
    "is_exporting",
    "is_static",
    "resolve_padding",
    "tap_positions",
    "tap_sources",
    "tap_sources_of",
    "to_pad_arg",
    "valid_tap_counts",
]


def same_axis_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """Padding ``(before, after)`` of one axis under TensorFlow's ``'same'`` rule.

    The output has ``ceil(size / stride)`` elements; the padding needed for that is split in two,
    and an odd extra element goes after (bottom/right). With ``stride == 1`` the result does not
    depend on ``size`` and equals PyTorch's own ``padding='same'``.
    """
    span = dilation * (kernel - 1) + 1
    if stride == 1:  # the same for every size, symbolic ones included
        total = max(span - 1, 0)
        return total // 2, total - total // 2
    # (ceil(size / stride) - 1) stride + span - size, written with a remainder in [0, stride), so that
    # a tracer's range analysis bounds it by [span - stride, span - 1] for a symbolic size
    total = span - stride + (-size) % stride
    if span < stride:  # negative for some sizes
        total = at_least(total, 0)
    return total // 2, total - total // 2


#: What a static key holds besides ints: nothing a tracer makes symbolic.
_STATIC_LEAVES = (int, float, str, torch.device, torch.dtype, type(None))


def is_static(value: Any) -> bool:
    """Whether ``value`` (nested tuples and lists of ints, strings, devices, ...) holds no tracer's symbolic size.

    A leaf is static when it is one of these plain types. While :func:`torch.export` traces,
    nothing is: under dynamo (``strict=True``) ``isinstance`` does not tell a symbolic size from an
    int, so an exported graph always gets the branch-free forms, which are right for plain ints
    too. ``torch.compile`` keeps the eager forms: there dynamo guards on the sizes and recompiles
    (and inductor's backward of the gather forms crashes in torch 2.13).
    """
    return not is_exporting() and _holds_plain_values(value)


def _holds_plain_values(value: Any) -> bool:
    if not isinstance(value, (tuple, list)):
        return isinstance(value, _STATIC_LEAVES)
    for item in value:  # a loop, not all() over a generator: several calls in every forward
        if isinstance(item, (tuple, list)):
            if not _holds_plain_values(item):
                return False
        elif not isinstance(item, _STATIC_LEAVES):
            return False
    return True


_torch_is_exporting = getattr(torch.compiler, "is_exporting", None)  # torch >= 2.6


def is_exporting() -> bool:
    """Whether :func:`torch.export` traces this call (strict or not; the ONNX dynamo exporter included)."""
    return bool(_torch_is_exporting()) if _torch_is_exporting is not None else torch.compiler.is_compiling()


def at_least(value: Any, low: int) -> Any:
    """``max(value, low)`` for an int, a ``torch.SymInt`` or a 0-dim tensor, without branching on a symbolic value."""
    if isinstance(value, Tensor):
        return value.clamp(min=low)
    if is_static(value):
        return max(value, low)
    return torch.sym_max(value, low)


def tap_positions(
    size: Any, kernel: int, stride: int, dilation: int, before: Any, after: Any, device: torch.device
) -> Tensor:
    """The input position that each tap of each output reads, as an ``(O, kernel)`` int64 tensor.

    Output ``o`` reads ``o * stride - before + t * dilation`` (padded positions fall outside
    ``[0, size)``). Built with tensor ops from ``size`` and the padding, which may be symbolic.
    """
    outputs = conv_output_size(size, kernel, stride, dilation, before, after)
    starts = torch.arange(outputs, device=device) * stride - before
    return starts.unsqueeze(-1) + torch.arange(kernel, device=device) * dilation


def tap_sources_of(positions: Tensor, size: Any, mode: str) -> tuple[Tensor, Tensor]:
    """Tensor form of :func:`tap_sources`: for ``positions``, the input index read and whether it is inside.

    Returns ``(source, inside)``: ``source`` clamped into ``[0, size)`` for ``'zeros'`` (where
    ``inside`` is false it reads a zero), and ``inside`` true everywhere for the copying modes.
    """
    # the size as a 0-dim tensor: the ONNX exporter has no remainder by a symbolic scalar
    size = positions.new_zeros(()) + size
    if mode == "zeros":
        inside = (positions >= 0) & (positions < size)
        return positions.clamp(min=0).minimum(size - 1), inside
    if mode == "replicate":
        source = positions.clamp(min=0).minimum(size - 1)
    elif mode == "circular":
        source = positions.remainder(size)
    elif mode == "reflect":  # period 2 (size - 1)
        phase = positions.remainder(at_least(2 * size - 2, 1))
        source = torch.where(phase < size, phase, 2 * size - 2 - phase)
    elif mode == "symmetric":  # period 2 size
        phase = positions.remainder(2 * size)
        source = torch.where(phase < size, phase, 2 * size - 1 - phase)
    else:
        raise ValueError(f"tap_sources_of: mode must be zeros, replicate, circular, reflect or symmetric, got {mode!r}")
    return source, torch.ones_like(positions, dtype=torch.bool)


def resolve_padding(
    spec: str | Sequence[int],
    sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> Pairs:
    """Padding ``(before, after)`` for every spatial axis, in the input's axis order.

    ``spec`` is ``'same'``, ``'valid'``, ``'full'`` (``d (k - 1)`` on both sides: every output that
    any input element reaches) or one int per axis, already checked (see
    :func:`padmods._checks.parse_padding`); ``kernel``, ``stride`` and ``dilation`` have one int per axis.
    """
    if not isinstance(spec, str):
        return tuple(zip(spec, spec, strict=True))
    if spec == "valid":
        return ((0, 0),) * len(sizes)
    if spec == "full":
        return tuple((d * (k - 1), d * (k - 1)) for k, d in zip(kernel, dilation, strict=True))
    return tuple(map(same_axis_padding, sizes, kernel, stride, dilation))


def to_pad_arg(pairs: Pairs) -> tuple[int, ...]:
    """Turn per-axis ``(before, after)`` pairs into the flat, last-axis-first tuple of ``F.pad``."""
    flat: list[int] = []
    for before, after in reversed(pairs):
        flat += [before, after]
    return tuple(flat)


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, before: int, after: int) -> int:
    """Number of output elements of a convolution along one axis (PyTorch's ``Shape`` formula)."""
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def valid_tap_counts(size: int, kernel: int, stride: int, dilation: int, before: int, after: int) -> list[int]:
    """For each output position of one axis, how many kernel taps fall inside the input.

    Output ``o`` reads input positions ``o * stride - before + t * dilation`` for ``t`` in
    ``range(kernel)``; a tap counts when that position lies in ``[0, size)``. The count is worked out
    in closed form per position, so the cost is one step per output element.
    """
    counts = []
    for o in range(conv_output_size(size, kernel, stride, dilation, before, after)):
        start = o * stride - before
        first = -(start // dilation) if start < 0 else 0  # smallest t with start + t * dilation >= 0
        last = min(kernel - 1, (size - 1 - start) // dilation)  # largest t still < size
        counts.append(max(last - first + 1, 0))
    return counts


def _source(position: int, size: int, mode: str) -> int:
    """The input index that a torch padding ``mode`` copies into padded ``position``; -1 for a zero."""
    if 0 <= position < size:
        return position
    if mode == "reflect":  # torch pads by less than the size, so one reflection is enough
        return -position if position < 0 else 2 * (size - 1) - position
    if mode == "symmetric":  # the edge repeated; period 2 size, so any padding keeps reflecting
        phase = position % (2 * size)
        return phase if phase < size else 2 * size - 1 - phase
    if mode == "replicate":
        return min(max(position, 0), size - 1)
    if mode == "circular":
        return position % size
    return -1


def tap_sources(
    size: int, kernel: int, stride: int, dilation: int, before: int, after: int, mode: str = "zeros"
) -> list[list[int]]:
    """For each output position of one axis, the input index that each kernel tap reads.

    Padded positions map back into the input as ``mode`` fills them (``'reflect'``,
    ``'replicate'``, ``'circular'``, ``'symmetric'``); with ``'zeros'`` they read -1, a zero.
    """
    return [
        [_source(o * stride - before + t * dilation, size, mode) for t in range(kernel)]
        for o in range(conv_output_size(size, kernel, stride, dilation, before, after))
    ]
