"""Stateless padding-aware convolutions: the function twins of the layers, for 1, 2 or 3 spatial axes.

Each function takes the arguments of :func:`torch.nn.functional.conv2d` and its 1-D and 3-D
siblings (``padding`` may also be ``'same'`` with any stride, see :func:`resolve_padding`); the
number of spatial axes is the weight's rank minus two. Inputs may be batched ``(N, C, *)`` or
unbatched ``(C, *)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Optional, overload

import torch
from torch import Tensor

from padmods import _checks, _coord, _geometry, _masked, _partial
from padmods._conv import BORDERS, PAD_MODES, TORCH_PAD_MODES, Border, border_conv, explicit_pad
from padmods._coord import COORD_BORDERS
from padmods._typing import IntOrTuple, PaddingArg, Pairs

__all__ = [
    "BORDERS",
    "COORD_BORDERS",
    "PAD_MODES",
    "TORCH_PAD_MODES",
    "coord_channels",
    "coord_conv",
    "pad",
    "padded_conv",
    "partial_conv",
    "partial_ratio",
    "resolve_padding",
]


def _geometry_args(
    where: str, dims: int, kernel_size: IntOrTuple, stride: IntOrTuple, dilation: IntOrTuple
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    _checks.check_spatial_dims(dims, where)
    return (
        _checks.as_tuple("kernel_size", kernel_size, dims),
        _checks.as_tuple("stride", stride, dims),
        _checks.as_tuple("dilation", dilation, dims),
    )


def resolve_padding(
    padding: PaddingArg,
    input_size: Sequence[int],
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
) -> Pairs:
    r"""Padding ``(before, after)`` per spatial axis that a convolution applies to an input.

    An int pads both sides of every axis equally, a tuple gives one int per axis. ``'valid'`` pads
    nothing. ``'full'`` pads :math:`d(k-1)` on both sides, so that every output that any input element
    reaches is kept (Kayhan & van Gemert, CVPR 2020). ``'same'`` follows TensorFlow's rule on each axis: the output has
    :math:`\lceil n / s \rceil` elements, the padding needed for that,
    :math:`\max((\lceil n/s \rceil - 1)s + d(k-1) + 1 - n, 0)`, is split in two and an odd extra
    element goes after (bottom/right). For stride 1 this is PyTorch's ``'same'``.

    Args:
        padding: An int, one int per axis, ``'same'``, ``'valid'`` or ``'full'``.
        input_size: Spatial size of the input, 1 to 3 ints (e.g. ``(H, W)``).
        kernel_size: Kernel size, an int or one int per axis.
        stride: Stride, an int or one int per axis.
        dilation: Dilation, an int or one int per axis.

    Returns:
        One ``(before, after)`` pair per spatial axis, in the input's axis order.

    Examples:
        >>> resolve_padding("same", (10, 10), 4)
        ((1, 2), (1, 2))
        >>> resolve_padding("same", (7, 8), 3, stride=2)
        ((1, 1), (0, 1))
        >>> resolve_padding("same", (5, 6, 7), 3, stride=(1, 2, 2))
        ((1, 1), (0, 1), (1, 1))
        >>> resolve_padding("full", (8,), 3, dilation=2)
        ((4, 4),)
    """
    sizes = _input_size(input_size)
    kernel, stride_, dilation_ = _geometry_args("resolve_padding", len(sizes), kernel_size, stride, dilation)
    spec = _checks.parse_padding(padding, len(sizes))
    return _geometry.resolve_padding(spec, sizes, kernel, stride_, dilation_)


def _input_size(input_size: object) -> tuple[int, ...]:
    """A spatial size: 1 to 3 non-negative ints, as a tuple."""
    if not isinstance(input_size, Sequence) or isinstance(input_size, str):
        raise ValueError(f"input_size must be a sequence of 1 to 3 non-negative ints, got {input_size!r}")
    return _checks.as_tuple("input_size", tuple(input_size), len(input_size), minimum=0)


def _batched(input: Tensor, dims: int, run: Callable[[Tensor], Tensor]) -> Tensor:
    """``run`` on a batched input; an unbatched ``(C, *)`` input gets a batch axis for the call."""
    if input.dim() == dims + 1:
        return run(input.unsqueeze(0)).squeeze(0)
    return run(input)


def _check_border(mode: object, dims: int, where: str) -> Border:
    """A border name of :data:`BORDERS` ('spherical' in 2-D only), or one padding mode per axis."""
    if isinstance(mode, (tuple, list)):
        return _checks.check_axis_modes(mode, PAD_MODES, dims, where)
    border = _checks.check_mode(mode, BORDERS, where)
    if border == "spherical" and dims != 2:
        raise ValueError(f"{where}: spherical padding is for 2-D (equirectangular) inputs, got {dims} spatial axes")
    return border


def pad(input: Tensor, pairs: Pairs, mode: Border = "zeros") -> Tensor:
    r"""Pad the last ``len(pairs)`` axes of ``input`` the way the layers of ``mode`` do.

    Use it to see what a mode puts in the border, or to write a plugin mode that pads and then
    convolves with padding 0. :func:`resolve_padding` gives the ``pairs`` of a convolution.

    Args:
        input: Tensor of shape :math:`(N, C, *)` or :math:`(C, *)`, with 1 to 3 spatial axes.
        pairs: One ``(before, after)`` pair per spatial axis, in axis order.
        mode: One of :data:`BORDERS`: ``'zeros'``, ``'reflect'``, ``'replicate'``, ``'circular'``,
            ``'symmetric'`` or (2-D) ``'spherical'``; or a tuple of one of the first five per axis.

    Shape:
        - Input: :math:`(N, C, n_1, \ldots, n_k)` or :math:`(C, n_1, \ldots, n_k)`, :math:`k` = ``len(pairs)``
        - Output: :math:`(N, C, n_1 + b_1 + a_1, \ldots, n_k + b_k + a_k)` or :math:`(C, \ldots)`

    Examples:
        >>> pad(torch.arange(3.0).view(1, 1, 3), ((1, 1),), mode="reflect")
        tensor([[[1., 0., 1., 2., 1.]]])
        >>> pad(torch.zeros(1, 2, 3, 4, 5), ((1, 1), (0, 2), (3, 0)), mode="circular").shape
        torch.Size([1, 2, 5, 6, 8])
    """
    pairs = _parse_pairs(pairs)
    dims = _checks.check_spatial_dims(len(pairs), "pad")
    mode = _check_border(mode, dims, "pad")
    if not isinstance(input, Tensor) or input.dim() not in (dims + 1, dims + 2):
        shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"pad: {dims} padded axes need a {dims + 1}-D or {dims + 2}-D input tensor, got {shape}")
    _checks.check_padding_fits(mode, pairs, tuple(input.shape[-dims:]), "pad")
    return _batched(input, dims, lambda x: explicit_pad(x, pairs, mode))


def _parse_pairs(pairs: object) -> Pairs:
    try:
        parsed = tuple((_checks.integer(before), _checks.integer(after)) for before, after in pairs)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        parsed = ()
    if not parsed or any(p is None or p < 0 for pair in parsed for p in pair):
        raise ValueError(f"pad: pairs must be one (before, after) pair of non-negative ints per axis, got {pairs!r}")
    return parsed  # type: ignore[return-value]


def _prepare(
    where: str,
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    groups: int,
    extra_channels: int,
    padding: PaddingArg,
    stride: IntOrTuple,
    dilation: IntOrTuple,
) -> tuple[int, int, tuple[int, ...], tuple[int, ...], Pairs]:
    """Check a function twin's arguments; its spatial rank, groups, stride, dilation and resolved padding."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"{where} expects a torch.Tensor weight, got {type(weight).__name__}")
    dims = _checks.check_spatial_dims(weight.dim() - 2, where)
    groups = _checks.check_count("groups", groups)
    _checks.check_conv_input(input, weight.shape[1] * groups - extra_channels, dims, where)
    _checks.check_operands(input, weight, bias, where)
    kernel, stride_, dilation_ = _geometry_args(where, dims, tuple(weight.shape[2:]), stride, dilation)
    spec = _checks.parse_padding(padding, dims)
    pairs = _geometry.resolve_padding(spec, tuple(input.shape[-dims:]), kernel, stride_, dilation_)
    return dims, groups, stride_, dilation_, pairs


