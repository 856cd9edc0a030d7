"""The four borders that torch pads with, as layers: zeros, reflect, replicate and circular, in 1-D, 2-D and 3-D."""

from __future__ import annotations

from padmods.layers.base import PaddedConv1d, PaddedConv2d, PaddedConv3d, format_doc
from padmods.registry import register

__all__ = [
    "CircularPadConv1d",
    "CircularPadConv2d",
    "CircularPadConv3d",
    "ReflectPadConv1d",
    "ReflectPadConv2d",
    "ReflectPadConv3d",
    "ReplicatePadConv1d",
    "ReplicatePadConv2d",
    "ReplicatePadConv3d",
    "ZeroPadConv1d",
    "ZeroPadConv2d",
    "ZeroPadConv3d",
]


@register("zeros")
@format_doc
class ZeroPadConv2d(PaddedConv2d):
    r"""2D convolution over a zero border, the way torch.nn.Conv2d pads by default.

    .. math::
        y = b + W \star \operatorname{pad}_0(x)

    Identical to :class:`torch.nn.Conv2d`, plus ``'same'`` for any stride. Symmetric padding is
    folded into the convolution, so it costs nothing extra.

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.ZeroPadConv2d(1, 1, 3, padding=1, bias=False)
        >>> _ = nn.init.ones_(conv.weight)
        >>> conv(torch.ones(1, 1, 4, 4))[0, 0].detach()
        tensor([[4., 6., 6., 4.],
                [6., 9., 9., 6.],
                [6., 9., 9., 6.],
                [4., 6., 6., 4.]])
    """

    border = "zeros"


@register("reflect")
@format_doc
class ReflectPadConv2d(PaddedConv2d):
    r"""2D convolution over a border that mirrors the image, the edge pixel excluded.

    ``[a b c d]`` padded by 2 becomes ``[c b | a b c d | c b]``. Padding must be smaller than the
    input along each axis.

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.ReflectPadConv2d(1, 1, 3, padding=1, bias=False)
        >>> _ = nn.init.ones_(conv.weight)
        >>> conv(torch.ones(1, 1, 4, 4))[0, 0].detach()  # no darkened border
        tensor([[9., 9., 9., 9.],
                [9., 9., 9., 9.],
                [9., 9., 9., 9.],
                [9., 9., 9., 9.]])
    """

    border = "reflect"


@register("replicate")
@format_doc
class ReplicatePadConv2d(PaddedConv2d):
    r"""2D convolution over a border that repeats the edge pixel.

    ``[a b c d]`` padded by 2 becomes ``[a a | a b c d | d d]``.

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.ReplicatePadConv2d(1, 1, (1, 3), padding=(0, 1), bias=False)
        >>> _ = nn.init.ones_(conv.weight)
        >>> conv(torch.arange(4.0).view(1, 1, 1, 4))[0, 0].detach()
        tensor([[1., 3., 6., 8.]])
    """

    border = "replicate"


@register("circular")
@format_doc
class CircularPadConv2d(PaddedConv2d):
    r"""2D convolution over a border that wraps around, as if the image tiled the plane.

    ``[a b c d]`` padded by 2 becomes ``[c d | a b c d | a b]``. With stride 1 and ``'same'``
    padding the layer commutes with :func:`torch.roll`, so it is exactly shift-equivariant.

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.CircularPadConv2d(1, 1, (1, 3), padding=(0, 1), bias=False)
        >>> _ = nn.init.ones_(conv.weight)
        >>> conv(torch.arange(4.0).view(1, 1, 1, 4))[0, 0].detach()
        tensor([[4., 3., 6., 5.]])
    """

    border = "circular"


@register("zeros")
@format_doc
class ZeroPadConv1d(PaddedConv1d):
    r"""1D convolution over a zero border, the way torch's convolutions pad by default.

    The 1D version of :class:`ZeroPadConv2d` (:class:`torch.nn.Conv1d`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    border = "zeros"


@register("zeros")
@format_doc
class ZeroPadConv3d(PaddedConv3d):
    r"""3D convolution over a zero border, the way torch's convolutions pad by default.

    The 3D version of :class:`ZeroPadConv2d` (:class:`torch.nn.Conv3d`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    border = "zeros"


@register("reflect")
@format_doc
class ReflectPadConv1d(PaddedConv1d):
    r"""1D convolution over a border that mirrors the input, the edge element excluded.

    The 1D version of :class:`ReflectPadConv2d` (:class:`torch.nn.Conv1d`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.ReflectPadConv1d(1, 1, 3, padding=1, bias=False)
        >>> _ = nn.init.ones_(conv.weight)
        >>> conv(torch.arange(4.0).view(1, 1, 4)).detach()
        tensor([[[2., 3., 6., 7.]]])
    """

    border = "reflect"


@register("reflect")
@format_doc
class ReflectPadConv3d(PaddedConv3d):
    r"""3D convolution over a border that mirrors the input, the edge element excluded.

    The 3D version of :class:`ReflectPadConv2d` (:class:`torch.nn.Conv3d`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    border = "reflect"


@register("replicate")
@format_doc
class ReplicatePadConv1d(PaddedConv1d):
    r"""1D convolution over a border that repeats the edge element.

    The 1D version of :class:`ReplicatePadConv2d` (:class:`torch.nn.Conv1d`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    border = "replicate"


@register("replicate")
@format_doc
class ReplicatePadConv3d(PaddedConv3d):
    r"""3D convolution over a border that repeats the edge element.

    The 3D version of :class:`ReplicatePadConv2d` (:class:`torch.nn.Conv3d`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    border = "replicate"


@register("circular")
@format_doc
class CircularPadConv1d(PaddedConv1d):
    r"""1D convolution over a border that wraps around.

    The 1D version of :class:`CircularPadConv2d` (:class:`torch.nn.Conv1d`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    border = "circular"


@register("circular")
@format_doc
class CircularPadConv3d(PaddedConv3d):
    r"""3D convolution over a border that wraps around.

    The 3D version of :class:`CircularPadConv2d` (:class:`torch.nn.Conv3d`).

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.CircularPadConv3d(2, 4, 3, padding="same", stride=2)
        >>> conv(torch.ones(1, 2, 5, 6, 7)).shape
        torch.Size([1, 4, 3, 3, 4])
    """

    border = "circular"
