"""Every copying border built in one buffer, one mode per axis, with a backward that folds it in one pass.

A border that copies pixels fills each axis on its own: the rows before and after an axis are
copies of a few rows of the input, read forwards (circular), backwards (reflect, symmetric) or
repeated (replicate), or zeros. :func:`border_pad` allocates the padded tensor once, copies the
input into its centre and fills each axis's border from the region already filled, first axis
first: one pass over the output, whatever the number of axes or the mix of modes. Its backward
clones the gradient once and folds each axis's border back onto the rows it was read from, the
last padded axis first, in place.

The ``'spherical'`` border of equirectangular images is the axis mode ``'pole'`` on the height
(rows past a pole mirrored, edge row repeated, and turned half way round) and ``'circular'`` on
the width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from padmods._typing import Pairs

__all__ = ["BORDER_COPY_MODES", "ONE_PASS_MODES", "axis_modes", "border_pad", "fits_one_pass", "repeat_edges"]

#: The torch padding modes whose border is a copy of input pixels, chosen per axis.
BORDER_COPY_MODES = ("reflect", "replicate", "circular")

#: The modes one axis of :func:`border_pad` takes.
ONE_PASS_MODES = ("zeros", "reflect", "replicate", "circular", "symmetric", "pole")


def axis_modes(mode: str | tuple[str, ...], count: int) -> tuple[str, ...]:
    """One :data:`ONE_PASS_MODES` entry per padded axis for a border name or per-axis tuple."""
    if isinstance(mode, tuple):
        return mode
    if mode == "spherical":
        return ("pole", "circular")
    return (mode,) * count


def repeat_edges(modes: tuple[str, ...], pairs: Pairs) -> tuple[str, ...]:
    """``modes`` with each symmetric axis padded by at most one element called ``'replicate'``.

    A mirror of one element that includes the edge repeats the edge: the same border, which
    ``F.pad`` builds in one kernel call.
    """
    if "symmetric" not in modes:
        return modes
    return tuple(
        "replicate" if mode == "symmetric" and max(pair) <= 1 else mode for mode, pair in zip(modes, pairs, strict=True)
    )


def fits_one_pass(input: Tensor, pairs: Pairs, modes: Sequence[str]) -> bool:
    """Whether every axis's padding reads only the input's own extent along it, once.

    Reflection pads by less than the size, circular wrapping and symmetric or polar mirroring by at
    most the size, replication any non-empty axis; zeros always fit. Beyond that (symmetric's
    repeated mirrors) a border is built by the slower concatenation forms.
    """
    sizes = input.shape[input.dim() - len(pairs) :]
    for (before, after), size, mode in zip(pairs, sizes, modes, strict=True):
        largest = before if before > after else after
        if mode == "zeros" or largest == 0:
            continue
        if size == 0 or largest > size or (mode == "reflect" and largest == size):
            return False
    return True


def _memory_format(input: Tensor) -> torch.memory_format:
    """The layout a padded copy of ``input`` keeps: channels-last stays channels-last."""
    if input.dim() == 4 and not input.is_contiguous() and input.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    if input.dim() == 5 and not input.is_contiguous() and input.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


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


def _strip(source: Tensor, axis: int, mode: str, count: int, before: bool) -> Tensor:
    """What ``mode`` copies into the ``count`` elements before (or after) ``source`` along ``axis``."""
    size = source.shape[axis]
    if mode == "circular":
        return source.narrow(axis, size - count if before else 0, count)
    if mode == "reflect":
        return source.narrow(axis, 1 if before else size - 1 - count, count).flip(axis)
    if mode == "replicate":
        edge = source.narrow(axis, 0 if before else size - 1, 1)
        return edge.expand(*source.shape[:axis], count, *source.shape[axis + 1 :])
    # symmetric; a pole also turns the mirrored rows half way round the last axis (the longitude)
    mirrored = source.narrow(axis, 0 if before else size - count, count).flip(axis)
    return mirrored.roll(source.shape[-1] // 2, -1) if mode == "pole" else mirrored


def _fold_strip_(source: Tensor, strip_grad: Tensor, axis: int, mode: str, before: bool) -> None:
    """Add the gradient of a border strip onto the input rows ``mode`` copied into it (adjoint of :func:`_strip`)."""
    size, count = source.shape[axis], strip_grad.shape[axis]
    if mode == "circular":
        source.narrow(axis, size - count if before else 0, count).add_(strip_grad)
    elif mode == "reflect":
        source.narrow(axis, 1 if before else size - 1 - count, count).add_(strip_grad.flip(axis))
    elif mode == "replicate":
        source.narrow(axis, 0 if before else size - 1, 1).add_(strip_grad.sum(axis, keepdim=True))
    elif mode in ("symmetric", "pole"):
        if mode == "pole":
            strip_grad = strip_grad.roll(-(source.shape[-1] // 2), -1)
        source.narrow(axis, 0 if before else size - count, count).add_(strip_grad.flip(axis))


def _fill(input: Tensor, pairs: Pairs, modes: Sequence[str]) -> Tensor:
    """The padded tensor, in one buffer: the input in the centre, then each axis's border, first axis first.

    One torch copying mode on every axis is ``F.pad`` itself, one kernel call, unless the input is
    channels-last, a layout that ``F.pad`` does not keep.
    """
    layout = _memory_format(input)
    if modes[0] in BORDER_COPY_MODES and layout == torch.contiguous_format and all(m == modes[0] for m in modes):
        return F.pad(input, _pad_arg(pairs), mode=modes[0])
    count = len(pairs)
    lead = input.shape[: input.dim() - count]
    sizes = input.shape[input.dim() - count :]
    padded = [n + before + after for n, (before, after) in zip(sizes, pairs, strict=True)]
    out = torch.empty((*lead, *padded), dtype=input.dtype, device=input.device, memory_format=_memory_format(input))
    steps = _steps(sizes, pairs)
    _region(out, steps[0][1]).copy_(input)
    for i, spans in steps:
        (before, after), axis, mode = pairs[i], input.dim() - count + i, modes[i]
        source = _region(out, spans)
        for length, start, is_before in ((before, 0, True), (after, spans[i][0] + sizes[i], False)):
            if not length:
                continue
            target = _region(out, [*spans[:i], (start, length), *spans[i + 1 :]])
            if mode == "zeros":
                target.zero_()
            else:
                target.copy_(_strip(source, axis, mode, length, is_before))
    return out


def _pad_arg(pairs: Pairs) -> list[int]:
    """``F.pad``'s flat, last-axis-first form of ``pairs``."""
    return [p for pair in reversed(pairs) for p in pair]