def padded_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    mode: Border = "zeros",
) -> Tensor:
    r"""Convolution over a border filled by a padding mode, in 1, 2 or 3 dimensions.

    Equals ``F.conv2d(pad(input, pairs, mode), weight, bias, stride, 0, dilation, groups)`` (or
    ``conv1d``/``conv3d`` by the weight's rank), with ``pairs`` from :func:`resolve_padding`. Zero
    borders with symmetric padding are folded into the convolution itself, so they cost nothing extra.

    Args:
        input: Input of shape :math:`(N, C_{in}, *)` or :math:`(C_{in}, *)`.
        weight: Filters of shape :math:`(C_{out}, C_{in} / groups, k_1, \ldots, k_n)`.
        bias: Optional bias of shape :math:`(C_{out})`.
        stride: Stride of the convolution.
        padding: An int, one int per axis, ``'same'`` (any stride), ``'valid'`` or ``'full'``.
        dilation: Spacing between kernel taps.
        groups: Number of blocked connections from input to output channels.
        mode: One of :data:`BORDERS`, or a tuple of one padding mode per axis (see :func:`pad`).

    Shape:
        - Input: :math:`(N, C_{in}, n_1, \ldots, n_k)` or :math:`(C_{in}, n_1, \ldots, n_k)`
        - Output: :math:`(N, C_{out}, o_1, \ldots, o_k)` or :math:`(C_{out}, o_1, \ldots, o_k)`, with
          :math:`o_i = \lfloor (n_i + p_{i,before} + p_{i,after} - d_i(k_i - 1) - 1) / s_i \rfloor + 1`.

    Examples:
        >>> x = torch.arange(16.0).view(1, 1, 4, 4)
        >>> padded_conv(x, torch.ones(1, 1, 3, 3), padding=1, mode="circular")[0, 0, 0]
        tensor([60., 57., 66., 63.])
    """
    dims, groups, stride_, dilation_, pairs = _prepare(
        "padded_conv", input, weight, bias, groups, 0, padding, stride, dilation
    )
    mode = _check_border(mode, dims, "padded_conv")
    _checks.check_padding_fits(mode, pairs, tuple(input.shape[-dims:]), "padded_conv")
    return _batched(input, dims, lambda x: border_conv(x, weight, bias, stride_, pairs, dilation_, groups, mode))


