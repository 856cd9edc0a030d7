"""CoordConv's coordinate term in closed form, and the convolution that adds it in place.

The coordinate channels are the same for every image and each varies along one axis only, so their
convolution is a fixed map per output channel: a few small matrix products of cached factors
(:func:`coord_term`). For a single image that map is as large as the output, so
:func:`conv_plus_coord_term` adds it to the convolution of the input's own channels inside one
autograd node that makes no output-sized temporary: the forward writes the map straight into the
convolution's fresh output, and the backward hands one gradient to the convolution's own backward
and to the map's adjoint (:func:`coord_term_adjoint`).
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from padmods import _geometry
from padmods._cache import lookup

__all__ = ["conv_plus_coord_term", "coord_factors", "coord_term", "coord_term_adjoint"]

Pairs = tuple[tuple[int, int], ...]
Factors = tuple[Tensor, ...]

#: Largest ``2 k_H k_W H_out W_out`` for which the coordinate term is one matrix product with a
#: cached ``(2 k_H k_W, H_out W_out)`` matrix: fewer, larger steps pay off on small maps.
_FLAT_COORD_LIMIT = 1 << 16


def _build_coord_factors(
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pairs: Pairs,
    mode: str,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[Tensor, ...]:
    r"""Factors of the convolved ``x`` and ``y`` coordinate channels.

    The ``x`` channel depends on the column only, and a border mode fills each axis on its own,
    so tap ``(t, u)`` of output ``(i, j)`` reads :math:`x = \mathrm{in}_H(i, t)\,X(j, u)`, where
    ``in_H`` is 1 where the row tap lands in the image (always, for modes that copy pixels) and
    ``X`` is the coordinate the column tap reads (0 on a zero border); likewise for ``y``. With
    ``R = [in_H | Y]`` of shape ``(H_out, 2 k_H)`` and ``C = [X^T, in_W^T]`` of shape
    ``(2, k_W, W_out)``, output channel ``o`` of the coordinate term is ``R @ (W_o @ C)``.

    ``R`` has low rank (its interior rows are affine in the row index), so it is stored as
    ``rows @ mix``: ``rows`` of shape ``(H_out, r)`` and ``mix`` of shape ``(r, 2 k_H)``, with
    ``r`` about 2 plus the number of border rows. For small maps the whole product is flattened
    instead, to one ``(2 k_H k_W, H_out W_out)`` matrix. Returns ``(rows, mix, cols)`` or
    ``(flat,)``.
    """
    per_axis = []
    for n, k, s, d, (before, after) in zip(sizes, kernel, stride, dilation, pairs, strict=True):
        coords = [-1.0] if n == 1 else [-1.0 + 2.0 * i / (n - 1) for i in range(n)]
        taps = _geometry.tap_sources(n, k, s, d, before, after, mode)
        inside = [[0.0 if i < 0 else 1.0 for i in row] for row in taps]
        values = [[0.0 if i < 0 else coords[i] for i in row] for row in taps]
        per_axis.append((inside, values))
    (inside_h, y_values), (inside_w, x_values) = per_axis
    with torch.inference_mode(False):  # cached factors must stay usable by autograd later
        rows = torch.tensor([inside_h, y_values], dtype=torch.float64)  # (2, H_out, k_H)
        cols = torch.tensor([x_values, inside_w], dtype=torch.float64).transpose(1, 2)  # (2, k_W, W_out)
        if rows.numel() * cols.numel() <= 2 * _FLAT_COORD_LIMIT:
            flat = torch.einsum("cit,cuj->ctuij", rows, cols).reshape(-1, rows.shape[1] * cols.shape[2])
            return (flat.to(device, dtype),)
        u, sigma, vh = torch.linalg.svd(torch.cat(list(rows), dim=1), full_matrices=False)
        rank = max(int((sigma > sigma[0] * 1e-12).sum()), 1)
        rows, mix = u[:, :rank] * sigma[:rank], vh[:rank]
        return rows.to(device, dtype), mix.to(device, dtype), cols.to(device, dtype).contiguous()


_cached_coord_factors = functools.lru_cache(maxsize=32)(_build_coord_factors)


def coord_factors(
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pairs: Pairs,
    mode: str,
    device: torch.device,
    dtype: torch.dtype,
) -> Factors:
    """The factors of :func:`_build_coord_factors`, from a bounded cache (built afresh while tracing)."""
    return lookup(_cached_coord_factors, sizes, kernel, stride, dilation, pairs, mode, device, dtype)


def coord_term(xy_weight: Tensor, factors: Factors, height: int) -> Tensor:
    r"""Convolution of the ``x``, ``y`` coordinate channels with ``xy_weight``, from their factors.

    Matrix products instead of a convolution over a coordinate image (see
    :func:`_build_coord_factors`): about :math:`(r + 2 k_H k_W / H_{out}) C_{out} H_{out} W_{out}`
    multiply-adds with :math:`r` a small rank, whatever the batch and channel count; on small maps
    one product with a cached, flattened factor.

    Shape:
        - xy_weight: :math:`(C_{out}, 2, k_H, k_W)`
        - Output: :math:`(C_{out}, H_{out}, W_{out})`, with ``height`` :math:`= H_{out}`
    """
    if len(factors) == 1:
        term = torch.mm(xy_weight.reshape(xy_weight.shape[0], -1), factors[0])
        return term.view(-1, height, term.shape[1] // height)
    rows, mix, cols = factors
    return torch.matmul(rows, _row_mix(xy_weight, mix, cols))


def _row_mix(xy_weight: Tensor, mix: Tensor, cols: Tensor) -> Tensor:
    """``mix @ (xy_weight @ cols)``, shape ``(C_out, r, W_out)``: the term is ``rows @`` this."""
    per_row = torch.matmul(xy_weight, cols).flatten(1, 2)  # (C_out, 2 k_H, W_out)
    return torch.matmul(mix, per_row)


def coord_term_adjoint(grad: Tensor, factors: Factors, xy_shape: tuple[int, ...]) -> Tensor:
    """Gradient of ``(coord_term(w, factors, H) * grad).sum()`` with respect to ``w`` of ``xy_shape``.

    Args:
        grad: Gradient of the term, shape :math:`(C_{out}, H_{out}, W_{out})` (summed over the batch).
        factors: The term's factors.
        xy_shape: Shape :math:`(C_{out}, 2, k_H, k_W)` of the coordinate weights.
    """
    out_channels, _, kernel_h, _ = xy_shape
    if len(factors) == 1:
        return torch.mm(grad.reshape(out_channels, -1), factors[0].t()).view(xy_shape)
    rows, mix, cols = factors
    grad_mix = torch.matmul(mix.t(), torch.matmul(rows.t(), grad))  # (C_out, 2 k_H, W_out)
    return torch.matmul(grad_mix.view(out_channels, 2, kernel_h, -1), cols.transpose(1, 2))


def _add_coord_term_(out: Tensor, xy_weight: Tensor, factors: Factors) -> None:
    """``out += coord_term(...)``; for one contiguous image, fused into the product (no temporary)."""
    out_channels, height = xy_weight.shape[0], out.shape[-2]
    if out.shape[0] == 1 and out.is_contiguous():
        image = out[0]
        if len(factors) == 1:
            image.view(out_channels, -1).addmm_(xy_weight.reshape(out_channels, -1), factors[0])
        else:
            rows, mix, cols = factors
            image.baddbmm_(rows.expand(out_channels, -1, -1), _row_mix(xy_weight, mix, cols))
        return
    out.add_(coord_term(xy_weight, factors, height))


def _conv_plus_coord_term(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    factors: Factors,
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
) -> Tensor:
    """The forward pass, outside autograd: the input's convolution, then the term added into it."""
    channels = input.shape[1]
    out = F.conv2d(input, weight[:, :channels], bias, stride, padding, dilation)
    _add_coord_term_(out, weight[:, channels:], factors)
    return out


