"""The padding experiments: how much each pixel matters, and what position a padding leaks.

Both return tensors and frozen result objects; plotting is left to the caller (see the ``padmods``
command line and the gallery).
"""

from __future__ import annotations

from padmods.analysis.impact import IMPACT_METHODS, ImpactOverflowWarning, conv_stack, impact_map
from padmods.analysis.position import RESOLUTION, PositionLeakResult, position_leak

__all__ = [
    "IMPACT_METHODS",
    "RESOLUTION",
    "ImpactOverflowWarning",
    "PositionLeakResult",
    "conv_stack",
    "impact_map",
    "position_leak",
]
