"""Partial-convolution-based padding (Liu et al., 2018): the ratio map and the rescaled convolution.

Every output is scaled by its window size over the number of its kernel taps that land inside the
input. Taps separate by axis, so the map is an outer product of one factor per spatial axis,
cached per geometry, device and dtype.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from padmods import _geometry
from padmods._cache import cached
from padmods._conv import border_conv, conv
from padmods._trace import is_plain_eager
from padmods._typing import Pairs

__all__ = ["partial_conv", "ratio_axes", "ratio_map"]


def ratio_axes(
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pairs: Pairs,
) -> list[list[float]]:
    """The ratio's factor on each spatial axis: kernel size over valid taps per output, 0 for none."""
    factors = []
    for n, k, s, d, (before, after) in zip(sizes, kernel, stride, dilation, pairs, strict=True):
        counts = _geometry.valid_tap_counts(n, k, s, d, before, after)
        factors.append([k / c if c else 0.0 for c in counts])
    return factors


def _symbolic_ratio_map(
    sizes: tuple[Any, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pairs: Pairs,
    device: torch.device,
    dtype: torch.dtype,
) -> Tensor:
    """:func:`ratio_map` built with tensor ops, for sizes and padding that may be a tracer's symbols."""
    out: Optional[Tensor] = None
    for n, k, s, d, (before, after) in zip(sizes, kernel, stride, dilation, pairs, strict=True):
        positions = _geometry.tap_positions(n, k, s, d, before, after, device)
        counts = ((positions >= 0) & (positions < n)).sum(-1).to(torch.float64)
        factor = torch.where(counts > 0, k / counts.clamp(min=1), 0.0)
        out = factor if out is None else out.unsqueeze(-1) * factor
    assert out is not None
    return out.to(dtype)


@cached(maxsize=32, symbolic=_symbolic_ratio_map)
def ratio_map(
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pairs: Pairs,
    device: torch.device,
    dtype: torch.dtype,
) -> Tensor:
    """The ratio map of shape ``(O_1, ..., O_n)``: the outer product of :func:`ratio_axes`."""
    with torch.inference_mode(False):  # a cached map must stay usable by autograd later
        factors = ratio_axes(sizes, kernel, stride, dilation, pairs)
        out = torch.tensor(factors[0], dtype=torch.float64, device=device)
        for factor in factors[1:]:
            out = out.unsqueeze(-1) * torch.tensor(factor, dtype=torch.float64, device=device)
        return out.to(dtype)


def partial_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    pairs: Pairs,
    dilation: tuple[int, ...],
    groups: int,
    *,
    eager: bool = False,
) -> Tensor:
    """Partial-convolution padding of a batched input, given resolved padding ``pairs`` (no checks).

    The ratio map and the bias are applied in place to the convolution's fresh output (its
    backward does not need it): on CPU a new output-sized tensor costs more than a pass over one.
    Without autograd it is one fused ``addcmul`` pass; with autograd a ``mul_`` and an ``add_``
    (whose backward is the one output-sized product any rescaling needs), which may round a
    border output differently by one unit in the last place. Traced graphs fuse it themselves, and
    under ``torch.func`` transforms or forward-mode AD it is out of place (no ``out=`` form has a
    batching or forward-mode rule), as in any call that is not plain eager
    (:func:`padmods._trace.is_plain_eager`). ``eager=True``: the caller has decided that it is.
    """
    if (eager or _geometry.is_static(pairs)) and not any(p for pair in pairs for p in pair):  # no border
        return conv(input, weight, bias, stride, (0,) * len(pairs), dilation, groups, eager=eager)
    out = border_conv(input, weight, None, stride, pairs, dilation, groups, "zeros", eager=eager)
    sizes, kernel = tuple(input.shape[2:]), tuple(weight.shape[2:])
    ratio = (ratio_map.eager if eager else ratio_map)(sizes, kernel, stride, dilation, pairs, input.device, input.dtype)
    plain = eager or is_plain_eager()
    if bias is None:
        return out.mul_(ratio) if plain else out * ratio
    bias = bias.view(1, -1, *[1] * len(pairs))
    if not plain:
        return torch.addcmul(bias, out, ratio)
    if not (out.requires_grad or bias.requires_grad):
        return torch.addcmul(bias, out, ratio, out=out)
    return out.mul_(ratio).add_(bias)
