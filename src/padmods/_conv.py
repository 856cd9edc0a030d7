"""Convolution over a border that copies or zeroes pixels, for 1, 2 or 3 spatial axes.

Three steps, each in one function: :func:`explicit_pad` fills the border, :func:`conv_operands`
decides whether the border can be left to the convolution itself (a symmetric zero border), and
:func:`conv` runs ``F.conv1d``/``conv2d``/``conv3d``, on CPU with a faster form for a convolution
with one input and one output channel. :func:`border_conv` chains them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from padmods import _geometry
from padmods._axis_pad import AXIS_MODES, concat_pad, gather_pad, gather_spherical_pad, spherical_pad
from padmods._border_pad import BORDER_COPY_MODES, axis_modes, border_pad, fits_one_pass, repeat_edges
from padmods._trace import is_plain_eager, is_tracing
from padmods._typing import Pairs

__all__ = [
    "BORDERS",
    "PAD_MODES",
    "TORCH_PAD_MODES",
    "Border",
    "border_conv",
    "conv",
    "conv_operands",
    "eager_pad",
    "explicit_pad",
    "is_zeros",
    "unread_trimmed",
]

#: Border modes that :func:`torch.nn.functional.pad` implements; ``'zeros'`` is torch's conv name.
TORCH_PAD_MODES = ("zeros", "reflect", "replicate", "circular")

#: Every border that padding alone makes on any axis: torch's four, and ``'symmetric'`` (a mirror
#: that repeats the edge pixel, TensorFlow's ``SYMMETRIC``).
PAD_MODES = AXIS_MODES

#: The borders :func:`border_conv` pads with: :data:`PAD_MODES`, and ``'spherical'`` (2-D
#: equirectangular images). A tuple of :data:`PAD_MODES` pads each axis with its own mode.
BORDERS = (*PAD_MODES, "spherical")

#: A border: one of :data:`BORDERS`, or one of :data:`PAD_MODES` per spatial axis.
Border = Union[str, tuple[str, ...]]

_CONV_FUNCTIONS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    padding: tuple[int, ...] | int,
    dilation: tuple[int, ...],
    groups: int,
    *,
    eager: bool = False,
) -> Tensor:
    """``F.conv1d``/``conv2d``/``conv3d`` by the weight's rank on a batched input.

    On CPU, a 2-D convolution with one input and one output channel may run as a depthwise one
    (:func:`_runs_depthwise`): PyTorch's kernels are slow for it (up to 20 times slower than the
    same arithmetic as a depthwise convolution). Viewing the batch as channels, ``(N, 1, H, W)``
    as ``(1, N, H, W)`` with the kernel repeated ``N`` times, gives the same sums in the fast
    kernel; autograd sums the gradients of the expanded kernel and bias. Traced graphs
    (:func:`padmods._trace.is_tracing`: ``torch.compile``, ``torch.export``, ``torch.jit.trace``,
    FX) keep the plain call: ``groups`` would bake the example's batch size into the graph.
    ``eager=True`` says that the caller knows this to be a plain eager call (no tracer asked).
    """
    if (eager or not is_tracing()) and _runs_depthwise(input, weight, groups):
        batch = input.shape[0]
        planes = input.reshape(1, batch, *input.shape[2:])
        kernel = weight.expand(batch, 1, *weight.shape[2:])
        out = F.conv2d(planes, kernel, None if bias is None else bias.expand(batch), stride, padding, dilation, batch)
        return out.view(batch, 1, *out.shape[2:])
    return _CONV_FUNCTIONS[weight.dim() - 2](input, weight, bias, stride, padding, dilation, groups)


def _runs_depthwise(input: Tensor, weight: Tensor, groups: int) -> bool:
    """Whether :func:`conv` runs this single-channel convolution as a depthwise one (outside tracers).

    Only measured, and so only taken, for two spatial axes: with torch 2.13 on 2 CPU cores the
    plain kernel is slow from about 16k input pixels on (up to 20x, forward and backward), and
    its backward is slow for any batch of 16 or more; below that the depthwise form is up to a
    third slower in forward, 10% in forward+backward.
    """
    if not (
        weight.shape[0] == 1
        and weight.shape[1] == 1
        and groups == 1
        and weight.dim() == 4
        and input.shape[0] > 1
        and input.device.type == "cpu"
    ):
        return False
    batch = input.shape[0]
    if batch * input.shape[-2] * input.shape[-1] >= 1 << 14:
        return True
    return batch >= 16 and torch.is_grad_enabled() and (input.requires_grad or weight.requires_grad)


def conv_operands(input: Tensor, pairs: Pairs, mode: Border, *, eager: bool = False) -> tuple[Tensor, tuple[int, ...]]:
    """What to hand the convolution for a border of ``mode``: the input and its own padding.

    A symmetric zero border is left to the convolution; any other border is padded explicitly, as
    is a border whose size a tracer only knows as a symbol (``'same'`` with a stride, dynamic sizes).
    ``eager=True``: a plain eager call with int padding, where no tracer needs asking.
    """
    if not eager and not _geometry.is_static(pairs):
        return explicit_pad(input, pairs, mode), (0,) * len(pairs)
    befores, afters = zip(*pairs, strict=True)
    if befores == afters and (not any(befores) or is_zeros(mode)):
        return input, befores
    if eager:  # the padded copy goes to the convolution alone: its backward may fold in place
        return eager_pad(input, pairs, mode, owned=True), (0,) * len(pairs)
    return explicit_pad(input, pairs, mode), (0,) * len(pairs)


def is_zeros(mode: Border) -> bool:
    """Whether ``mode`` pads every axis with zeros."""
    return mode == "zeros" or (isinstance(mode, tuple) and all(m == "zeros" for m in mode))


def explicit_pad(input: Tensor, pairs: Pairs, mode: Border) -> Tensor:
    """Pad the last ``len(pairs)`` axes of a batched ``input`` with a :data:`Border` (no checks).

    Padding that a tracer knows only as a symbol (see :func:`padmods._geometry.is_static`) is a
    gather of computed indices, so the graph pads by the amount each input size needs. Plain eager
    calls go to :func:`eager_pad`.
    """
    if not _geometry.is_static(pairs):
        if mode == "spherical":
            return gather_spherical_pad(input, pairs)
        return gather_pad(input, pairs, mode if isinstance(mode, tuple) else (mode,) * len(pairs))
    if not is_tracing() and is_plain_eager():
        return eager_pad(input, pairs, mode)
    if isinstance(mode, tuple):
        if len(set(mode)) > 1:
            # jit.trace: narrow() by a traced size wraps a negative start around, the gathers refuse sizes too small
            return gather_pad(input, pairs, mode) if torch.jit.is_tracing() else concat_pad(input, pairs, mode)
        mode = mode[0]
    if mode == "spherical":
        return spherical_pad(input, pairs)
    if mode == "symmetric":
        return concat_pad(input, pairs, (mode,) * len(pairs))
    if mode == "replicate" and torch.compiler.is_compiling():
        # inductor's replication_pad2d_backward gives wrong strides in torch 2.13 (nn.Conv2d with
        # padding_mode='replicate' fails the same way), and a gather of clamped indices crashes its
        # backward; concatenating expanded edges compiles cleanly
        return concat_pad(input, pairs, (mode,) * len(pairs))
    return F.pad(input, _geometry.to_pad_arg(pairs), mode="constant" if mode == "zeros" else mode)


def eager_pad(input: Tensor, pairs: Pairs, mode: Border, *, owned: bool = False) -> Tensor:
    """:func:`explicit_pad` for a plain eager call with int padding: every border in one pass.

    One torch mode takes ``F.pad``, with :func:`padmods._border_pad.border_pad`'s one-pass backward
    where autograd records a large input (:data:`_BORDER_PAD_MIN_ELEMENTS` for circular,
    :data:`_FOLD_MIN_ELEMENTS` for reflect and replicate). Symmetric, spherical and per-axis
    borders of a large input are built in one buffer by ``border_pad``; on smaller inputs, torch
    modes per axis take one ``F.pad`` per axis without autograd, and otherwise one concatenation
    per axis (whose backward, narrowing the gradient, beats torch's circular one on small maps).
    ``owned``: the caller hands the padded tensor to its convolution and to nothing else
    (:func:`padmods._border_pad.border_pad`).
    """
    modes = repeat_edges(axis_modes(mode, len(pairs)), pairs)
    single = modes[0] if len(set(modes)) == 1 else None
    if single == "zeros":
        return F.pad(input, _geometry.to_pad_arg(pairs))
    elements, tracked = input.numel(), input.requires_grad and torch.is_grad_enabled()
    if single in BORDER_COPY_MODES:  # torch's forward; padmods' backward where torch's is slower
        least = _BORDER_PAD_MIN_ELEMENTS if single == "circular" else _FOLD_MIN_ELEMENTS
        if tracked and elements >= least:
            return border_pad(input, pairs, modes, owned=owned)
        return F.pad(input, _geometry.to_pad_arg(pairs), mode=single)
    if elements >= _FOLD_MIN_ELEMENTS and fits_one_pass(input, pairs, modes):
        return border_pad(input, pairs, modes, owned=owned)
    if not tracked and all(m in TORCH_PAD_MODES for m in modes):  # one F.pad per axis, first axis first
        for axis, ((before, after), axis_mode) in enumerate(zip(pairs, modes, strict=True)):
            flat = [0] * (2 * len(pairs))
            flat[2 * (len(pairs) - 1 - axis) : 2 * (len(pairs) - axis)] = [before, after]
            input = F.pad(input, flat, mode="constant" if axis_mode == "zeros" else axis_mode)
        return input
    if mode == "spherical":
        return spherical_pad(input, pairs)
    return concat_pad(input, pairs, modes)


#: Smallest input (elements) whose circular padding takes :func:`border_pad`'s backward: torch's
#: takes 2.5-6x longer (9.9 against 1.6 ms forward + backward at 4x64x56x56); below about 4k
#: elements the Python of the fold costs more.
_BORDER_PAD_MIN_ELEMENTS = 1 << 12

#: Smallest input (elements) whose reflect or replicate padding takes the one-pass fold as its
#: backward, and whose symmetric, spherical or per-axis border is built in one buffer: 0.5x the
#: time of torch's backward (or of a concatenation per axis) at 8x64x56x56 (1.6M elements), but
#: 1.5x at 4x256x7x7 (50k) and even at 4x256x14x14, where torch's kernels are quick and the
#: Python of the one-pass form is not (the ``reflect-fold`` and ``one-pass-pad`` rows).
_FOLD_MIN_ELEMENTS = 1 << 18


def unread_trimmed(
    pairs: Pairs, sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]
) -> Pairs:
    """``pairs`` less the trailing padding that no output reads, with the output unchanged.

    With a stride, the last window may stop short of the padded end: an axis of ``n`` pixels
    padded by ``(before, after)`` gives ``o = (n + before + after - dilation * (k - 1) - 1) // stride + 1``
    outputs, whose last window reads up to padded index ``(o - 1) * stride + dilation * (k - 1)``.
    Anything past it is never read, so it is not built. The border content that stays does not
    depend on how much follows it, in every mode. Besides a smaller copy, the convolution's input
    gradient skips a row and a column that it would compute and the pad's backward would sum: the
    ``stride2-trim`` row of ``--experiment paths`` measured 0.73-0.93 of the whole border's time
    for forward + backward of a MobileNet-shaped stride-2 depthwise layer (torch 2.13, 2 CPU
    threads), and the forward unchanged within noise.
    """
    trimmed = []
    for (before, after), size, taps, step, spacing in zip(pairs, sizes, kernel, stride, dilation, strict=True):
        padded = size + before + after
        outputs = (padded - spacing * (taps - 1) - 1) // step + 1
        unread = padded - 1 - ((outputs - 1) * step + spacing * (taps - 1))
        trimmed.append((before, after - min(after, max(unread, 0))))
    return tuple(trimmed)


def _is_plain_eager_static(pairs: Pairs) -> bool:
    """Whether a call not marked ``eager`` is plain eager all the same, with int ``pairs``."""
    return _geometry.is_static(pairs) and not is_tracing() and is_plain_eager()


def border_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    pairs: Pairs,
    dilation: tuple[int, ...],
    groups: int,
    mode: Border,
    *,
    eager: bool = False,
) -> Tensor:
    """Convolution of a batched input over a :data:`Border`, given resolved ``pairs`` (no checks).

    ``eager=True``: the caller knows the call to be plain eager with int padding
    (:func:`padmods._trace.is_plain_eager`), and the engine takes its eager paths without asking again.
    Plain eager calls with a stride drop the trailing border that no output reads
    (:func:`unread_trimmed`); traced graphs keep the whole border, whose size may be a symbol.
    """
    zero_axes = None
    if isinstance(mode, tuple) and "zeros" in mode and (eager or _geometry.is_static(pairs)):
        pairs, mode, zero_axes = zero_axes_apart(pairs, mode)
    if not is_zeros(mode) and any(step > 1 for step in stride):
        eager = eager or _is_plain_eager_static(pairs)  # asked once here, not again below
        if eager:
            pairs = unread_trimmed(pairs, input.shape[2:], weight.shape[2:], stride, dilation)
    padded, padding = conv_operands(input, pairs, mode, eager=eager)
    if zero_axes is not None:  # the other axes are padded explicitly (padding is all 0) or not at all
        padding = zero_axes
    return conv(padded, weight, bias, stride, padding, dilation, groups, eager=eager)


def zero_axes_apart(pairs: Pairs, modes: tuple[str, ...]) -> tuple[Pairs, Border, Optional[tuple[int, ...]]]:
    """Leave the zero axes of a per-axis border to the convolution's own padding, where it can take them.

    An axis padded with zeros by the same amount on both sides is the convolution's ``padding``
    there: its kernels skip the taps that fall in a zero border (see ``benchmarks/README.md``,
    "The arithmetic of a border"), and the explicit copy pads the other axes only. Returns the
    pairs and border still to pad explicitly (an axis with nothing to pad takes the mode of the
    others, so that a border of one mode on the remaining axes is one ``F.pad``), and the
    convolution's padding per axis, or ``None`` where no axis can be left to it (the arguments
    are returned unchanged then).
    """
    to_conv = tuple(
        before if mode == "zeros" and before == after else 0 for mode, (before, after) in zip(modes, pairs, strict=True)
    )
    if not any(to_conv):
        return pairs, modes, None
    rest = tuple((0, 0) if taken else pair for taken, pair in zip(to_conv, pairs, strict=True))
    padded_modes = {mode for mode, pair in zip(modes, rest, strict=True) if any(pair)}
    if len(padded_modes) > 1:
        return rest, modes, to_conv
    return rest, padded_modes.pop() if padded_modes else "zeros", to_conv