def _fold(grad: Tensor, pairs: Pairs, modes: Sequence[str], *, in_place: bool = False) -> Tensor:
    """The adjoint of :func:`_fill`: fold each axis's border back, the last padded axis first, in one buffer.

    The result is a view of the centre of that buffer: a copy of ``grad``, or with ``in_place``
    ``grad`` itself, which the fold then overwrites.
    """
    count = len(pairs)
    sizes = [n - before - after for n, (before, after) in zip(grad.shape[grad.dim() - count :], pairs, strict=True)]
    work = grad if in_place else grad.clone(memory_format=_memory_format(grad))
    steps = _steps(sizes, pairs)
    for i, spans in reversed(steps):
        (before, after), axis, mode = pairs[i], grad.dim() - count + i, modes[i]
        if mode == "zeros":
            continue
        source = _region(work, spans)
        if before:
            strip = _region(work, [*spans[:i], (0, before), *spans[i + 1 :]])
            _fold_strip_(source, strip, axis, mode, True)
        if after:
            strip = _region(work, [*spans[:i], (spans[i][0] + sizes[i], after), *spans[i + 1 :]])
            _fold_strip_(source, strip, axis, mode, False)
    return _region(work, steps[0][1])  # the first axis is read from the centre on every axis


class _BorderPad(torch.autograd.Function):
    """:func:`_fill` forward, :func:`_fold` backward. Differentiable twice.

    It works under ``torch.func`` too: the forward, backward and forward-mode (``jvp``) rules are
    plain tensor code that vmap batches itself (``generate_vmap_rule``), and padding is linear,
    so the tangent is padded the way the input is.

    ``owned``: the padded tensor goes to one consumer inside padmods (a convolution) and nowhere
    else, so its gradient is a fresh tensor that nothing else holds; a first-order backward folds
    the border into it in place (:func:`_owns`) instead of into a copy, one pass over the padded
    gradient fewer.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(input: Tensor, pairs: Pairs, modes: tuple[str, ...], owned: bool = False) -> Tensor:
        return _fill(input, pairs, modes)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        _, ctx.pairs, ctx.modes, ctx.owned = inputs

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        if ctx.owned and _owns(grad):
            return _fold(grad, ctx.pairs, ctx.modes, in_place=True), None, None, None
        return _BorderFold.apply(grad, ctx.pairs, ctx.modes), None, None, None

    @staticmethod
    def jvp(ctx: Any, tangent: Tensor, *_: Any) -> Tensor:
        return _fill(tangent, ctx.pairs, ctx.modes)


def _owns(grad: Tensor) -> bool:
    """Whether a first-order backward may overwrite ``grad``.

    First order: no graph of the backward is recorded. ``grad`` must be a dense tensor of its own:
    not a view, no two elements in one place, no subclass (``torch.func``'s wrappers, DTensor).
    """
    return (
        not torch.is_grad_enabled()
        and not grad.requires_grad
        and not grad._is_view()
        and (grad.is_contiguous() or grad.is_contiguous(memory_format=_memory_format(grad)))
        and type(grad) is Tensor
    )


class _BorderFold(torch.autograd.Function):
    """:func:`_fold` forward, :func:`_fill` backward: the gradient of padding, itself differentiable."""

    generate_vmap_rule = True

    @staticmethod
    def forward(grad: Tensor, pairs: Pairs, modes: tuple[str, ...]) -> Tensor:
        return _fold(grad, pairs, modes)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        _, ctx.pairs, ctx.modes = inputs

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        return _BorderPad.apply(grad, ctx.pairs, ctx.modes, False), None, None

    @staticmethod
    def jvp(ctx: Any, tangent: Tensor, *_: Any) -> Tensor:
        return _fold(tangent, ctx.pairs, ctx.modes)


def border_pad(input: Tensor, pairs: Pairs, mode: str | Sequence[str], *, owned: bool = False) -> Tensor:
    r"""Pad the last ``len(pairs)`` axes of ``input`` in one buffer, each axis with its own mode.

    Args:
        input: Tensor whose last ``len(pairs)`` axes are padded.
        pairs: One ``(before, after)`` pair per padded axis, in axis order, each fitting its axis
            once (:func:`fits_one_pass`): reflect pads by less than the axis size, circular,
            symmetric and pole by at most the size.
        mode: One of :data:`ONE_PASS_MODES` for every axis, a sequence with one per axis, or
            ``'spherical'`` (``('pole', 'circular')``, width even).
        owned: The caller hands the result to one consumer of its own and to nothing else (no
            hook, no ``retain_grad``), so that the backward may fold into the incoming gradient.

    Shape:
        - Input: :math:`(*, n_1, \ldots, n_k)`
        - Output: :math:`(*, n_1 + b_1 + a_1, \ldots, n_k + b_k + a_k)`
    """
    pairs = tuple((before, after) for before, after in pairs)
    modes = repeat_edges(tuple(mode) if not isinstance(mode, str) else axis_modes(mode, len(pairs)), pairs)
    if torch.is_grad_enabled() and input.requires_grad:
        out: Tensor = _BorderPad.apply(input, pairs, modes, owned)
        return out
    return _fill(input, pairs, modes)
