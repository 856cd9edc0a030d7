"""Partial-convolution-based padding (Liu et al., 2018): rescale border outputs by their valid taps."""

from __future__ import annotations

from padmods.layers.base import PaddedConv1d, PaddedConv2d, PaddedConv3d, format_doc
from padmods.registry import register

__all__ = ["PartialConv1d", "PartialConv2d", "PartialConv3d"]


@register("partial")
@format_doc
class PartialConv2d(PaddedConv2d):
    r"""2D convolution that rescales each border output by how much of its window lies inside the image.

    Partial-convolution-based padding (Liu et al., 2018, arXiv:1811.11718):

    .. math::
        y(i, j) = \frac{k_0 k_1}{c(i, j)}\,\bigl(W \star \operatorname{pad}_0(x)\bigr)(i, j) + b

    where :math:`c(i, j)` is the number of kernel taps of output :math:`(i, j)` that fall inside the
    image, counting stride and dilation (see :func:`padmods.functional.partial_ratio`). Interior
    outputs are exactly an ordinary convolution; a border output is scaled up as if its padded taps
    held the mean of its valid ones. An output whose window lies entirely on padding equals the
    bias. The ratio map is computed once per input size, device and dtype and kept in a small
    bounded cache outside the module (never in the ``state_dict``).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.PartialConv2d(1, 1, 3, padding=1, bias=False)
        >>> _ = nn.init.ones_(conv.weight)
        >>> out = conv(torch.ones(1, 1, 4, 4)).detach()
        >>> torch.allclose(out, torch.full_like(out, 9.0))  # no darkened border
        True
    """

    border = "partial"


@register("partial")
@format_doc
class PartialConv1d(PaddedConv1d):
    r"""1D convolution with partial-convolution-based padding.

    The 1D version of :class:`PartialConv2d` (:class:`torch.nn.Conv1d`).

    Each output is scaled by its window size over the number of its kernel taps inside the input
    (see :func:`padmods.functional.partial_ratio`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    border = "partial"


@register("partial")
@format_doc
class PartialConv3d(PaddedConv3d):
    r"""3D convolution with partial-convolution-based padding.

    The 3D version of :class:`PartialConv2d` (:class:`torch.nn.Conv3d`).

    Each output is scaled by its window size over the number of its kernel taps inside the input
    (see :func:`padmods.functional.partial_ratio`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    border = "partial"
