"""padmods: padding modes for convolutional networks, as drop-in replacements for ``nn.Conv2d``."""

from __future__ import annotations

from padmods import analysis, functional
from padmods.convert import convert
from padmods.layers import (
    CircularPadConv2d,
    CoordConv2d,
    PaddedConv2d,
    PartialConv2d,
    ReflectPadConv2d,
    ReplicatePadConv2d,
    ZeroPadConv2d,
)
from padmods.registry import PluginWarning, available, create, get, register, unregister

__version__ = "0.1.0"

__all__ = [
    "CircularPadConv2d",
    "CoordConv2d",
    "PaddedConv2d",
    "PartialConv2d",
    "PluginWarning",
    "ReflectPadConv2d",
    "ReplicatePadConv2d",
    "ZeroPadConv2d",
    "__version__",
    "analysis",
    "available",
    "convert",
    "create",
    "functional",
    "get",
    "register",
    "unregister",
]
