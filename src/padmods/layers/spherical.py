"""Spherical padding for equirectangular (360°) images: wrap the width, cross the poles."""

from __future__ import annotations

from padmods.layers.base import PaddedConv2d, format_doc
from padmods.registry import register

__all__ = ["SphericalPadConv2d"]


@register("spherical")
@format_doc
class SphericalPadConv2d(PaddedConv2d):
    r"""2D convolution over the border of an equirectangular image, as the sphere continues.

    Rows are latitudes and columns longitudes. Along the width the image wraps around, as
    ``'circular'`` does. Past the top and bottom rows it continues on the far side of the pole:
    the rows mirrored across the pole (the edge row repeated, as ``'symmetric'`` does) and shifted
    by half the width, to the opposite meridian. So, with stride 1 and ``'same'`` padding, rotating
    the sphere about its axis (:func:`torch.roll` along the width) commutes with the layer.

    The width must be even wherever the height is padded (half of it is the opposite meridian; an
    odd width raises a ``ValueError``), and the padding at most the size of each axis. Only 2-D: the registry has no
    1-D or 3-D ``'spherical'`` layer.

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.SphericalPadConv2d(1, 1, 3, padding=1, bias=False)
        >>> padmods.functional.pad(torch.arange(8.0).view(1, 1, 2, 4), ((1, 1), (1, 1)), "spherical")[0, 0]
        tensor([[1., 2., 3., 0., 1., 2.],
                [3., 0., 1., 2., 3., 0.],
                [7., 4., 5., 6., 7., 4.],
                [5., 6., 7., 4., 5., 6.]])
    """

    border = "spherical"
