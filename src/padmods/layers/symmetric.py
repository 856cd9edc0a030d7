"""Symmetric padding: a mirror that repeats the edge pixel (TensorFlow's ``SYMMETRIC``), in 1-D, 2-D and 3-D."""

from __future__ import annotations

from padmods.layers.base import PaddedConv1d, PaddedConv2d, PaddedConv3d, format_doc
from padmods.registry import register

__all__ = ["SymmetricPadConv1d", "SymmetricPadConv2d", "SymmetricPadConv3d"]


@register("symmetric")
@format_doc
class SymmetricPadConv2d(PaddedConv2d):
    r"""2D convolution over a border that mirrors the image, the edge pixel included.

    ``[a b c d]`` padded by 2 becomes ``[b a | a b c d | d c]``: TensorFlow's ``SYMMETRIC`` padding,
    which "Mind the Pad" (Alsallakh et al., ICLR 2021) recommends over zero padding. Unlike
    ``'reflect'``, the border pixel itself is repeated, so a constant-free edge is continued without
    a kink, and any amount of padding works: beyond the image size the mirror keeps reflecting
    (the padded axis repeats with period :math:`2n`, ``[a b]`` padded by 3 becomes
    ``[b b a | a b | b a a]``).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.SymmetricPadConv2d(1, 1, (1, 3), padding=(0, 1), bias=False)
        >>> _ = nn.init.ones_(conv.weight)
        >>> conv(torch.arange(4.0).view(1, 1, 1, 4))[0, 0].detach()
        tensor([[1., 3., 6., 8.]])
    """

    border = "symmetric"


@register("symmetric")
@format_doc
class SymmetricPadConv1d(PaddedConv1d):
    r"""1D convolution over a border that mirrors the input, the edge element included.

    The 1D version of :class:`SymmetricPadConv2d` (:class:`torch.nn.Conv1d`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.SymmetricPadConv1d(1, 1, 5, padding=2, bias=False)
        >>> _ = nn.init.ones_(conv.weight)
        >>> conv(torch.arange(3.0).view(1, 1, 3)).detach()  # [1 0 | 0 1 2 | 2 1]
        tensor([[[4., 5., 6.]]])
    """

    border = "symmetric"


@register("symmetric")
@format_doc
class SymmetricPadConv3d(PaddedConv3d):
    r"""3D convolution over a border that mirrors the volume, the edge voxel included.

    The 3D version of :class:`SymmetricPadConv2d` (:class:`torch.nn.Conv3d`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    border = "symmetric"
