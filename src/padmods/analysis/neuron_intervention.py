"""Check padding-aware neurons by intervention: switch their layers to a border-free padding, measure the change.

Activations alone show that a channel responds on the border, not that the padding is why. A
channel that detects something which merely happens to sit near the edge in the data keeps its
response when the padding changes; a padding-aware neuron loses it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from padmods.analysis._border_stats import SIDES, BorderStats, Recorder, batches, run_model
from padmods.analysis._neuron_report import (
    Mode,
    NeuronChange,
    PaddingIntervention,
    PaddingNeuron,
    PaddingNeuronReport,
    _finite,
    border_excess,
    border_scores,
)
from padmods.conversion import ConversionWarning, convert

__all__ = ["NeuronChange", "PaddingIntervention", "padding_intervention"]  # the results live in _neuron_report


def _tensors(output: Any) -> Iterator[Tensor]:
    """The floating-point tensors in a model's output: a tensor, or tuples, lists and dicts of them."""
    if isinstance(output, Tensor):
        if output.is_floating_point() or output.is_complex():
            yield output
    elif isinstance(output, dict):
        for value in output.values():
            yield from _tensors(value)
    elif isinstance(output, (tuple, list)):
        for value in output:
            yield from _tensors(value)


def _change(stats: tuple[BorderStats, Optional[BorderStats]], side: int, channel: int) -> tuple[float, ...]:
    before, after = stats
    values = [float(border_excess(before, side)[channel]), float(border_scores(before)[channel, side])]
    if after is None:
        return (*values, math.nan, math.nan)
    return (*values, float(border_excess(after, side)[channel]), float(border_scores(after)[channel, side]))


def padding_intervention(
    model: nn.Module,
    inputs: Union[Tensor, Iterable[Any]],
    neurons: Union[PaddingNeuronReport, Iterable[PaddingNeuron]],
    *,
    mode: Mode = "circular",
    progress: bool = True,
) -> PaddingIntervention:
    """Switch the padding of the layers that hold ``neurons`` to ``mode`` and measure what changes.

    A converted copy of ``model`` (:func:`padmods.convert` with a ``filter`` that picks those
    layers only) runs next to ``model`` on every batch, both in eval mode under
    ``torch.no_grad()``. For each neuron it records the border excess on its side (mean response on
    that side minus the mean interior response) and its score in both, and it compares the two
    models' outputs batch by batch. ``model`` itself is left exactly as it was: its layers,
    parameters and training flags. The copy costs the memory of one more model.

    A padding-aware neuron loses its border response in a mode without a border (``drop`` near 1);
    a channel that responds to something in the data that happens to lie near the border keeps it.

    Args:
        model: The model.
        inputs: As for :func:`~padmods.analysis.padding_neurons`: one batch as a tensor, or an
            iterable of batches (a batch that is a tuple or a list gives its first element).
        neurons: A :class:`~padmods.analysis.PaddingNeuronReport` or its neurons.
        mode: The padding mode to switch to, as for :func:`padmods.convert`. Default: ``'circular'``
        progress: Show a progress bar over an iterable of batches when ``tqdm`` is installed.
            Default: ``True``

    Returns:
        A :class:`PaddingIntervention`.

    Raises:
        ValueError: An unknown ``mode``; ``inputs`` yields no batch; the model fails on a batch.
        TypeError: ``model`` is not a module.

    Examples:
        >>> conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        >>> with torch.no_grad():
        ...     _ = conv.weight.zero_()
        ...     conv.weight[0, 0, 0] = -1.0  # minus the row above, plus three times the pixel
        ...     conv.weight[0, 0, 1, 1] = 3.0
        >>> model = nn.Sequential(conv)
        >>> images = torch.ones(2, 1, 6, 6)
        >>> report = padmods.analysis.padding_neurons(model, images)
        >>> result = padding_intervention(model, images, report)
        >>> result.neurons[0].excess_before, result.neurons[0].excess_after, result.neurons[0].drop
        (3.0, 0.0, 1.0)
        >>> type(model[0]).__name__  # the model itself is unchanged
        'Conv2d'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"padding_intervention expects an nn.Module, got {type(model).__name__}")
    chosen = tuple(neurons.neurons if isinstance(neurons, PaddingNeuronReport) else neurons)
    for neuron in chosen:
        if not isinstance(neuron, PaddingNeuron):
            raise TypeError(f"neurons are a PaddingNeuronReport or PaddingNeuron objects, got {type(neuron).__name__}")
    layers = tuple(dict.fromkeys(neuron.layer for neuron in chosen))
    wanted = set(layers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)  # what convert left alone is in the result
        converted, conversion = convert(model, mode, filter=lambda name, conv: name in wanted, report=True)
    skipped = tuple((skip.name, skip.reason) for skip in conversion.skipped if skip.name in wanted)
    caller = "padding_intervention"
    training = {module: module.training for module in model.modules()}
    samples, prediction_changes = 0, 0
    square, difference, elements = 0.0, 0.0, 0
    classifier = True
    try:
        model.eval()
        converted.eval()
        with torch.no_grad(), Recorder(model, layers) as original, Recorder(converted, layers) as switched:
            for batch in batches(inputs, caller=caller, progress=progress, description=caller):
                out = run_model(model, batch, caller)
                out_switched = run_model(converted, batch, caller)
                samples += int(batch.shape[0]) if batch.dim() else 1
                for a, b in zip(_tensors(out), _tensors(out_switched), strict=False):
                    elements += a.numel()
                    square += float(a.double().abs().square().sum())
                    difference += float((b.double() - a.double()).abs().square().sum())
                is_logits = isinstance(out, Tensor) and out.dim() == 2 and out.shape[1] >= 2
                classifier = classifier and is_logits and isinstance(out_switched, Tensor)
                if classifier:
                    prediction_changes += int((out.argmax(dim=1) != out_switched.argmax(dim=1)).sum())
    finally:
        for module, flag in training.items():
            module.training = flag
    changes = []
    for neuron in chosen:
        before = original.stats.get(neuron.layer)
        if before is None:
            raise ValueError(
                f"padding_intervention: no convolution named {neuron.layer!r} ran on these inputs "
                f"(neuron {neuron.channel} of it was given)"
            )
        side = SIDES[before.dims].index(neuron.side)
        after = switched.stats.get(neuron.layer)
        excess, score, excess_after, score_after = _change((before, after), side, neuron.channel)
        changes.append(
            NeuronChange(
                neuron.layer, neuron.channel, neuron.side, excess, _finite(excess_after), score, _finite(score_after)
            )
        )
    count = max(elements, 1)
    return PaddingIntervention(
        mode=mode,
        layers=layers,
        skipped=skipped,
        neurons=tuple(changes),
        samples=samples,
        output_rms=math.sqrt(square / count),
        difference_rms=math.sqrt(difference / count),
        prediction_changes=prediction_changes if classifier else None,
    )
