"""Padding arithmetic, one spatial axis at a time.

Every function here is pure and works on plain ints, so the same rules serve 1-D, 2-D and 3-D
layers: a layer resolves its padding axis by axis and only then builds tensors.
"""

from __future__ import annotations

from collections.abc import Sequence

from padmods._typing import Pairs

__all__ = [
    "conv_output_size",
    "resolve_padding",
    "tap_sources",
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
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


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
