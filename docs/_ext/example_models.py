"""A model for the ``padmods report`` transcript on the command-line page (importable while the docs build)."""

from __future__ import annotations

from torch import nn


def stride2_stack() -> nn.Sequential:
    """Three 3x3 stride-2 convolutions with ``padding=1``, as in the stages of a ResNet."""
    return nn.Sequential(*(nn.Conv2d(3 if i == 0 else 8, 8, 3, stride=2, padding=1) for i in range(3)))
