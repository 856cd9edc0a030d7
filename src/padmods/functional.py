"""Stateless padding-aware convolutions: the function twins of the layers in :mod:`padmods.layers`.

Each function takes the arguments of :func:`torch.nn.functional.conv2d` (``padding`` may also be
``'same'`` with any stride, see :func:`resolve_padding2d`) and accepts batched ``(N, C, H, W)`` or
unbatched ``(C, H, W)`` input.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.utils import _pair

from padmods import _geometry
from padmods._border_pad import border_pad
from padmods._cache import lookup
from padmods._checks import check_conv_input, check_padding_fits
from padmods._coord import conv_plus_coord_term, coord_factors, coord_term
from padmods._typing import IntOrPair, PaddingArg

__all__ = [
    "TORCH_PAD_MODES",
    "coord_channels",
    "coord_conv2d",
    "pad2d",
    "padded_conv2d",
    "partial_conv2d",
    "partial_ratio",
    "resolve_padding2d",
]

#: Border modes that :func:`torch.nn.functional.pad` implements; ``'zeros'`` is torch's conv name.
TORCH_PAD_MODES = ("zeros", "reflect", "replicate", "circular")

Pairs = tuple[tuple[int, int], ...]


def resolve_padding2d(
    padding: PaddingArg,
    input_size: Sequence[int],
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
) -> Pairs:
    r"""Padding ``((top, bottom), (left, right))`` that a convolution applies to an input.

    An int or pair pads both sides of an axis equally. ``'valid'`` pads nothing. ``'same'`` follows
    TensorFlow's rule on each axis: the output has :math:`\lceil n / s \rceil` elements, the padding
    needed for that, :math:`\max((\lceil n/s \rceil - 1)s + d(k-1) + 1 - n, 0)`, is split in two
    and an odd extra pixel goes to the bottom/right. For stride 1 this is PyTorch's ``'same'``.

    Args:
        padding: An int, a pair ``(height, width)``, ``'same'`` or ``'valid'``.
        input_size: Spatial size ``(H, W)`` of the input.
        kernel_size: Kernel size, an int or a pair.
        stride: Stride, an int or a pair.
        dilation: Dilation, an int or a pair.

    Returns:
        One ``(before, after)`` pair per spatial axis.

    Examples:
        >>> resolve_padding2d("same", (10, 10), 4)
        ((1, 2), (1, 2))
        >>> resolve_padding2d("same", (7, 8), 3, stride=2)
        ((1, 1), (0, 1))
    """
    spec = padding if isinstance(padding, str) else _pair(padding)
    return _geometry.resolve_padding(spec, input_size, _pair(kernel_size), _pair(stride), _pair(dilation))


def _unbatched(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Let a function written for ``(N, C, H, W)`` also take ``(C, H, W)``, as torch's convs do."""

    @functools.wraps(fn)
    def wrapper(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if isinstance(input, Tensor) and input.dim() == 3:
            return fn(input.unsqueeze(0), *args, **kwargs).squeeze(0)
        return fn(input, *args, **kwargs)

    return wrapper


def _conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    padding: tuple[int, ...] | int,
    dilation: tuple[int, ...],
    groups: int,
) -> Tensor:
    """``F.conv2d``; on CPU, one input and one output channel run as a depthwise convolution.

    PyTorch's CPU kernels are slow for a convolution with a single input and output channel (up
    to 20 times slower than the same arithmetic as a depthwise convolution). Viewing the batch as
    channels, ``(N, 1, H, W)`` as ``(1, N, H, W)`` with the kernel repeated ``N`` times, gives the
    same sums in the fast kernel; the gradients of the expanded kernel and bias are summed by
    autograd. Traced graphs keep the plain call (``groups`` would depend on the batch size).
    """
    batch = input.shape[0]
    if _runs_depthwise(input, weight, groups):
        planes = input.reshape(1, batch, input.shape[-2], input.shape[-1])
        kernel = weight.expand(batch, 1, weight.shape[-2], weight.shape[-1])
        out = F.conv2d(planes, kernel, None if bias is None else bias.expand(batch), stride, padding, dilation, batch)
        return out.view(batch, 1, out.shape[-2], out.shape[-1])
    return F.conv2d(input, weight, bias, stride, padding, dilation, groups)


