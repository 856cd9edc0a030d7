"""Drop-in replacements for :class:`torch.nn.Conv1d`, ``Conv2d`` and ``Conv3d`` that differ only in how they pad."""

from __future__ import annotations

from padmods.layers.base import PaddedConv1d, PaddedConv2d, PaddedConv3d
from padmods.layers.coord import CoordConv1d, CoordConv2d, CoordConv3d
from padmods.layers.partial import PartialConv1d, PartialConv2d, PartialConv3d
from padmods.layers.per_axis import PerAxisPadConv1d, PerAxisPadConv2d, PerAxisPadConv3d
from padmods.layers.spherical import SphericalPadConv2d
from padmods.layers.symmetric import SymmetricPadConv1d, SymmetricPadConv2d, SymmetricPadConv3d
from padmods.layers.torch_modes import (
    CircularPadConv1d,
    CircularPadConv2d,
    CircularPadConv3d,
    ReflectPadConv1d,
    ReflectPadConv2d,
    ReflectPadConv3d,
    ReplicatePadConv1d,
    ReplicatePadConv2d,
    ReplicatePadConv3d,
    ZeroPadConv1d,
    ZeroPadConv2d,
    ZeroPadConv3d,
)

__all__ = [
    "CircularPadConv1d",
    "CircularPadConv2d",
    "CircularPadConv3d",
    "CoordConv1d",
    "CoordConv2d",
    "CoordConv3d",
    "PaddedConv1d",
    "PaddedConv2d",
    "PaddedConv3d",
    "PartialConv1d",
    "PartialConv2d",
    "PartialConv3d",
    "PerAxisPadConv1d",
    "PerAxisPadConv2d",
    "PerAxisPadConv3d",
    "ReflectPadConv1d",
    "ReflectPadConv2d",
    "ReflectPadConv3d",
    "ReplicatePadConv1d",
    "ReplicatePadConv2d",
    "ReplicatePadConv3d",
    "SphericalPadConv2d",
    "SymmetricPadConv1d",
    "SymmetricPadConv2d",
    "SymmetricPadConv3d",
    "ZeroPadConv1d",
    "ZeroPadConv2d",
    "ZeroPadConv3d",
]
