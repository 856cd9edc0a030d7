"""Convolution over a border that copies or zeroes pixels, for 1, 2 or 3 spatial axes.

Three steps, each in one function: :func:`explicit_pad` fills the border, :func:`conv_operands`
decides whether the border can be left to the convolution itself (a symmetric zero border), and
:func:`conv` runs ``F.conv1d``/``conv2d``/``conv3d``, on CPU with a faster form for a convolution
with one input and one output channel. :func:`border_conv` chains them.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from padmods import _geometry
from padmods._border_pad import border_pad, symmetric_pad
from padmods._typing import Pairs

__all__ = ["PAD_MODES", "TORCH_PAD_MODES", "border_conv", "conv", "conv_operands", "explicit_pad"]

#: Border modes that :func:`torch.nn.functional.pad` implements; ``'zeros'`` is torch's conv name.
TORCH_PAD_MODES = ("zeros", "reflect", "replicate", "circular")

#: Every border that padding alone makes: torch's four, and ``'symmetric'`` (a mirror that repeats
#: the edge pixel, TensorFlow's ``SYMMETRIC``).
PAD_MODES = (*TORCH_PAD_MODES, "symmetric")

_CONV_FUNCTIONS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

#: Smallest input (elements) whose CPU circular padding gets :func:`border_pad`'s backward: torch's
#: takes 2.5-5x longer forward + backward (10.6 against 2.1 ms at 8x64x56x56, 0.83 against 0.34 ms
#: at 3x224x224); below about 4k elements the extra Python of the fold costs more.
_BORDER_PAD_MIN_ELEMENTS = 1 << 12


def conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    padding: tuple[int, ...] | int,
    dilation: tuple[int, ...],
    groups: int,
) -> Tensor:
    """``F.conv1d``/``conv2d``/``conv3d`` by the weight's rank on a batched input.

    On CPU, a 2-D convolution with one input and one output channel may run as a depthwise one
    (:func:`_runs_depthwise`): PyTorch's kernels are slow for it (up to 20 times slower than the
    same arithmetic as a depthwise convolution). Viewing the batch as channels, ``(N, 1, H, W)``
    as ``(1, N, H, W)`` with the kernel repeated ``N`` times, gives the same sums in the fast
    kernel; autograd sums the gradients of the expanded kernel and bias. Traced graphs keep the
    plain call (``groups`` would depend on the batch size).
    """
    if _runs_depthwise(input, weight, groups):
        batch = input.shape[0]
        planes = input.reshape(1, batch, *input.shape[2:])
        kernel = weight.expand(batch, 1, *weight.shape[2:])
        out = F.conv2d(planes, kernel, None if bias is None else bias.expand(batch), stride, padding, dilation, batch)
        return out.view(batch, 1, *out.shape[2:])
    return _CONV_FUNCTIONS[weight.dim() - 2](input, weight, bias, stride, padding, dilation, groups)


def _runs_depthwise(input: Tensor, weight: Tensor, groups: int) -> bool:
    """Whether :func:`conv` runs this single-channel convolution as a depthwise one.

    Only measured, and so only taken, for two spatial axes: with torch 2.13 on 2 CPU cores the
    plain kernel is slow from about 16k input pixels on (up to 20x, forward and backward), and
    its backward is slow for any batch of 16 or more; below that the depthwise form is up to a
    third slower in forward, 10% in forward+backward.
    """
    if not (
        weight.dim() == 4
        and groups == 1
        and weight.shape[0] == 1
        and weight.shape[1] == 1
        and input.shape[0] > 1
        and input.device.type == "cpu"
        and not torch.compiler.is_compiling()
    ):
        return False
    batch = input.shape[0]
    if batch * input.shape[-2] * input.shape[-1] >= 1 << 14:
        return True
    return batch >= 16 and torch.is_grad_enabled() and (input.requires_grad or weight.requires_grad)


def conv_operands(input: Tensor, pairs: Pairs, mode: str) -> tuple[Tensor, tuple[int, ...]]:
    """What to hand the convolution for a border of ``mode``: the input and its own padding.

    A symmetric zero border is left to the convolution; any other border is padded explicitly.
    """
    befores, afters = zip(*pairs, strict=True)
    if befores == afters and (mode == "zeros" or not any(befores)):
        return input, befores
    return explicit_pad(input, pairs, mode), (0,) * len(pairs)


def explicit_pad(input: Tensor, pairs: Pairs, mode: str) -> Tensor:
    """Pad the last ``len(pairs)`` axes of a batched ``input`` with one of :data:`PAD_MODES` (no checks)."""
    if mode == "symmetric":
        return symmetric_pad(input, pairs)
    if (
        mode == "circular"
        and input.device.type == "cpu"
        and input.numel() >= _BORDER_PAD_MIN_ELEMENTS
        and not torch.compiler.is_compiling()
    ):
        return border_pad(input, pairs, mode)
    if mode == "replicate" and torch.compiler.is_compiling():
        # inductor's replication_pad2d_backward gives wrong strides in torch 2.13 (nn.Conv2d with
        # padding_mode='replicate' fails the same way), and a gather of clamped indices crashes its
        # backward; concatenating expanded edges compiles cleanly
        return replicate_by_concatenation(input, pairs)
    return F.pad(input, _geometry.to_pad_arg(pairs), mode="constant" if mode == "zeros" else mode)


def replicate_by_concatenation(input: Tensor, pairs: Pairs) -> Tensor:
    """Replicate padding as the input between copies of its edge rows/columns, one axis at a time."""
    first_axis = input.dim() - len(pairs)
    for axis, (before, after) in enumerate(pairs, start=first_axis):
        size = input.shape[axis]
        parts = []
        if before:
            edge = input.narrow(axis, 0, 1)
            parts.append(edge.expand(*input.shape[:axis], before, *input.shape[axis + 1 :]))
        parts.append(input)
        if after:
            edge = input.narrow(axis, size - 1, 1)
            parts.append(edge.expand(*input.shape[:axis], after, *input.shape[axis + 1 :]))
        input = torch.cat(parts, dim=axis) if len(parts) > 1 else input
    return input


def border_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    pairs: Pairs,
    dilation: tuple[int, ...],
    groups: int,
    mode: str,
) -> Tensor:
    """Convolution of a batched input over a border of :data:`PAD_MODES`, given resolved ``pairs`` (no checks)."""
    padded, padding = conv_operands(input, pairs, mode)
    return conv(padded, weight, bias, stride, padding, dilation, groups)
