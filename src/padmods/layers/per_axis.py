"""One padding mode per spatial axis, e.g. zeros along the height and circular along the width."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor
from torch.nn.modules.conv import _ConvNd

from padmods import _checks
from padmods._conv import PAD_MODES, border_conv
from padmods._typing import IntOrTuple, PaddingArg, Pairs
from padmods.layers.base import PaddedConv1d, PaddedConv2d, PaddedConv3d, PaddedConvNd, format_doc
from padmods.registry import register_per_axis

__all__ = ["PerAxisPadConv1d", "PerAxisPadConv2d", "PerAxisPadConv3d", "PerAxisPadConvNd", "per_axis_class"]


class PerAxisPadConvNd(PaddedConvNd):
    """What the per-axis layers share in 1, 2 and 3 dimensions (see :class:`PerAxisPadConv2d`)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: PaddingArg = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
        device: Optional[torch.device | str] = None,
        dtype: Optional[torch.dtype] = None,
        *,
        borders: tuple[str, ...],
    ) -> None:
        self.borders = borders  # checked by __setattr__
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, device, dtype)

    _settings = PaddedConvNd._settings | {"borders"}

    def _check_setting(self, name: str, value: Any) -> Any:
        """As for every layer, and ``borders``: one padding mode per axis, also when set later."""
        if name == "borders":
            return _checks.check_axis_modes(value, PAD_MODES, self._spatial_dims, type(self).__name__)
        return super()._check_setting(name, value)

    def check_padding(self, pairs: Pairs, sizes: tuple[int, ...], where: object) -> None:  # type: ignore[override]
        """Raise a ``ValueError`` naming ``where`` if an axis's mode cannot pad it by its pair."""
        _checks.check_padding_fits(self.borders, pairs, sizes, where)

    def _limit_modes(self) -> Optional[tuple[str, ...]]:
        return self.borders

    def _padded_forward(
        self, input: Tensor, weight: Tensor, bias: Optional[Tensor], pairs: Pairs, *, eager: bool = False
    ) -> Tensor:
        return border_conv(
            input, weight, bias, self.stride, pairs, self.dilation, self.groups, self.borders, eager=eager
        )

    def extra_repr(self) -> str:
        """The settings that differ from the defaults, and ``borders``."""
        return f"{super().extra_repr()}, borders={self.borders!r}"

    @classmethod
    def from_conv(cls, conv: _ConvNd, **kwargs: Any) -> PerAxisPadConvNd:
        """A per-axis layer with the settings and weights of ``conv``; ``borders`` as given (or kept).

        Args:
            conv: Any convolution with as many spatial axes.
            **kwargs: ``borders`` (required unless ``conv`` is a per-axis layer) and ``share_parameters``.
        """
        if isinstance(conv, PerAxisPadConvNd):
            kwargs.setdefault("borders", conv.borders)
        return super().from_conv(conv, **kwargs)


@register_per_axis
@format_doc
class PerAxisPadConv2d(PerAxisPadConvNd, PaddedConv2d):
    r"""2D convolution whose border has its own mode along each axis, e.g. circular along the width only.

    ``borders=('zeros', 'circular')`` pads the height with zeros and wraps the width around, the
    usual border for seamless horizontal textures and 360° panoramas; the height mode comes first,
    as in PyTorch's axis order. Any combination of ``'zeros'``, ``'reflect'``, ``'replicate'``,
    ``'circular'`` and ``'symmetric'`` works, each axis within its own mode's limits. A tuple as
    the mode name builds it: ``padmods.create(('zeros', 'circular'), 3, 16, 3, padding=1)`` and
    ``padmods.convert(model, ('reflect', 'circular'))``. The padding is built axis by axis from
    slices of the input, the height first.

    ``'partial'`` and ``'coord'`` are not axis modes: partial convolution rescales a whole window by
    its valid taps and CoordConv adds channels, neither of which is a border along one axis. But
    :class:`CoordConv2d` pads its input and coordinates with a per-axis border too:
    ``CoordConv2d(..., pad=('zeros', 'circular'))``.

    Args:
        {args}
        borders: One of ``'zeros'``, ``'reflect'``, ``'replicate'``, ``'circular'`` and
            ``'symmetric'`` for each spatial axis, height first.

    Shape:
        {shape}

    Attributes:
        {attributes}
        borders (tuple[str, ...]): The mode of each spatial axis.

    Examples:
        >>> conv = padmods.create(("zeros", "circular"), 1, 1, 3, padding=1, bias=False)
        >>> conv.borders
        ('zeros', 'circular')
        >>> _ = nn.init.ones_(conv.weight)
        >>> conv(torch.ones(1, 1, 3, 4))[0, 0].detach()  # no darkened left and right edges
        tensor([[6., 6., 6., 6.],
                [9., 9., 9., 9.],
                [6., 6., 6., 6.]])
    """


@register_per_axis
@format_doc
class PerAxisPadConv1d(PerAxisPadConvNd, PaddedConv1d):
    r"""1D convolution with a per-axis border: :class:`PerAxisPadConv2d` for :class:`torch.nn.Conv1d`.

    Args:
        {args}
        borders: A one-element tuple of the length's mode.

    Shape:
        {shape}

    Attributes:
        {attributes}
    """


@register_per_axis
@format_doc
class PerAxisPadConv3d(PerAxisPadConvNd, PaddedConv3d):
    r"""3D convolution with a border mode per axis: :class:`PerAxisPadConv2d` for :class:`torch.nn.Conv3d`.

    Args:
        {args}
        borders: One mode each for the depth, the height and the width.

    Shape:
        {shape}

    Attributes:
        {attributes}
    """


def per_axis_class(dims: int) -> type[PerAxisPadConvNd]:
    """The per-axis layer class for ``dims`` spatial axes."""
    return {1: PerAxisPadConv1d, 2: PerAxisPadConv2d, 3: PerAxisPadConv3d}[dims]