def partial_ratio(
    input_size: Sequence[int],
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""The rescaling map of partial-convolution padding: window size over valid taps per output.

    Entry :math:`o` is :math:`\prod_i k_i / c(o)`, where :math:`c(o)` counts the kernel taps of
    output :math:`o` that land inside the input. It is 1 in the interior and above 1 at the border.
    An output whose window lies entirely on padding gets 0 (its convolution is 0 anyway, so such an
    output equals the bias). Taps separate by axis, so the map is an outer product of one factor
    per axis.

    Args:
        input_size: Spatial size of the input, 1 to 3 ints (e.g. ``(H, W)``).
        kernel_size: Kernel size.
        stride: Stride.
        padding: An int, one int per axis, ``'same'``, ``'valid'`` or ``'full'``.
        dilation: Dilation.
        device: Device of the returned map.
        dtype: Floating dtype of the returned map. Default: ``torch.get_default_dtype()``.

    Shape:
        Output: :math:`(o_1, \ldots, o_k)`, the convolution's output size.

    Examples:
        >>> partial_ratio((4, 4), 3, padding=1)
        tensor([[2.2500, 1.5000, 1.5000, 2.2500],
                [1.5000, 1.0000, 1.0000, 1.5000],
                [1.5000, 1.0000, 1.0000, 1.5000],
                [2.2500, 1.5000, 1.5000, 2.2500]])
    """
    pairs = resolve_padding(padding, input_size, kernel_size, stride, dilation)
    kernel, stride_, dilation_ = _geometry_args("partial_ratio", len(pairs), kernel_size, stride, dilation)
    device = torch.device(device) if device is not None else torch.device("cpu")
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    return _partial.ratio_map.build(_input_size(input_size), kernel, stride_, dilation_, pairs, device, dtype)


@overload
def partial_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = ...,
    stride: IntOrTuple = ...,
    padding: PaddingArg = ...,
    dilation: IntOrTuple = ...,
    groups: int = ...,
    *,
    mask: None = ...,
) -> Tensor: ...


@overload
def partial_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = ...,
    stride: IntOrTuple = ...,
    padding: PaddingArg = ...,
    dilation: IntOrTuple = ...,
    groups: int = ...,
    *,
    mask: Tensor,
) -> tuple[Tensor, Tensor]: ...


def partial_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    mask: Optional[Tensor] = None,
) -> Tensor | tuple[Tensor, Tensor]:
    r"""Convolution with partial-convolution-based padding (Liu et al., 2018), in 1, 2 or 3 dimensions.

    .. math::
        y(o) = \frac{\prod_i k_i}{c(o)}\,(W \star x_{\text{zero-padded}})(o) + b

    where :math:`c(o)` counts the kernel taps of output :math:`o` that fall inside the input (see
    :func:`partial_ratio`). Interior outputs are an ordinary convolution; only the border is
    rescaled, as if the padded taps held the mean of the window's valid ones.

    With ``mask``, partial convolution with holes (NVIDIA's formulation, see
    :class:`~padmods.PartialConv2d`): :math:`c(o)` counts the valid pixels of the mask under the
    window, an output whose window saw none is 0, and the result is ``(output, updated_mask)``.

    Args:
        input: Input of shape :math:`(N, C_{in}, *)` or :math:`(C_{in}, *)`.
        weight: Filters of shape :math:`(C_{out}, C_{in} / groups, k_1, \ldots, k_n)`.
        bias: Optional bias of shape :math:`(C_{out})`, added after the rescaling.
        stride: Stride of the convolution.
        padding: An int, one int per axis, ``'same'`` (any stride), ``'valid'`` or ``'full'``.
        dilation: Spacing between kernel taps.
        groups: Number of blocked connections from input to output channels.
        mask: Optional 0s and 1s marking the valid pixels, of shape :math:`(N, 1, *)` or
            :math:`(N, C_{in}, *)` (unbatched: without :math:`N`).

    Shape:
        Same as :func:`padded_conv`; the updated mask is :math:`(N, 1, *_{out})` or
        :math:`(N, C_{out}, *_{out})`, as the mask.

    Examples:
        >>> out = partial_conv(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3), padding=1)
        >>> torch.equal(out, torch.full((1, 1, 4, 4), 9.0))
        True
    """
    dims, groups, stride_, dilation_, pairs = _prepare(
        "partial_conv", input, weight, bias, groups, 0, padding, stride, dilation
    )
    if mask is None:
        return _batched(
            input, dims, lambda x: _partial.partial_conv(x, weight, bias, stride_, pairs, dilation_, groups)
        )
    _checks.check_mask(mask, input, dims, "partial_conv")
    if input.dim() == dims + 2:
        return _masked.masked_partial_conv(input, mask, weight, bias, stride_, pairs, dilation_, groups)
    out, updated = _masked.masked_partial_conv(
        input.unsqueeze(0), mask.unsqueeze(0), weight, bias, stride_, pairs, dilation_, groups
    )
    return out.squeeze(0), updated.squeeze(0)


def coord_channels(
    *size: int,
    with_r: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""The coordinate channels that CoordConv appends to an input of spatial size ``size``.

    One channel per spatial axis, each spaced linearly from -1 to 1 along its axis (an axis of one
    element gets -1): channel 0 is :math:`x`, varying along the last axis (the width), channel 1
    :math:`y`, along the axis before it (the height), and in 3-D channel 2 :math:`z`, along the
    depth. With ``with_r`` a last channel holds the distance from the centre scaled so that the
    corners are 1, :math:`r = \sqrt{(x^2 + y^2) / 2}` in 2-D (:math:`\sqrt{x^2 + y^2 + z^2} / \sqrt 3`
    in 3-D, :math:`|x|` in 1-D).

    Args:
        size: The spatial size, 1 to 3 ints, e.g. ``coord_channels(H, W)``.
        with_r: Whether to add the radius channel.
        device: Device of the result.
        dtype: Floating dtype of the result. Default: ``torch.get_default_dtype()``.

    Shape:
        Output: :math:`(k, n_1, \ldots, n_k)`, or :math:`(k + 1, n_1, \ldots, n_k)` with ``with_r``.

    Examples:
        >>> coord_channels(2, 3)
        tensor([[[-1.,  0.,  1.],
                 [-1.,  0.,  1.]],
        <BLANKLINE>
                [[-1., -1., -1.],
                 [ 1.,  1.,  1.]]])
        >>> coord_channels(4)
        tensor([[-1.0000, -0.3333,  0.3333,  1.0000]])
    """
    _checks.check_spatial_dims(len(size), "coord_channels")
    sizes = _checks.as_tuple("size", size, len(size))
    device = torch.device(device) if device is not None else torch.device("cpu")
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    return _coord.coord_image.build(sizes, bool(with_r), device, dtype)


