"""Reflect, replicate and circular padding with a backward that folds the border in one pass.

A border that copies pixels fills each axis on its own: the rows before and after an axis are
copies of a few rows of the input, read forwards (circular), backwards (reflect) or repeated
(replicate). The forward of :func:`border_pad` is torch's own ``F.pad``; its backward clones the
gradient once and folds each axis's border back onto the rows it was read from, the last padded
axis first, in place. On the CPU that is several times faster than torch's backward for circular
padding (2.2 against 11.7 ms forward + backward for 8x64x56x56), so CPU circular layers use it on
large inputs. For reflect and replicate torch's backward is as fast, and the layers keep it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from padmods import _geometry
from padmods._typing import Pairs

__all__ = ["BORDER_COPY_MODES", "border_pad"]

#: The torch padding modes whose border is a copy of input pixels, chosen per axis.
BORDER_COPY_MODES = ("reflect", "replicate", "circular")


def _fold_strip_(grad_input: Tensor, strip_grad: Tensor, axis: int, size: int, mode: str, before: bool) -> None:
    """Add the gradient of a border strip onto the input rows that ``mode`` copies into it.

    Circular borders hold the other end of the axis in order, reflect borders the rows next to the
    edge (the edge itself excluded) mirrored, replicate borders the edge row repeated.
    """
    count = strip_grad.shape[axis]
    if mode == "circular":
        grad_input.narrow(axis, size - count if before else 0, count).add_(strip_grad)
    elif mode == "reflect":
        grad_input.narrow(axis, 1 if before else size - 1 - count, count).add_(strip_grad.flip(axis))
    else:
        grad_input.narrow(axis, 0 if before else size - 1, 1).add_(strip_grad.sum(axis, keepdim=True))


def _region(tensor: Tensor, spans: Sequence[tuple[int, int]]) -> Tensor:
    """The view of ``tensor`` that spans ``(start, length)`` on each of its last ``len(spans)`` axes."""
    for axis, (start, length) in enumerate(spans, start=tensor.dim() - len(spans)):
        tensor = tensor.narrow(axis, start, length)
    return tensor


def _steps(sizes: Sequence[int], pairs: Pairs) -> list[tuple[int, list[tuple[int, int]]]]:
    """For each padded axis in turn, its index and the spans of the region its border is read from.

    Padding axis after axis, axis ``i`` is padded from a region that spans the whole padded extent
    of the axes before it and the input's extent (the centre) of ``i`` and the axes after it.
    """
    full = [(0, n + before + after) for n, (before, after) in zip(sizes, pairs, strict=True)]
    center = [(before, n) for n, (before, _) in zip(sizes, pairs, strict=True)]
    return [(i, full[:i] + center[i:]) for i in range(len(sizes))]


def _fold(grad: Tensor, pairs: Pairs, mode: str) -> Tensor:
    """The adjoint of padding: fold each axis's border back, the last padded axis first, in one buffer."""
    count = len(pairs)
    sizes = [n - before - after for n, (before, after) in zip(grad.shape[grad.dim() - count :], pairs, strict=True)]
    work = grad.clone(memory_format=torch.contiguous_format)
    first_axis = grad.dim() - count
    steps = _steps(sizes, pairs)
    for i, spans in reversed(steps):
        (before, after), size, axis = pairs[i], sizes[i], first_axis + i
        source = _region(work, spans)
        if before:
            strip = _region(work, [*spans[:i], (0, before), *spans[i + 1 :]])
            _fold_strip_(source, strip, axis, size, mode, True)
        if after:
            strip = _region(work, [*spans[:i], (before + size, after), *spans[i + 1 :]])
            _fold_strip_(source, strip, axis, size, mode, False)
    return _region(work, steps[0][1])  # the first axis is read from the centre on every axis


class _BorderPad(torch.autograd.Function):
    """``F.pad`` with a copying mode; the backward folds each axis into one buffer. Differentiable twice.

    It works under ``torch.func`` too: the forward, backward and forward-mode (``jvp``) rules are
    plain tensor code that vmap batches itself (``generate_vmap_rule``), and padding is linear,
    so the tangent is padded the way the input is.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(input: Tensor, pairs: Pairs, mode: str) -> Tensor:
        return _torch_pad(input, pairs, mode)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        _, ctx.pairs, ctx.mode = inputs

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        return _fold(grad, ctx.pairs, ctx.mode), None, None

    @staticmethod
    def jvp(ctx: Any, tangent: Tensor, *_: Any) -> Tensor:
        return _torch_pad(tangent, ctx.pairs, ctx.mode)


def border_pad(input: Tensor, pairs: Pairs, mode: str) -> Tensor:
    r"""``F.pad(input, pads, mode)`` for ``mode`` in :data:`BORDER_COPY_MODES`, with a one-pass backward.

    Args:
        input: Tensor whose last ``len(pairs)`` axes are padded.
        pairs: One ``(before, after)`` pair per padded axis, in axis order. Torch's limits apply:
            reflect pads by less than the axis size, circular by at most the size.
        mode: ``'reflect'``, ``'replicate'`` or ``'circular'``.

    Shape:
        - Input: :math:`(*, n_1, \ldots, n_k)`
        - Output: :math:`(*, n_1 + b_1 + a_1, \ldots, n_k + b_k + a_k)`
    """
    if torch.is_grad_enabled() and input.requires_grad:
        out: Tensor = _BorderPad.apply(input, tuple(pairs), mode)
        return out
    return _torch_pad(input, pairs, mode)


def _torch_pad(input: Tensor, pairs: Pairs, mode: str) -> Tensor:
    return F.pad(input, _geometry.to_pad_arg(pairs), mode=mode)
