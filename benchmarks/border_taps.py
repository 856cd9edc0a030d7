"""How much more arithmetic a border other than zeros asks of a whole model's convolutions.

A convolution kernel that folds zero padding in (oneDNN's, behind torch's convolutions on CPU)
skips every tap whose window position falls in the zero border: the product would be zero. With
torch 2.13 on 2 threads, a 4 x 512 x 4 x 4 layer took 0.97 ms with padding 1 and 1.41 ms on the
explicitly padded 6 x 6 input (oneDNN's verbose log, the convolution primitive alone): 0.69, where
the taps give 100 / 144 = 0.694; at 4 x 256 x 7 x 7, 0.80 against 361 / 441 = 0.82. Any other border puts real
pixels there, and a direct convolution must multiply them. So on a 4 x 4 map a 3 x 3 layer with
padding 1 does 100 of its 144 taps per channel pair with zeros and all 144 with reflect padding,
whichever way the border is built; on a 7 x 7 map 361 of 441. This module counts those
multiply-adds for a model and input, so the whole-model table can be read against this bound.

A direct convolution cannot go below it, padded explicitly or as zero padding plus a correction
on the ring (the correction is the border's taps). Algorithms that share partial sums between an
output and its mirror image, or Winograd-style transforms, are not bounded by it; oneDNN's float32
kernels here are direct.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class TapCount:
    """Multiply-adds of one forward pass, with the border's taps and without them."""

    every_tap: int
    inside_taps: int

    @property
    def ratio(self) -> float:
        """Multiply-adds with every tap computed over those that zero padding computes."""
        return self.every_tap / self.inside_taps


def _taps_per_channel_pair(conv: nn.Conv2d, sizes: tuple[int, int]) -> tuple[int, int]:
    """Taps of one input-output channel pair over one image: every tap, and the taps inside the image.

    The inside count is a zero-padded convolution of ones by ones: each output sums exactly the
    taps that land in the image.
    """
    ones = torch.ones(1, 1, *sizes, dtype=torch.float64)
    kernel = torch.ones(1, 1, *conv.kernel_size, dtype=torch.float64)
    inside = F.conv2d(ones, kernel, None, conv.stride, conv.padding, conv.dilation)
    every = inside.shape[-2] * inside.shape[-1] * kernel.numel()
    return every, round(inside.sum().item())


def count_taps(model: nn.Module, x: Tensor) -> TapCount:
    """Multiply-adds of every ``nn.Conv2d`` in ``model``'s forward on ``x``, with and without border taps."""
    every_tap = inside_taps = 0

    def hook(conv: nn.Module, inputs: tuple[Tensor, ...], _output: Tensor) -> None:
        nonlocal every_tap, inside_taps
        assert isinstance(conv, nn.Conv2d)
        image = inputs[0]
        pairs = image.shape[0] * conv.out_channels * (conv.in_channels // conv.groups)
        every, inside = _taps_per_channel_pair(conv, (image.shape[-2], image.shape[-1]))
        every_tap += pairs * every
        inside_taps += pairs * inside

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return TapCount(every_tap, inside_taps)