def _runs_depthwise(input: Tensor, weight: Tensor, groups: int) -> bool:
    """Whether :func:`_conv` runs this single-channel convolution as a depthwise one."""
    batch = input.shape[0]
    return (
        groups == 1
        and weight.shape[0] == 1
        and weight.shape[1] == 1
        and batch > 1
        and input.device.type == "cpu"
        and not torch.compiler.is_compiling()
        and _depthwise_pays(input, weight, batch)
    )


def _depthwise_pays(input: Tensor, weight: Tensor, batch: int) -> bool:
    """Whether the depthwise form of a single-channel convolution is the faster one on CPU.

    Measured with torch 2.13 on 2 cores: the plain kernel is slow from about 16k input pixels
    on (up to 20x, forward and backward), and its backward is slow for any batch of 16 or more;
    below that the depthwise form is up to a third slower in forward, 10% in forward+backward.
    """
    if batch * input.shape[-2] * input.shape[-1] >= 1 << 14:
        return True
    return batch >= 16 and torch.is_grad_enabled() and (input.requires_grad or weight.requires_grad)


def _zero_padded_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    pairs: Pairs,
    dilation: tuple[int, ...],
    groups: int,
) -> Tensor:
    """Convolution over a zero border, folded into ``F.conv2d`` whenever the padding is symmetric."""
    padded, padding = _conv_operands(input, pairs, "zeros")
    return _conv(padded, weight, bias, stride, padding, dilation, groups)


def _conv_operands(input: Tensor, pairs: Pairs, mode: str) -> tuple[Tensor, tuple[int, int]]:
    """What to hand ``F.conv2d`` for a border of torch ``mode``: the input and its own padding.

    A symmetric zero border is left to the convolution; any other border is padded explicitly.
    """
    (top, bottom), (left, right) = pairs
    if top == bottom and left == right and (mode == "zeros" or not (top or left)):
        return input, (top, left)
    return _explicit_pad(input, pairs, mode), (0, 0)


def _replicate_by_concatenation(input: Tensor, pairs: Pairs) -> Tensor:
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


#: Smallest input (elements) whose CPU circular padding gets :func:`border_pad`'s backward: torch's
#: takes 2.5-5x longer forward + backward (10.6 against 2.1 ms at 8x64x56x56, 0.83 against 0.34 ms
#: at 3x224x224); below about 4k elements the extra Python of the fold costs more.
_BORDER_PAD_MIN_ELEMENTS = 1 << 12


def _explicit_pad(input: Tensor, pairs: Pairs, mode: str) -> Tensor:
    """``F.pad`` with a torch mode, given resolved per-axis ``pairs``."""
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
        return _replicate_by_concatenation(input, pairs)
    return F.pad(input, _geometry.to_pad_arg(pairs), mode="constant" if mode == "zeros" else mode)


def _torch_mode_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    pairs: Pairs,
    dilation: tuple[int, ...],
    groups: int,
    mode: str,
) -> Tensor:
    """Convolution over a border of a torch mode, given resolved padding ``pairs`` (no checks)."""
    padded, padding = _conv_operands(input, pairs, mode)
    return _conv(padded, weight, bias, stride, padding, dilation, groups)


def pad2d(
    input: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    mode: str = "zeros",
) -> Tensor:
    r"""Pad ``input`` explicitly, exactly as the padding-aware convolution of ``mode`` would.

    Use it to see what a mode puts in the border, or to write a plugin mode that pads and then
    calls ``F.conv2d`` with ``padding=0``.

    Args:
        input: Tensor of shape :math:`(N, C, H, W)` or :math:`(C, H, W)`.
        kernel_size: Kernel size of the convolution that follows.
        stride: Its stride.
        padding: Its padding: an int, a pair, ``'same'`` or ``'valid'``.
        dilation: Its dilation.
        mode: One of ``'zeros'``, ``'reflect'``, ``'replicate'`` and ``'circular'``.

    Shape:
        - Input: :math:`(N, C, H, W)` or :math:`(C, H, W)`
        - Output: :math:`(N, C, H + p_t + p_b, W + p_l + p_r)` or :math:`(C, \ldots)`

    Examples:
        >>> pad2d(torch.arange(3.0).view(1, 1, 3), kernel_size=(1, 3), padding=(0, 1), mode="reflect")
        tensor([[[1., 0., 1., 2., 1.]]])
    """
    if mode not in TORCH_PAD_MODES:
        raise ValueError(f"pad2d: mode must be one of {TORCH_PAD_MODES}, got {mode!r}")
    pairs = resolve_padding2d(padding, tuple(input.shape[-2:]), kernel_size, stride, dilation)
    check_padding_fits(mode, pairs, tuple(input.shape[-2:]), "pad2d")
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    out = _explicit_pad(x, pairs, mode)
    return out if batched else out.squeeze(0)


