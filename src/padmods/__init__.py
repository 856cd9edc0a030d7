"""padmods: padding modes for convolutional networks, as drop-in replacements for ``nn.Conv1d/2d/3d``.

The package namespace holds what a user of the layers and of :func:`convert` needs; the registry's
extras for plugin authors and tests (:func:`padmods.registry.unregister`,
:class:`padmods.registry.PluginWarning`) live in :mod:`padmods.registry`.
"""

from __future__ import annotations

from padmods import analysis, conversion, functional, layers
from padmods.conversion import convert, padding, revert
from padmods.layers import (
    CircularPadConv1d,
    CircularPadConv2d,
    CircularPadConv3d,
    CoordConv1d,
    CoordConv2d,
    CoordConv3d,
    PaddedConv1d,
    PaddedConv2d,
    PaddedConv3d,
    PartialConv1d,
    PartialConv2d,
    PartialConv3d,
    PerAxisPadConv1d,
    PerAxisPadConv2d,
    PerAxisPadConv3d,
    ReflectPadConv1d,
    ReflectPadConv2d,
    ReflectPadConv3d,
    ReplicatePadConv1d,
    ReplicatePadConv2d,
    ReplicatePadConv3d,
    SphericalPadConv2d,
    SymmetricPadConv1d,
    SymmetricPadConv2d,
    SymmetricPadConv3d,
    ZeroPadConv1d,
    ZeroPadConv2d,
    ZeroPadConv3d,
)
from padmods.registry import available, create, get, register

__version__ = "0.1.0"

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
    "__version__",
    "analysis",
    "available",
    "conversion",
    "convert",
    "create",
    "functional",
    "get",
    "padding",
    "register",
    "revert",
]

# the layers print, pickle and document as padmods.ReflectPadConv2d, where users find them
for _name in layers.__all__:
    getattr(layers, _name).__module__ = __name__
del _name
