"""The base class of padding-aware convolutions, and the four modes that torch can pad with."""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Optional, TypeVar

import torch
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from padmods import _geometry
from padmods._cache import lookup
from padmods._checks import check_conv_input, check_padding_fits
from padmods._typing import IntOrPair, PaddingArg
from padmods.functional import _SEPARABLE_BORDERS, _conv, _explicit_pad, _torch_mode_conv
from padmods.registry import register

__all__ = [
    "CircularPadConv2d",
    "PaddedConv2d",
    "ReflectPadConv2d",
    "ReplicatePadConv2d",
    "ZeroPadConv2d",
]

Pairs = tuple[tuple[int, int], ...]
L = TypeVar("L", bound="PaddedConv2d")

#: Argument text shared by every layer's docstring, written once as torch's ``convolution_notes``.
CONV_ARGS = """in_channels: Number of channels in the input image.
        out_channels: Number of channels produced by the convolution.
        kernel_size: Size of the convolving kernel.
        stride: Stride of the convolution. Default: 1
        padding: Padding added to all four sides: an int, a pair ``(height, width)``, ``'valid'`` or
            ``'same'``. ``'same'`` works for every kernel size, dilation and stride and follows
            TensorFlow's rule: the output has :math:`\\lceil H_{in} / s \\rceil` rows (likewise for
            columns), and when the needed padding is odd the extra pixel goes to the bottom/right.
            With stride 1 this is PyTorch's own ``'same'``. Default: 0
        dilation: Spacing between kernel elements. Default: 1
        groups: Number of blocked connections from input channels to output channels. Default: 1
        bias: If ``True``, adds a learnable bias to the output. Default: ``True``
        device: Device of the parameters. Default: ``None``
        dtype: Floating dtype of the parameters. Default: ``None``"""

SHAPE = """Input: :math:`(N, C_{in}, H_{in}, W_{in})` or :math:`(C_{in}, H_{in}, W_{in})`
        Output: :math:`(N, C_{out}, H_{out}, W_{out})` or :math:`(C_{out}, H_{out}, W_{out})`, where

        .. math::
            H_{out} = \\left\\lfloor \\frac{H_{in} + p_{top} + p_{bottom} - d_0 (k_0 - 1) - 1}{s_0} \\right\\rfloor + 1

        and likewise for :math:`W_{out}`: always the output shape of :class:`torch.nn.Conv2d` with the
        same arguments (and :math:`\\lceil H_{in} / s_0 \\rceil` for ``'same'``)."""

ATTRIBUTES = """weight (Tensor): Learnable weights of shape
            :math:`(C_{out}, C_{in} / groups, k_0, k_1)`, initialised as in :class:`torch.nn.Conv2d`.
        bias (Tensor): Learnable bias of shape :math:`(C_{out})`, initialised as in
            :class:`torch.nn.Conv2d`."""