def _geometry_of(
    weight: Tensor, stride: IntOrPair, dilation: IntOrPair
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    return (weight.shape[-2], weight.shape[-1]), _pair(stride), _pair(dilation)


@_unbatched
def padded_conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    mode: str = "zeros",
) -> Tensor:
    r"""2D convolution over a border filled by one of torch's padding modes.

    Equals ``F.conv2d(F.pad(input, pads, mode), weight, bias, stride, 0, dilation, groups)``, with
    ``pads`` from :func:`resolve_padding2d`. Zero borders with symmetric padding are folded into the
    convolution itself, so they cost nothing extra.

    Args:
        input: Input of shape :math:`(N, C_{in}, H, W)` or :math:`(C_{in}, H, W)`.
        weight: Filters of shape :math:`(C_{out}, C_{in} / groups, kH, kW)`.
        bias: Optional bias of shape :math:`(C_{out})`.
        stride: Stride of the convolution.
        padding: An int, a pair, ``'same'`` (any stride) or ``'valid'``.
        dilation: Spacing between kernel taps.
        groups: Number of blocked connections from input to output channels.
        mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.

    Shape:
        - Input: :math:`(N, C_{in}, H_{in}, W_{in})` or :math:`(C_{in}, H_{in}, W_{in})`
        - Output: :math:`(N, C_{out}, H_{out}, W_{out})` or :math:`(C_{out}, H_{out}, W_{out})`, with
          :math:`H_{out} = \lfloor (H_{in} + p_t + p_b - d(k_H - 1) - 1) / s \rfloor + 1` and likewise
          for :math:`W_{out}`.

    Examples:
        >>> x = torch.arange(16.0).view(1, 1, 4, 4)
        >>> padded_conv2d(x, torch.ones(1, 1, 3, 3), padding=1, mode="circular")[0, 0, 0]
        tensor([60., 57., 66., 63.])
    """
    if mode not in TORCH_PAD_MODES:
        raise ValueError(f"padded_conv2d: mode must be one of {TORCH_PAD_MODES}, got {mode!r}")
    check_conv_input(input, weight.shape[1] * groups, "padded_conv2d")
    kernel, stride2, dilation2 = _geometry_of(weight, stride, dilation)
    pairs = resolve_padding2d(padding, tuple(input.shape[-2:]), kernel, stride2, dilation2)
    check_padding_fits(mode, pairs, tuple(input.shape[-2:]), "padded_conv2d")
    return _torch_mode_conv(input, weight, bias, stride2, pairs, dilation2, groups, mode)


def _build_partial_ratio(
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pairs: Pairs,
    device: torch.device,
    dtype: torch.dtype,
) -> Tensor:
    factors = []
    for n, k, s, d, (before, after) in zip(sizes, kernel, stride, dilation, pairs, strict=True):
        counts = _geometry.valid_tap_counts(n, k, s, d, before, after)
        factors.append([k / c if c else 0.0 for c in counts])
    with torch.inference_mode(False):  # a cached map must stay usable by autograd later
        rows = torch.tensor(factors[0], dtype=torch.float64, device=device)
        cols = torch.tensor(factors[1], dtype=torch.float64, device=device)
        return torch.outer(rows, cols).to(dtype)


_cached_partial_ratio = functools.lru_cache(maxsize=32)(_build_partial_ratio)


