"""Partial convolution with holes (Liu et al., 2018, image inpainting): a mask in, an updated mask out.

NVIDIA's ``PartialConv2d`` formulation, for 1, 2 or 3 spatial axes: every output is the convolution
of the valid pixels only, rescaled by its window size over the number of valid taps it saw, and
the updated mask marks the outputs that saw at least one. Counts and ratios are computed in
float32 (float64 for a float64 input), exact for any window and never divided by zero, so
float16 and bfloat16 inputs are safe; nothing is cached between calls.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Optional

import torch
from torch import Tensor

from padmods._conv import border_conv
from padmods._trace import constant_checks, is_plain_eager
from padmods._typing import Pairs

__all__ = ["masked_partial_conv"]


def masked_partial_conv(
    input: Tensor,
    mask: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    pairs: Pairs,
    dilation: tuple[int, ...],
    groups: int,
) -> tuple[Tensor, Tensor]:
    r"""Partial convolution of a batched ``input`` with holes, given resolved padding ``pairs`` (no checks).

    With :math:`M` the mask zero-padded like the input, :math:`c = M \star 1` the number of valid
    taps of each output, and :math:`|w|` the number of taps of a window:

    .. math::
        y = \begin{cases}
            \frac{|w|}{c}\,\bigl(W \star (x \odot M)\bigr) + b & c > 0 \\
            0 & c = 0
        \end{cases}
        \qquad M' = [c > 0]

    A single-channel mask :math:`(N, 1, *)` counts each tap once (:math:`|w| = \prod_i k_i`) and
    gives :math:`M'` of shape :math:`(N, 1, *)`. A per-channel mask :math:`(N, C_{in}, *)` counts
    the valid taps over the input channels of each group (:math:`|w| = \prod_i k_i \cdot
    C_{in} / groups`, a grouped convolution with ones) and gives :math:`M'` of shape
    :math:`(N, C_{out}, *)`, each output channel marked by its group's count (NVIDIA repeats the
    single count over the output channels; for ``groups=1`` that is the same). An output whose
    window saw no valid pixel is 0, bias not added. Pixels in the holes are never read, so
    non-finite values there do not reach the output. A one-channel mask is the single-channel
    kind, whatever :math:`C_{in}` is.

    The counts and ratios are computed in float32 (float64 for a float64 or complex128 input),
    also under autocast; the float16 or bfloat16 convolution (autocast's included) is rescaled and
    biased in float32, then rounded to its dtype. The mask takes no part in autograd. Under
    ``torch.jit.trace`` the mask's layout is not a constant: the trace takes either kind.

    Args:
        input: Input of shape :math:`(N, C_{in}, *)`.
        mask: 0s and 1s of shape :math:`(N, 1, *)` or :math:`(N, C_{in}, *)`, 1 marking a valid
            pixel; float (any floating dtype) or bool.
        weight: Filters of shape :math:`(C_{out}, C_{in} / groups, k_1, \ldots, k_n)`.
        bias: Optional bias of shape :math:`(C_{out})`.
        stride: One stride per spatial axis.
        pairs: One ``(before, after)`` zero padding per spatial axis.
        dilation: One dilation per spatial axis.
        groups: Number of blocked connections from input to output channels.

    Shape:
        Input: :math:`(N, C_{in}, *)`, with 1, 2 or 3 spatial axes :math:`*`.
        Output: :math:`(N, C_{out}, *_{out})`, the output shape of the convolution.
        Updated mask: :math:`(N, 1, *_{out})` or :math:`(N, C_{out}, *_{out})`.

    Returns:
        The output, in the convolution's dtype (the input's, or autocast's), and the updated mask,
        in the mask's dtype.
    """
    with constant_checks():  # the weight's shape is a constant of a jit trace
        out_channels, in_channels = int(weight.shape[0]), int(weight.shape[1]) * groups
        kernel = tuple(int(k) for k in weight.shape[2:])
    present = mask.detach() != 0
    traced_layout = torch.jit.is_tracing() and in_channels > 1
    if traced_layout:
        # the mask's layout must not become a constant of the trace: a one-channel mask counts as
        # in_channels equal channels (the same ratios), and its updated mask keeps one channel below
        present = present.expand(-1, in_channels, *[-1] * len(kernel))
        per_channel = True
    else:
        per_channel = bool(mask.shape[1] != 1)

    raw = border_conv(input.masked_fill(~present, 0), weight, None, stride, pairs, dilation, groups, "zeros")
    # under autocast the convolution's dtype, not the input's, is the output's (as for layer(input))
    wide = torch.promote_types(raw.dtype, torch.float32)  # float16/bfloat16 rescaled in float32
    real = torch.float64 if wide in (torch.float64, torch.complex128) else torch.float32

    count_groups = groups if per_channel else 1
    ones = torch.ones(count_groups, present.shape[1] // count_groups, *kernel, dtype=real, device=input.device)
    with _exact(input.device.type):  # counts in float32 or float64, also under autocast
        count = border_conv(
            present.to(real), ones, None, stride, pairs, dilation, count_groups, "zeros"
        )  # (N, 1 or G, *out)
    window = math.prod(kernel) * ones.shape[1]
    valid = count > 0
    ratio = torch.where(valid, window / count.clamp(min=1), 0.0)  # never divides by zero
    if per_channel:
        per_group = out_channels // groups
        if groups > 1:
            ratio = ratio.repeat_interleave(per_group, dim=1)
        valid = valid.repeat_interleave(per_group, dim=1)  # (N, C_out, *out)

    if is_plain_eager():  # raw is the convolution's fresh output (its backward needs none)
        out = raw.to(wide).mul_(ratio)
        if bias is not None:
            out = out.addcmul_(bias.to(wide).view(1, -1, *[1] * len(kernel)), valid.to(real))
    else:  # torch.func transforms may batch the mask but not the output: out of place
        out = raw.to(wide) * ratio
        if bias is not None:
            out = torch.addcmul(out, bias.to(wide).view(1, -1, *[1] * len(kernel)), valid.to(real))
    if traced_layout:
        # 1 output channel for a one-channel mask, out_channels for a per-channel one, from the traced size
        valid = valid[:, : 1 + (mask.shape[1] - 1) // (in_channels - 1) * (out_channels - 1)]
    return out.to(raw.dtype), valid.to(mask.dtype)


def _exact(device_type: str) -> contextlib.AbstractContextManager[Any]:
    """Autocast switched off where it is on (the mask's counts must stay exact); otherwise a shared no-op."""
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return _UNCHANGED


_UNCHANGED = contextlib.nullcontext()