def _positive_pair(name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    pair = _pair(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in pair):
        bound = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{name} must be a {bound} int or a pair of {bound} ints, got {value!r}")
    return pair


def _parse_padding(padding: Any) -> tuple[int, int] | str:
    if isinstance(padding, str):
        if padding not in _geometry.PADDING_STRINGS:
            raise ValueError(f"padding must be an int, a pair of ints, 'same' or 'valid', got the string {padding!r}")
        return padding
    return _positive_pair("padding", padding, minimum=0)


def _check_count(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


_cached_padding = functools.lru_cache(maxsize=256)(_geometry.resolve_padding)


def _resolve_padding(spec: Any, sizes: tuple[int, int], kernel: Any, stride: Any, dilation: Any) -> Pairs:
    """:func:`padmods._geometry.resolve_padding`, memoised: a forward pass then costs one look-up."""
    return lookup(_cached_padding, spec, sizes, kernel, stride, dilation)


class PaddedConv2d(nn.Conv2d):
    """Base class of the padmods layers: an :class:`torch.nn.Conv2d` whose class decides the border.

    A subclass takes exactly the constructor arguments of :class:`torch.nn.Conv2d` except
    ``padding_mode``, keeps its parameters (``weight``, ``bias``) and output shape, and changes only
    what the convolution sees beyond the border. It implements one of two class methods:

    - :meth:`pad`, which pads a 4-D input explicitly; the convolution then runs with padding 0;
    - :meth:`padded_conv`, the whole convolution, for modes that are more than a padding.

    Both receive the padding already resolved to one ``(before, after)`` pair per spatial axis, so
    ``'same'`` and strides are handled once, here.

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    #: The ``padding_mode`` of torch that matches this class, kept in the ``padding_mode`` attribute.
    _torch_padding_mode: ClassVar[str] = "zeros"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrPair,
        stride: IntOrPair = 1,
        padding: PaddingArg = 0,
        dilation: IntOrPair = 1,
        groups: int = 1,
        bias: bool = True,
        device: Optional[torch.device | str] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        _check_count("in_channels", in_channels)
        _check_count("out_channels", out_channels)
        _check_count("groups", groups)
        kernel = _positive_pair("kernel_size", kernel_size)
        stride = _positive_pair("stride", stride)
        dilation = _positive_pair("dilation", dilation)
        spec = _parse_padding(padding)
        super().__init__(
            in_channels,
            out_channels,
            kernel,
            stride,
            0 if isinstance(spec, str) else spec,
            dilation,
            groups,
            bias,
            self._torch_padding_mode,  # type: ignore[arg-type]
            device,
            dtype,
        )
        # torch refuses 'same' with stride > 1; padmods resolves the padding itself in forward
        self.padding = spec

    # ---- what subclasses implement -------------------------------------------------------------
    @classmethod
    def pad(cls, input: Tensor, pairs: Pairs) -> Tensor:
        """Pad a 4-D ``input`` by ``pairs``, one ``(before, after)`` per spatial axis, top to last.

        Args:
            input: Tensor of shape :math:`(N, C, H, W)`.
            pairs: ``((top, bottom), (left, right))``.

        Returns:
            The padded tensor, of shape :math:`(N, C, H + top + bottom, W + left + right)`.
        """
        raise NotImplementedError(f"{cls.__name__} must implement the class method pad() or padded_conv()")

    @classmethod
    def padded_conv(
        cls,
        input: Tensor,
        weight: Tensor,
        bias: Optional[Tensor],
        stride: tuple[int, ...],
        pairs: Pairs,
        dilation: tuple[int, ...],
        groups: int,
    ) -> Tensor:
        """The convolution of a checked 4-D ``input`` over this mode's border.

        The default pads with :meth:`pad` and convolves with padding 0.
        """
        return _conv(cls.pad(input, pairs), weight, bias, stride, 0, dilation, groups)

    @classmethod
    def check_padding(cls, pairs: Pairs, sizes: tuple[int, ...], where: object) -> None:
        """Raise a ``ValueError`` naming ``where`` if ``pairs`` cannot pad an input of ``sizes``."""

    # ---- the nn.Conv2d hook --------------------------------------------------------------------
    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        check_conv_input(input, self.in_channels, self)
        if input.dim() == 3:
            return self._conv_forward(input.unsqueeze(0), weight, bias).squeeze(0)
        sizes = (input.shape[-2], input.shape[-1])
        pairs = _resolve_padding(self.padding, sizes, self.kernel_size, self.stride, self.dilation)
        self.check_padding(pairs, sizes, self)
        return self._padded_forward(input, weight, bias, pairs)

    def _padded_forward(self, input: Tensor, weight: Tensor, bias: Optional[Tensor], pairs: Pairs) -> Tensor:
        return self.padded_conv(input, weight, bias, self.stride, pairs, self.dilation, self.groups)

    def extra_repr(self) -> str:
        """The settings that differ from the defaults, as :class:`torch.nn.Conv2d` prints them."""
        text = super().extra_repr()
        return text.replace(f", padding_mode={self.padding_mode}", "")

    # ---- conversion ----------------------------------------------------------------------------
    @classmethod
    def from_conv(cls: type[L], conv: nn.Conv2d, **kwargs: Any) -> L:
        """A new layer with the settings of ``conv`` and a copy of its parameters.

        The copy shares no storage with ``conv``; it has the same device, dtype, ``requires_grad``
        and train/eval state. ``conv.padding_mode`` is not carried over: the class is the mode.

        Args:
            conv: Any :class:`torch.nn.Conv2d`, padmods layers included.
            **kwargs: Extra constructor arguments of ``cls`` (e.g. ``with_r`` for CoordConv).

        Raises:
            TypeError: ``conv`` is not an :class:`torch.nn.Conv2d`.
            ValueError: The weights of ``conv`` cannot be mapped onto ``cls``.

        Examples:
            >>> conv = nn.Conv2d(3, 8, 3, padding=1)
            >>> layer = padmods.ReflectPadConv2d.from_conv(conv)
            >>> torch.equal(layer.weight, conv.weight), layer.weight is conv.weight
            (True, False)
        """
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f"{cls.__name__}.from_conv expects a torch.nn.Conv2d, got {type(conv).__name__}")
        layer = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]
            conv.stride,  # type: ignore[arg-type]
            conv.padding,  # type: ignore[arg-type]
            conv.dilation,  # type: ignore[arg-type]
            conv.groups,
            bias=conv.bias is not None,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
            **kwargs,
        )
        with torch.no_grad():
            layer._copy_weight_from(conv)
            if conv.bias is not None:
                layer.bias.copy_(conv.bias)  # type: ignore[union-attr]
        layer.weight.requires_grad_(conv.weight.requires_grad)
        if conv.bias is not None:
            layer.bias.requires_grad_(conv.bias.requires_grad)  # type: ignore[union-attr]
        return layer.train(conv.training)

    def _copy_weight_from(self, conv: nn.Conv2d) -> None:
        if conv.weight.shape != self.weight.shape:
            raise ValueError(
                f"cannot copy the weight of {type(conv).__name__} (shape {tuple(conv.weight.shape)}) into "
                f"{type(self).__name__} (shape {tuple(self.weight.shape)})"
            )
        self.weight.copy_(conv.weight)


def _format_doc(cls: type) -> type:
    """Place the shared argument, shape and attribute text into a layer docstring."""
    doc = cls.__doc__ or ""
    for key, text in (("{args}", CONV_ARGS), ("{shape}", SHAPE), ("{attributes}", ATTRIBUTES)):
        doc = doc.replace(key, text)
    cls.__doc__ = doc
    return cls


_format_doc(PaddedConv2d)


class _TorchModeConv2d(PaddedConv2d):
    """A mode that :func:`torch.nn.functional.pad` implements."""

    @classmethod
    def pad(cls, input: Tensor, pairs: Pairs) -> Tensor:
        return _explicit_pad(input, pairs, cls._torch_padding_mode)

    @classmethod
    def padded_conv(
        cls,
        input: Tensor,
        weight: Tensor,
        bias: Optional[Tensor],
        stride: tuple[int, ...],
        pairs: Pairs,
        dilation: tuple[int, ...],
        groups: int,
    ) -> Tensor:
        return _torch_mode_conv(input, weight, bias, stride, pairs, dilation, groups, cls._torch_padding_mode)

    @classmethod
    def check_padding(cls, pairs: Pairs, sizes: tuple[int, ...], where: object) -> None:
        if cls._torch_padding_mode != "zeros":  # any zero border fits
            check_padding_fits(cls._torch_padding_mode, pairs, sizes, where)


@register("zeros")
@_format_doc
class ZeroPadConv2d(_TorchModeConv2d):
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

    _torch_padding_mode = "zeros"


@register("reflect")
@_format_doc
class ReflectPadConv2d(_TorchModeConv2d):
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

    _torch_padding_mode = "reflect"


@register("replicate")
@_format_doc
class ReplicatePadConv2d(_TorchModeConv2d):
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

    _torch_padding_mode = "replicate"


@register("circular")
@_format_doc
class CircularPadConv2d(_TorchModeConv2d):
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

    _torch_padding_mode = "circular"


# the built-in borders whose coordinate term CoordConv2d computes in closed form (exact classes)
_SEPARABLE_BORDERS.update(
    {
        ZeroPadConv2d: "zeros",
        ReflectPadConv2d: "reflect",
        ReplicatePadConv2d: "replicate",
        CircularPadConv2d: "circular",
    }
)