def coord_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    with_r: bool = False,
    pad: Border = "zeros",
) -> Tensor:
    r"""CoordConv (Liu et al., 2018): convolution over the input with coordinate channels appended.

    The result equals the convolution of ``cat([input, coord_channels(*size)], dim=1)`` with
    ``weight``, the border of input and coordinates alike padded by ``pad``. Because the
    convolution is linear and the coordinates are the same for every image, it is computed as the
    input's convolution plus one coordinate term broadcast over the batch, from small per-axis
    factors; the input is never copied.

    Args:
        input: Input of shape :math:`(N, C_{in}, *)` or :math:`(C_{in}, *)`.
        weight: Filters of shape :math:`(C_{out}, C_{in} + k (+1), k_1, \ldots, k_k)` for :math:`k`
            spatial axes, the coordinate taps last.
        bias: Optional bias of shape :math:`(C_{out})`.
        stride: Stride of the convolution.
        padding: An int, one int per axis, ``'same'`` (any stride), ``'valid'`` or ``'full'``.
        dilation: Spacing between kernel taps.
        groups: Must be 1.
        with_r: Whether a radius channel follows the coordinates (see :func:`coord_channels`).
        pad: The border of input and coordinates: one of :data:`COORD_BORDERS` (the padding modes
            and ``'partial'``), or a tuple of one padding mode per axis.

    Shape:
        Same as :func:`padded_conv`.

    Examples:
        >>> weight = torch.zeros(1, 3, 1, 1)
        >>> weight[0, 1] = 1.0  # read the x coordinate channel
        >>> coord_conv(torch.zeros(1, 1, 2, 3), weight)[0, 0]
        tensor([[-1.,  0.,  1.],
                [-1.,  0.,  1.]])
    """
    if _checks.integer(groups) != 1:
        raise ValueError(f"coord_conv supports groups=1 only, got groups={groups!r}")
    if not isinstance(weight, Tensor):
        raise TypeError(f"coord_conv expects a torch.Tensor weight, got {type(weight).__name__}")
    extra = weight.dim() - 2 + (1 if with_r else 0)
    dims, _, stride_, dilation_, pairs = _prepare(
        "coord_conv", input, weight, bias, 1, extra, padding, stride, dilation
    )
    if isinstance(pad, (tuple, list)):
        pad = _checks.check_axis_modes(pad, PAD_MODES, dims, "coord_conv")
    else:
        _checks.check_mode(pad, COORD_BORDERS, "coord_conv")
    _checks.check_padding_fits(pad, pairs, tuple(input.shape[-dims:]), "coord_conv")
    return _batched(
        input, dims, lambda x: _coord.coord_conv(x, weight, bias, stride_, pairs, dilation_, bool(with_r), pad)
    )
