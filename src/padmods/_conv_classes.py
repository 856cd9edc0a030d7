"""torch's convolution classes by number of spatial axes, and which of them a module or class is.

A fact about torch, not about padding modes: the layers, the registry, conversion and the padding
report all ask it, so it sits below each of them and imports nothing of padmods.
"""

from __future__ import annotations

from torch import nn

__all__ = ["TORCH_CONVS", "conv_dims"]

#: torch's convolution class for each number of spatial axes.
TORCH_CONVS: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def conv_dims(conv: object) -> int:
    """1, 2 or 3 for ``nn.Conv1d``, ``nn.Conv2d`` or ``nn.Conv3d`` (a subclass or an instance); 0 otherwise."""
    cls = conv if isinstance(conv, type) else type(conv)
    return next((dims for dims, torch_conv in TORCH_CONVS.items() if issubclass(cls, torch_conv)), 0)
