"""The padding experiments, the padding report, and the padding-aware neurons of a trained model.

The experiments measure how much each pixel matters and what position a padding leaks.

All return tensors and frozen result objects; plotting is left to the caller (see the ``padmods``
command line and the gallery).
"""

from __future__ import annotations

from padmods.analysis.impact import IMPACT_METHODS, ImpactOverflowWarning, conv_stack, impact_map
from padmods.analysis.neuron_intervention import NeuronChange, PaddingIntervention, padding_intervention
from padmods.analysis.neurons import LayerNeurons, PaddingNeuron, PaddingNeuronReport, padding_neurons
from padmods.analysis.padding_report import LayerPadding, PaddingReport, padding_report
from padmods.analysis.position import RESOLUTION, PositionLeakResult, position_leak
from padmods.analysis.sizes import ShapeProbeWarning, suggest_sizes

__all__ = [
    "IMPACT_METHODS",
    "RESOLUTION",
    "ImpactOverflowWarning",
    "LayerNeurons",
    "LayerPadding",
    "NeuronChange",
    "PaddingIntervention",
    "PaddingNeuron",
    "PaddingNeuronReport",
    "PaddingReport",
    "PositionLeakResult",
    "ShapeProbeWarning",
    "conv_stack",
    "impact_map",
    "padding_intervention",
    "padding_neurons",
    "padding_report",
    "position_leak",
    "suggest_sizes",
]