def partial_ratio(
    input_size: Sequence[int],
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""The rescaling map of partial-convolution padding: window size over valid taps per output.

    Entry :math:`(i, j)` is :math:`k_H k_W / c(i, j)`, where :math:`c(i, j)` counts the kernel taps
    of output pixel :math:`(i, j)` that land inside the image. It is 1 in the interior and above 1 at
    the border. An output whose window lies entirely on padding gets 0 (its convolution is 0 anyway,
    so such a pixel equals the bias). Taps separate by axis, so the map is an outer product.

    Args:
        input_size: Spatial size ``(H, W)`` of the input.
        kernel_size: Kernel size.
        stride: Stride.
        padding: An int, a pair, ``'same'`` or ``'valid'``.
        dilation: Dilation.
        device: Device of the returned map.
        dtype: Floating dtype of the returned map. Default: ``torch.get_default_dtype()``.

    Shape:
        Output: :math:`(H_{out}, W_{out})`, the convolution's output size.

    Examples:
        >>> partial_ratio((4, 4), 3, padding=1)
        tensor([[2.2500, 1.5000, 1.5000, 2.2500],
                [1.5000, 1.0000, 1.0000, 1.5000],
                [1.5000, 1.0000, 1.0000, 1.5000],
                [2.2500, 1.5000, 1.5000, 2.2500]])
    """
    kernel, stride2, dilation2 = _pair(kernel_size), _pair(stride), _pair(dilation)
    pairs = resolve_padding2d(padding, input_size, kernel, stride2, dilation2)
    device = torch.device(device) if device is not None else torch.device("cpu")
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    return _build_partial_ratio(tuple(input_size), kernel, stride2, dilation2, pairs, device, dtype)


def _partial_ratio_for(
    input: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...], pairs: Pairs
) -> Tensor:
    sizes = (input.shape[-2], input.shape[-1])
    return lookup(_cached_partial_ratio, sizes, kernel, stride, dilation, pairs, input.device, input.dtype)


@_unbatched
def partial_conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> Tensor:
    r"""2D convolution with partial-convolution-based padding (Liu et al., 2018).

    .. math::
        y(i, j) = \frac{k_H k_W}{c(i, j)}\,(W \star x_{\text{zero-padded}})(i, j) + b

    where :math:`c(i, j)` counts the kernel taps of output :math:`(i, j)` that fall inside the image
    (see :func:`partial_ratio`). Interior outputs are an ordinary convolution; only the border is
    rescaled, as if the padded taps held the mean of the window's valid ones.

    Args:
        input: Input of shape :math:`(N, C_{in}, H, W)` or :math:`(C_{in}, H, W)`.
        weight: Filters of shape :math:`(C_{out}, C_{in} / groups, kH, kW)`.
        bias: Optional bias of shape :math:`(C_{out})`, added after the rescaling.
        stride: Stride of the convolution.
        padding: An int, a pair, ``'same'`` (any stride) or ``'valid'``.
        dilation: Spacing between kernel taps.
        groups: Number of blocked connections from input to output channels.

    Shape:
        Same as :func:`padded_conv2d`.

    Examples:
        >>> out = partial_conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3), padding=1)
        >>> torch.equal(out, torch.full((1, 1, 4, 4), 9.0))
        True
    """
    check_conv_input(input, weight.shape[1] * groups, "partial_conv2d")
    kernel, stride2, dilation2 = _geometry_of(weight, stride, dilation)
    pairs = resolve_padding2d(padding, tuple(input.shape[-2:]), kernel, stride2, dilation2)
    return _partial_conv(input, weight, bias, stride2, pairs, dilation2, groups)


def _partial_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    pairs: Pairs,
    dilation: tuple[int, ...],
    groups: int,
) -> Tensor:
    """Partial-convolution padding, given resolved padding ``pairs`` (no checks).

    The ratio map and the bias are applied in place to the convolution's fresh output (its
    backward does not need it): on CPU a new output-sized tensor costs more than a pass over one.
    Without autograd it is one fused ``addcmul`` pass; with autograd a ``mul_`` and an ``add_``
    (whose backward is the one output-sized product any rescaling needs), which may round a
    border output differently by one unit in the last place. Traced graphs fuse it themselves.
    """
    if not any(p for pair in pairs for p in pair):  # no border: plain convolution
        return _conv(input, weight, bias, stride, 0, dilation, groups)
    out = _zero_padded_conv(input, weight, None, stride, pairs, dilation, groups)
    kernel = (weight.shape[-2], weight.shape[-1])
    ratio = _partial_ratio_for(input, kernel, stride, dilation, pairs)
    if bias is None:
        return out.mul_(ratio)
    bias = bias.view(1, -1, 1, 1)
    if torch.compiler.is_compiling():
        return torch.addcmul(bias, out, ratio)
    if not (out.requires_grad or bias.requires_grad):
        return torch.addcmul(bias, out, ratio, out=out)
    return out.mul_(ratio).add_(bias)


def _build_coord_channels(height: int, width: int, with_r: bool, device: torch.device, dtype: torch.dtype) -> Tensor:
    with torch.inference_mode(False):
        ys = torch.linspace(-1.0, 1.0, height, dtype=torch.float64, device=device)
        xs = torch.linspace(-1.0, 1.0, width, dtype=torch.float64, device=device)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        channels = [grid_x, grid_y]
        if with_r:
            channels.append(torch.sqrt(grid_x**2 + grid_y**2) / math.sqrt(2.0))
        return torch.stack(channels).to(dtype)


_cached_coord_channels = functools.lru_cache(maxsize=32)(_build_coord_channels)


def coord_channels(
    height: int,
    width: int,
    *,
    with_r: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""The coordinate channels that CoordConv appends to its input.

    Channel 0 is :math:`x`, varying along the width; channel 1 is :math:`y`, varying along the height;
    both are spaced linearly from -1 to 1 (a single pixel gets -1). With ``with_r`` a third channel
    holds :math:`r = \sqrt{x^2 + y^2} / \sqrt{2}`, the distance from the centre scaled so that the
    corners are 1.

    Args:
        height: Number of rows :math:`H`.
        width: Number of columns :math:`W`.
        with_r: Whether to add the radius channel.
        device: Device of the result.
        dtype: Floating dtype of the result. Default: ``torch.get_default_dtype()``.

    Shape:
        Output: :math:`(2, H, W)`, or :math:`(3, H, W)` with ``with_r``.

    Examples:
        >>> coord_channels(2, 3)
        tensor([[[-1.,  0.,  1.],
                 [-1.,  0.,  1.]],
        <BLANKLINE>
                [[-1., -1., -1.],
                 [ 1.,  1.,  1.]]])
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    return _build_coord_channels(height, width, with_r, device, dtype)


def _coords_like(input: Tensor, with_r: bool) -> Tensor:
    return lookup(_cached_coord_channels, input.shape[-2], input.shape[-1], with_r, input.device, input.dtype)


@_unbatched
def coord_conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    *,
    with_r: bool = False,
    pad: str = "zeros",
) -> Tensor:
    r"""CoordConv (Liu et al., 2018): convolution over the input with coordinate channels appended.

    The result equals the convolution of ``cat([input, coord_channels(H, W)], dim=1)`` with
    ``weight``, the border padded by the registered mode ``pad``. Because the convolution is linear
    and the coordinates are the same for every image, it is computed as the input's convolution
    plus one coordinate map broadcast over the batch; the input is never copied. For the built-in
    modes that map comes from small matrix products (each coordinate varies along one axis only),
    so the layer costs about what the convolution of ``input`` alone costs.

    Args:
        input: Input of shape :math:`(N, C_{in}, H, W)` or :math:`(C_{in}, H, W)`.
        weight: Filters of shape :math:`(C_{out}, C_{in} + 2 (+1), kH, kW)`, coordinate taps last.
        bias: Optional bias of shape :math:`(C_{out})`.
        stride: Stride of the convolution.
        padding: An int, a pair, ``'same'`` (any stride) or ``'valid'``.
        dilation: Spacing between kernel taps.
        groups: Must be 1.
        with_r: Whether a radius channel follows ``x`` and ``y`` (see :func:`coord_channels`).
        pad: Registered mode that pads the border of input and coordinates alike.

    Shape:
        Same as :func:`padded_conv2d`.

    Examples:
        >>> weight = torch.zeros(1, 3, 1, 1)
        >>> weight[0, 1] = 1.0  # read the x coordinate channel
        >>> coord_conv2d(torch.zeros(1, 1, 2, 3), weight)[0, 0]
        tensor([[-1.,  0.,  1.],
                [-1.,  0.,  1.]])
    """
    if groups != 1:
        raise ValueError(f"coord_conv2d supports groups=1 only, got groups={groups}")
    extra = 3 if with_r else 2
    check_conv_input(input, weight.shape[1] - extra, "coord_conv2d")
    from padmods.registry import get  # the registry imports the layers, which import this module

    kernel, stride2, dilation2 = _geometry_of(weight, stride, dilation)
    pairs = resolve_padding2d(padding, tuple(input.shape[-2:]), kernel, stride2, dilation2)
    return _coord_conv(input, weight, bias, stride2, pairs, dilation2, with_r, get(pad), "coord_conv2d")


#: Layer classes (exact types, filled in by :mod:`padmods.layers`) whose border fills the padding
#: from the coordinates by a per-axis rule, so their coordinate term has the closed form of
#: :func:`_coord_term`; any other pad class convolves a coordinate image instead.
_SEPARABLE_BORDERS: dict[type, str] = {}


#: Smallest output (``C_out H_out W_out`` elements) of a single image for which CoordConv2d runs
#: as one autograd node: measured on 2 CPU cores, the node's Python overhead (about 30 us) is
#: repaid from about 100k elements (1.10 against 1.13 of ``nn.Conv2d`` at 64 x 112 x 112, and
#: 2.20 against 1.95 at 1 x 28 x 28).
_ONE_NODE_MIN_ELEMENTS = 1 << 17


def _one_node_pays(
    input: Tensor,
    weight: Tensor,
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pairs: Pairs,
) -> bool:
    """Whether CoordConv's coordinate map, as large as the output of one image, is worth one node.

    For a single image the map is output-sized: added with autograd ops it costs an output-sized
    temporary and, for an expanded output gradient, a second copy of it; one node costs neither
    but has Python overhead of its own. Batches of two or more share one small map.
    """
    if input.shape[0] != 1 or torch.compiler.is_compiling():
        return False
    elements = weight.shape[0]
    for n, k, s, d, (before, after) in zip(sizes, kernel, stride, dilation, pairs, strict=True):
        elements *= _geometry.conv_output_size(n, k, s, d, before, after)
    return elements >= _ONE_NODE_MIN_ELEMENTS


def _coord_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    pairs: Pairs,
    dilation: tuple[int, ...],
    with_r: bool,
    pad_cls: Any,
    where: object,
) -> Tensor:
    """CoordConv over the border of the layer class ``pad_cls``, given resolved ``pairs``.

    The input's own channels go through ``pad_cls``'s convolution; the coordinate channels add one
    map that is the same for every image. For the built-in borders that map is computed in closed
    form (:func:`padmods._coord.coord_term`), the radius channel excepted, and added in place to
    the output. For a single large image with a torch border and no radius channel, the convolution
    and the map form one autograd node instead (:func:`padmods._coord.conv_plus_coord_term`).
    """
    sizes = tuple(input.shape[-2:])
    pad_cls.check_padding(pairs, sizes, where)
    channels = input.shape[1]
    border = _SEPARABLE_BORDERS.get(pad_cls)
    if border is None:
        out = pad_cls.padded_conv(input, weight[:, :channels], bias, stride, pairs, dilation, 1)
        coords = _coords_like(input, with_r).unsqueeze(0)
        return out + pad_cls.padded_conv(coords, weight[:, channels:], None, stride, pairs, dilation, 1)
    kernel = (weight.shape[-2], weight.shape[-1])
    factors = coord_factors(
        sizes, kernel, stride, dilation, pairs, "zeros" if border == "partial" else border, input.device, input.dtype
    )
    if _one_node_pays(input, weight, sizes, kernel, stride, dilation, pairs) and border != "partial" and not with_r:
        padded, padding = _conv_operands(input, pairs, border)
        return conv_plus_coord_term(padded, weight, bias, factors, stride, padding, dilation)
    input_weight, coord_weight = weight.split([channels, weight.shape[1] - channels], dim=1)
    out = pad_cls.padded_conv(input, input_weight, bias, stride, pairs, dilation, 1)
    height = out.shape[-2]
    term = coord_term(coord_weight[:, :2], factors, height)
    if border == "partial":
        term = term * _partial_ratio_for(input, kernel, stride, dilation, pairs)
    if with_r:
        radius = _coords_like(input, True)[2:].unsqueeze(0)
        term = term + pad_cls.padded_conv(radius, coord_weight[:, 2:], None, stride, pairs, dilation, 1)[0]
    # a fresh output of a built-in border: adding in place saves a copy; for a batch of one, a
    # leading unit axis keeps autograd from reducing the gradient over it
    return out.add_(term.unsqueeze(0) if out.shape[0] == 1 else term)
