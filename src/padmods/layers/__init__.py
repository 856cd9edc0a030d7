"""Drop-in replacements for :class:`torch.nn.Conv2d` that differ only in how they pad."""

from __future__ import annotations

from padmods.layers.base import PaddedConv2d
from padmods.layers.coord import CoordConv2d
from padmods.layers.partial import PartialConv2d
from padmods.layers.torch_modes import CircularPadConv2d, ReflectPadConv2d, ReplicatePadConv2d, ZeroPadConv2d

__all__ = [
    "CircularPadConv2d",
    "CoordConv2d",
    "PaddedConv2d",
    "PartialConv2d",
    "ReflectPadConv2d",
    "ReplicatePadConv2d",
    "ZeroPadConv2d",
]
