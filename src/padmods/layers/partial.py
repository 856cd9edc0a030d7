"""Partial convolution (Liu et al., 2018): rescale border outputs by their valid taps, and fill holes given a mask."""

from __future__ import annotations

import typing
from typing import Optional, overload

from torch import Tensor

from padmods import _checks
from padmods._masked import masked_partial_conv
from padmods._trace import constant_checks
from padmods.layers.base import PaddedConv1d, PaddedConv2d, PaddedConv3d, PaddedConvNd, format_doc
from padmods.registry import register

__all__ = ["PartialConv1d", "PartialConv2d", "PartialConv3d", "PartialConvNd"]


class PartialConvNd(PaddedConvNd):
    """What partial convolution shares in 1, 2 and 3 dimensions (see :class:`PartialConv2d`).

    ``layer(input)`` is partial-convolution *padding*, the image border only; ``layer(input, mask)``
    is partial convolution with holes and returns ``(output, updated_mask)``.
    """

    @overload
    def forward(self, input: Tensor, mask: None = None) -> Tensor: ...

    @overload
    def forward(self, input: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]: ...

    def forward(self, input: Tensor, mask: Optional[Tensor] = None) -> Tensor | tuple[Tensor, Tensor]:
        """Partial-convolution padding of ``input``, or with a ``mask``, partial convolution with holes.

        Args:
            input: Input of shape :math:`(N, C_{in}, *)` or :math:`(C_{in}, *)`.
            mask: Optional 0s and 1s (float or bool), 1 marking a valid pixel, of shape
                :math:`(N, 1, *)` (one mask for all channels) or :math:`(N, C_{in}, *)` (one per
                input channel); :math:`(1, *)` or :math:`(C_{in}, *)` for an unbatched input.

        Returns:
            Without ``mask``, the output. With it, the output and the updated mask: 1 where the
            output's window saw a valid pixel, of shape :math:`(N, 1, *_{out})` for a
            single-channel mask and :math:`(N, C_{out}, *_{out})` for a per-channel one, in the
            mask's dtype (unbatched for an unbatched input).

        Raises:
            TypeError: ``mask`` is not a floating-point or bool tensor.
            ValueError: ``mask`` has the wrong shape or device, or a value other than 0 and 1.
        """
        if mask is None:
            return super().forward(input)
        return self._masked_forward(input, mask)

    def _masked_forward(self, input: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        dims = self._spatial_dims
        with constant_checks():  # jit.trace: the layout checks are constants of the trace
            self._check_operands(input, self.weight, self.bias)
            _checks.check_mask(mask, input, dims, self)
        batched = input.dim() == dims + 2
        if not batched:
            input, mask = input.unsqueeze(0), mask.unsqueeze(0)
        pairs = self._pairs_for(input)
        out, updated = masked_partial_conv(
            input, mask, self.weight, self.bias, self.stride, pairs, self.dilation, self.groups
        )
        return (out, updated) if batched else (out.squeeze(0), updated.squeeze(0))


# FX writes forward's annotations into the code of a GraphModule traced from the layer; left as the
# strings of postponed annotations, they would keep the GraphModule from pickling
PartialConvNd.forward.__annotations__ = typing.get_type_hints(PartialConvNd.forward)


@register("partial")
@format_doc
class PartialConv2d(PartialConvNd, PaddedConv2d):
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

    Called with a mask of valid pixels, ``layer(input, mask)`` is partial convolution with holes
    (Liu et al., 2018, arXiv:1804.07723, as NVIDIA's ``PartialConv2d``) and returns
    ``(output, updated_mask)``; ``layer(input)`` alone stays the padding above, so the layer still
    fits in :class:`torch.nn.Sequential`. With :math:`M` the mask zero-padded like the input and
    :math:`c(i, j)` the number of valid taps of output :math:`(i, j)`:

    .. math::
        y(i, j) = \frac{|w|}{c(i, j)}\,\bigl(W \star (x \odot M)\bigr)(i, j) + b
        \quad\text{if } c(i, j) > 0, \text{ else } 0, \qquad M'(i, j) = [c(i, j) > 0]

    where :math:`|w|` is the number of taps of a window. An output whose window saw only holes is 0
    (no bias), and its updated mask 0. With an all-ones mask the output is the padding above, but
    for outputs whose window lies entirely on the padding: 0 here, the bias there.

    - ``mask``: 0s and 1s, float or bool, 1 marking a valid pixel. Of shape
      :math:`(N, 1, H_{in}, W_{in})`, one mask for all channels: :math:`c` counts each tap once,
      :math:`|w| = k_0 k_1`, and the updated mask has shape :math:`(N, 1, H_{out}, W_{out})`. Or
      of shape :math:`(N, C_{in}, H_{in}, W_{in})`, one mask per input channel (NVIDIA's
      ``multi_channel``): :math:`c` counts the valid taps over the input channels of the output's
      group, :math:`|w| = k_0 k_1 C_{in} / groups`, and the updated mask has shape
      :math:`(N, C_{out}, H_{out}, W_{out})`, each output channel marked by its group's count (so
      it can mask the next layer). A one-channel mask is always the first kind. An unbatched input
      takes an unbatched mask. The updated mask has the mask's dtype, the output the input's
      (autocast's under autocast, as for ``layer(input)``).

    The counts and ratios are computed in float32 on every call (float64 for a float64 input), so
    float16 and bfloat16 are safe, and nothing about the mask is kept on the module.

    Args:
        {args}

    Shape:
        {shape}

        Mask: :math:`(N, 1, H_{in}, W_{in})` or :math:`(N, C_{in}, H_{in}, W_{in})`, unbatched
        :math:`(1, H_{in}, W_{in})` or :math:`(C_{in}, H_{in}, W_{in})`

        Updated mask: :math:`(N, 1, H_{out}, W_{out})` or :math:`(N, C_{out}, H_{out}, W_{out})`,
        as the mask

    Attributes:
        {attributes}

    Examples:
        >>> conv = padmods.PartialConv2d(1, 1, 3, padding=1, bias=False)
        >>> _ = nn.init.ones_(conv.weight)
        >>> out = conv(torch.ones(1, 1, 4, 4)).detach()
        >>> torch.allclose(out, torch.full_like(out, 9.0))  # no darkened border
        True

        With a 3x3 hole: every output is rescaled to the level of the valid pixels it sees, the
        one output whose window lies inside the hole is 0, and the updated mask shrinks the hole.

        >>> mask = torch.ones(1, 1, 5, 5)
        >>> mask[:, :, 1:4, 1:4] = 0
        >>> out, new_mask = conv(torch.ones(1, 1, 5, 5), mask)
        >>> out.detach()[0, 0]
        tensor([[9., 9., 9., 9., 9.],
                [9., 9., 9., 9., 9.],
                [9., 9., 0., 9., 9.],
                [9., 9., 9., 9., 9.],
                [9., 9., 9., 9., 9.]])
        >>> new_mask[0, 0]
        tensor([[1., 1., 1., 1., 1.],
                [1., 1., 1., 1., 1.],
                [1., 1., 0., 1., 1.],
                [1., 1., 1., 1., 1.],
                [1., 1., 1., 1., 1.]])
    """

    border = "partial"


@register("partial")
@format_doc
class PartialConv1d(PartialConvNd, PaddedConv1d):
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
class PartialConv3d(PartialConvNd, PaddedConv3d):
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
