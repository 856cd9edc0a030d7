"""The straightforward formulations that padmods layers are compared against.

Each is the textbook way to write a padding mode, kept deliberately plain:

- :class:`PadThenConv2d`: ``F.pad`` with the mode, then a convolution with padding 0.
- :class:`WholeMapPartialConv2d`: NVIDIA's partial convolution (``partialconv2d.py``, Liu et al.) for an
  image without holes: a biased convolution, then ``(out - b) * ratio + b`` and ``* update_mask`` over
  the whole output map. Like NVIDIA's layer, it rebuilds its ratio map only when the input size
  changes, by convolving a ones mask with a ones kernel.
- :class:`ConcatCoordConv2d`: CoordConv that concatenates the coordinate channels to every image of the
  batch, then convolves.

They take their settings and parameters from a padmods layer, so they compute the same function.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import padmods
from padmods.functional import resolve_padding

__all__ = ["ConcatCoordConv2d", "PadThenConv2d", "WholeMapPartialConv2d", "pad_arg"]


def pad_arg(layer: nn.Conv2d, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``F.pad``'s ``(left, right, top, bottom)`` for ``layer`` on an input of spatial ``size``."""
    (top, bottom), (left, right) = resolve_padding(
        layer.padding,
        size,
        layer.kernel_size,
        layer.stride,
        layer.dilation,  # type: ignore[arg-type]
    )
    return (left, right, top, bottom)


class _Borrowed(nn.Module):
    """Shares ``weight``, ``bias`` and settings with a padmods layer (no copies)."""

    def __init__(self, layer: nn.Conv2d) -> None:
        super().__init__()
        self.weight = layer.weight
        self.bias: Optional[nn.Parameter] = layer.bias
        self.padding = layer.padding
        self.kernel_size = layer.kernel_size
        self.stride = layer.stride
        self.dilation = layer.dilation
        self.groups = layer.groups

    def conv(self, input: Tensor, weight: Tensor) -> Tensor:
        """Zero-padded convolution, the padding folded into ``F.conv2d`` when symmetric (as nn.Conv2d)."""
        left, right, top, bottom = pad_arg(self, tuple(input.shape[-2:]))  # type: ignore[arg-type]
        if left == right and top == bottom:
            return F.conv2d(input, weight, self.bias, self.stride, (top, left), self.dilation, self.groups)
        padded = F.pad(input, (left, right, top, bottom))
        return F.conv2d(padded, weight, self.bias, self.stride, 0, self.dilation, self.groups)


class PadThenConv2d(_Borrowed):
    """``F.conv2d(F.pad(x, pads, mode), w, b, stride, 0, dilation, groups)``."""

    def __init__(self, layer: nn.Conv2d, mode: str) -> None:
        super().__init__(layer)
        self.mode = "constant" if mode == "zeros" else mode

    def forward(self, input: Tensor) -> Tensor:
        padded = F.pad(input, pad_arg(self, tuple(input.shape[-2:])), mode=self.mode)  # type: ignore[arg-type]
        return F.conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class WholeMapPartialConv2d(_Borrowed):
    """NVIDIA's partial convolution for a full image: rescale the whole output map."""

    def __init__(self, layer: nn.Conv2d) -> None:
        super().__init__(layer)
        self._size: Optional[tuple[int, int]] = None
        self.mask_ratio: Optional[Tensor] = None
        self.update_mask: Optional[Tensor] = None

    def _masks(self, input: Tensor) -> tuple[Tensor, Tensor]:
        size = tuple(input.shape[-2:])
        if size != self._size or self.mask_ratio is None or self.mask_ratio.dtype != input.dtype:
            with torch.no_grad():
                ones = torch.ones(1, 1, *size, device=input.device, dtype=torch.float64)
                window = torch.ones(1, 1, *self.kernel_size, device=input.device, dtype=torch.float64)
                ones = F.pad(ones, pad_arg(self, size))  # type: ignore[arg-type]
                counts = F.conv2d(ones, window, None, self.stride, 0, self.dilation)  # NVIDIA's mask conv
                slide = self.kernel_size[0] * self.kernel_size[1]
                update = counts.clamp(0, 1)
                ratio = slide / (counts + 1e-8) * update
                self.mask_ratio, self.update_mask = ratio.to(input.dtype), update.to(input.dtype)
                self._size = size  # type: ignore[assignment]
        assert self.mask_ratio is not None
        assert self.update_mask is not None
        return self.mask_ratio, self.update_mask

    def forward(self, input: Tensor) -> Tensor:
        ratio, update = self._masks(input)
        raw = self.conv(input, self.weight)
        if self.bias is None:
            return raw * ratio
        bias = self.bias.view(1, -1, 1, 1)
        return ((raw - bias) * ratio + bias) * update


class ConcatCoordConv2d(_Borrowed):
    """CoordConv by concatenation: ``conv(cat([x, coords], 1))`` with zero padding."""

    def __init__(self, layer: padmods.CoordConv2d) -> None:
        super().__init__(layer)
        self.with_r = layer.with_r
        self._coords: Optional[Tensor] = None

    def forward(self, input: Tensor) -> Tensor:
        n, _, h, w = input.shape
        coords = self._coords
        if coords is None or coords.shape[-2:] != (h, w) or coords.dtype != input.dtype:
            coords = padmods.functional.coord_channels(h, w, with_r=self.with_r, device=input.device, dtype=input.dtype)
            self._coords = coords
        stacked = torch.cat([input, coords.unsqueeze(0).expand(n, -1, -1, -1)], dim=1)
        return self.conv(stacked, self.weight)