class _ConvPlusCoordTerm(torch.autograd.Function):
    """``conv(input, weight[:, :C]) + bias + coord_term(weight[:, C:])`` as one node; differentiable twice."""

    @staticmethod
    def forward(
        ctx: Any,
        input: Tensor,
        weight: Tensor,
        bias: Optional[Tensor],
        factors: Factors,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> Tensor:
        out = _conv_plus_coord_term(input, weight, bias, factors, stride, padding, dilation)
        ctx.save_for_backward(input, weight)
        ctx.factors = factors
        ctx.conv_args = (list(stride), list(padding), list(dilation), False, [0, 0], 1)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Optional[Tensor], ...]:
        input, weight = ctx.saved_tensors
        needs_input, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        channels = input.shape[1]
        if grad.shape[0] == 1 and needs_weight:
            grad = grad.contiguous()  # once, for the convolution and the coordinate term alike
        grad_input, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad,
            input,
            weight[:, :channels],
            [weight.shape[0]] if needs_bias else None,
            *ctx.conv_args,
            [needs_input, needs_weight, needs_bias],
        )
        if needs_weight:
            summed = grad[0] if grad.shape[0] == 1 else grad.sum(dim=0)
            xy_shape = (weight.shape[0], weight.shape[1] - channels, *weight.shape[2:])
            grad_weight = torch.cat([grad_weight, coord_term_adjoint(summed, ctx.factors, xy_shape)], dim=1)
        return grad_input, grad_weight, grad_bias, None, None, None, None


def conv_plus_coord_term(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    factors: Factors,
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
) -> Tensor:
    r"""``F.conv2d(input, weight[:, :C_in], bias, ...)`` plus the coordinate term of ``weight[:, C_in:]``.

    Args:
        input: The input's own channels, already padded where the border is not a symmetric zero one.
        weight: Filters :math:`(C_{out}, C_{in} + 2, k_H, k_W)`, the ``x`` and ``y`` taps last.
        bias: Optional bias :math:`(C_{out})`.
        factors: The coordinate term's factors (:func:`coord_factors`).
        stride: Stride of the convolution.
        padding: Symmetric zero padding ``(height, width)`` left to the convolution.
        dilation: Dilation of the convolution.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`
        - Output: :math:`(N, C_{out}, H_{out}, W_{out})`
    """
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (input, weight, bias)):
        out: Tensor = _ConvPlusCoordTerm.apply(input, weight, bias, factors, stride, padding, dilation)
        return out
    return _conv_plus_coord_term(input, weight, bias, factors, stride, padding, dilation)
