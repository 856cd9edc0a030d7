"""The padding experiments (how much each pixel matters, what position a padding leaks) and the padding report.

Both return tensors and frozen result objects; plotting is left to the caller (see the ``padmods``
command line and the gallery).
"""

from __future__ import annotations

from padmods.analysis.impact import IMPACT_METHODS, ImpactOverflowWarning, conv_stack, impact_map
from padmods.analysis.padding_report import LayerPadding, PaddingReport, padding_report
from padmods.analysis.position import RESOLUTION, PositionLeakResult, position_leak
from padmods.analysis.sizes import ShapeProbeWarning, suggest_sizes

__all__ = [
    "IMPACT_METHODS",
    "RESOLUTION",
    "ImpactOverflowWarning",
    "LayerPadding",
    "PaddingReport",
    "PositionLeakResult",
    "ShapeProbeWarning",
    "conv_stack",
    "impact_map",
    "padding_report",
    "position_leak",
    "suggest_sizes",
]
