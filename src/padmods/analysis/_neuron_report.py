"""The report of :func:`padmods.analysis.padding_neurons`: the score, the neurons, and their layers.

Kept apart from the search itself (:mod:`padmods.analysis.neurons`) so that the intervention
(:mod:`padmods.analysis.neuron_intervention`) reads the same scores without importing the search.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import torch
from torch import Tensor

from padmods.analysis._border_stats import SIDES, BorderStats

__all__ = [
    "DEFAULT_THRESHOLD",
    "NOISE_FLOOR",
    "LayerNeurons",
    "NeuronChange",
    "PaddingIntervention",
    "PaddingNeuron",
    "PaddingNeuronReport",
    "border_excess",
    "border_scores",
]

#: The default ``threshold`` of :func:`padding_neurons`: a score of 0.9 is a mean border response
#: about 2.06 interior standard deviations above the mean interior response.
DEFAULT_THRESHOLD = 0.9

#: The relative noise floor :math:`\kappa` of the score, by the dtype of the convolution's output:
#: rounding differences between border and interior below it do not count as a response.
NOISE_FLOOR = {torch.float16: 1e-2, torch.bfloat16: 1e-2}
_NOISE_FLOOR_DEFAULT = 1e-4


def border_scores(stats: BorderStats) -> Tensor:
    r"""The score of each channel for each side of the border, from its statistics.

    See :func:`padding_neurons` for the formula. A side without outputs (no padding there), an
    output without interior, or a channel whose response does not vary score 0.

    Args:
        stats: The statistics of one convolution's output.

    Returns:
        ``(C, 2 * dims)`` float64 scores in :math:`(-1, 1)`, sides in the order of :data:`SIDES`.
    """
    interior_count = stats.count[0]
    interior_mean = stats.mean[0]
    interior_var = stats.m2[0] / interior_count.clamp(min=1)
    kappa = NOISE_FLOOR.get(stats.dtype, _NOISE_FLOOR_DEFAULT)
    scores = []
    for side in range(1, stats.count.numel()):
        count = stats.count[side]
        excess = stats.mean[side] - interior_mean
        mean_square = (
            stats.m2[side] + count * stats.mean[side].square() + stats.m2[0] + interior_count * interior_mean.square()
        ) / (count + interior_count).clamp(min=1)
        denominator = (excess.square() + interior_var + kappa**2 * mean_square).sqrt()
        score = torch.where(denominator > 0, excess / denominator.clamp(min=torch.finfo(torch.float64).tiny), 0.0)
        if not (float(count) and float(interior_count)):
            score = torch.zeros_like(score)
        scores.append(score)
    return torch.stack(scores, dim=1)


def border_excess(stats: BorderStats, side: int) -> Tensor:
    """Mean response on border side ``side`` (0-based, in :data:`SIDES` order) minus the mean interior response."""
    return stats.mean[1 + side] - stats.mean[0]


@dataclass(frozen=True)
class PaddingNeuron:
    """One channel whose response is concentrated on the border of its feature map.

    Attributes:
        layer: Qualified name of its convolution in the model (``''`` for the model itself).
        channel: Its output channel.
        side: The side of the border with the highest score: ``'top'``, ``'bottom'``, ``'left'``,
            ``'right'`` in 2-D; ``'start'``, ``'end'`` in 1-D; ``'front'``, ``'back'`` and those of 2-D in 3-D.
        score: The score on that side, in ``[threshold, 1)``.
        scores: ``(side, score)`` for every side of the layer's border, in the order of
            :attr:`LayerNeurons.sides`.
        excess: The mean response on :attr:`side` minus the mean interior response.
    """

    layer: str
    channel: int
    side: str
    score: float
    scores: tuple[tuple[str, float], ...]
    excess: float

    def sides_above(self, threshold: float) -> tuple[str, ...]:
        """The sides whose score reaches ``threshold``, best first."""
        ranked = sorted(self.scores, key=lambda pair: -pair[1])
        return tuple(side for side, score in ranked if score >= threshold)

    def to_dict(self) -> dict[str, Any]:
        """The neuron as plain JSON values."""
        return {
            "layer": self.layer,
            "channel": self.channel,
            "side": self.side,
            "score": self.score,
            "scores": dict(self.scores),
            "excess": self.excess,
        }


@dataclass(frozen=True)
class LayerNeurons:
    """The padding-aware neurons of one convolution.

    Attributes:
        name: Qualified name of the layer in the model (``''`` for the model itself).
        layer: Class name of the layer.
        channels: Its number of output channels.
        neurons: How many of them are padding-aware.
        sides: The names of the sides of its border, as in :attr:`scores`.
        note: Why the layer has no score, if so: ``'reads no padding'`` (no output position
            reaches the padding), ``'no interior'`` (every position does) or
            ``'non-finite output'``; ``''`` otherwise.
        scores: ``(channels, len(sides))`` float64 scores of every channel on every side.
    """

    name: str
    layer: str
    channels: int
    neurons: int
    sides: tuple[str, ...]
    note: str = ""
    scores: Tensor = field(default_factory=lambda: torch.zeros(0, 0, dtype=torch.float64), compare=False, repr=False)

    @property
    def share(self) -> float:
        """The share of the layer's channels that are padding-aware."""
        return self.neurons / self.channels if self.channels else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON values (without the full :attr:`scores`)."""
        return {
            "name": self.name,
            "layer": self.layer,
            "channels": self.channels,
            "neurons": self.neurons,
            "share": self.share,
            "sides": list(self.sides),
            "note": self.note,
        }


#: A padding mode, or one per spatial axis.
Mode = Union[str, tuple[str, ...]]


def _finite(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class NeuronChange:
    """How one padding-aware neuron responds on its border side before and after the switch.

    Attributes:
        layer: Qualified name of its convolution.
        channel: Its output channel.
        side: The side of the border it was found on.
        excess_before: Mean response on :attr:`side` minus the mean interior response, with the
            model's own padding.
        excess_after: The same with the layer's padding switched; ``None`` if it is not finite
            or the layer did not run.
        score_before: Its score on :attr:`side` (see :func:`~padmods.analysis.padding_neurons`) before.
        score_after: And after; ``None`` as for :attr:`excess_after`.
    """

    layer: str
    channel: int
    side: str
    excess_before: float
    excess_after: Optional[float]
    score_before: float
    score_after: Optional[float]

    @property
    def drop(self) -> Optional[float]:
        """The share of the border excess that the switch removed: ``1 - excess_after / excess_before``.

        1 means the border response is gone, 0 that it is unchanged, more than 1 that it reversed.
        ``None`` when :attr:`excess_before` is not positive or :attr:`excess_after` is unknown.
        """
        if self.excess_after is None or not self.excess_before > 0:
            return None
        return _finite(1.0 - self.excess_after / self.excess_before)

    def to_dict(self) -> dict[str, Any]:
        """The change as plain JSON values."""
        return {
            "layer": self.layer,
            "channel": self.channel,
            "side": self.side,
            "excess_before": self.excess_before,
            "excess_after": self.excess_after,
            "score_before": self.score_before,
            "score_after": self.score_after,
            "drop": self.drop,
        }


@dataclass(frozen=True)
class PaddingIntervention:
    """What switching the padding of the padding-aware neurons' layers changes.

    Attributes:
        mode: The padding mode the layers were switched to.
        layers: The layers that were switched, in the order of the neurons.
        skipped: ``(layer, reason)`` for each layer that :func:`padmods.convert` left alone (a mode
            without a layer of its dimension, ...): its neurons keep their padding.
        neurons: One :class:`NeuronChange` per neuron, in the order given.
        samples: How many input samples the model ran on.
        output_rms: Root mean square of the model's output (every floating-point tensor it returns,
            all elements).
        difference_rms: Root mean square of the difference between the switched and the original output.
        prediction_changes: How many samples change their top class (argmax over dim 1), for a
            model whose output is ``(N, classes)``; ``None`` otherwise.
    """

    mode: Mode
    layers: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    neurons: tuple[NeuronChange, ...]
    samples: int
    output_rms: float
    difference_rms: float
    prediction_changes: Optional[int]

    @property
    def output_change(self) -> Optional[float]:
        """``difference_rms / output_rms``, the relative change of the output; ``None`` for an all-zero output."""
        return _finite(self.difference_rms / self.output_rms) if self.output_rms > 0 else None

    @property
    def prediction_change(self) -> Optional[float]:
        """The share of samples whose top class changes; ``None`` if the output is not ``(N, classes)``."""
        if self.prediction_changes is None or not self.samples:
            return None
        return self.prediction_changes / self.samples

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON values (``None`` where a number is undefined, never NaN)."""
        return {
            "mode": self.mode if isinstance(self.mode, str) else list(self.mode),
            "layers": list(self.layers),
            "skipped": [{"layer": layer, "reason": reason} for layer, reason in self.skipped],
            "samples": self.samples,
            "output_rms": _finite(self.output_rms),
            "difference_rms": _finite(self.difference_rms),
            "output_change": self.output_change,
            "prediction_changes": self.prediction_changes,
            "prediction_change": self.prediction_change,
            "neurons": [change.to_dict() for change in self.neurons],
        }

    def __str__(self) -> str:
        change = "unknown" if self.output_change is None else f"{self.output_change:.1%}"
        layers = f"{len(self.layers)} layer" + ("" if len(self.layers) == 1 else "s")
        lines = [
            f"switching the padding of {layers} to {self.mode!r}: the output changes by "
            f"{change} (RMS, relative)"
            + (
                ""
                if self.prediction_change is None
                else f", the top class of {self.prediction_change:.1%} of {self.samples} samples"
            )
        ]
        lines.extend(f"left alone: {layer or '<model>'}: {reason}" for layer, reason in self.skipped)
        if self.neurons:

            def number(value: Optional[float], form: str) -> str:
                return "-" if value is None else format(value, form)

            rows = [
                (
                    change.layer or "<model>",
                    str(change.channel),
                    change.side,
                    f"{change.excess_before:.4g}",
                    number(change.excess_after, ".4g"),
                    number(change.drop, ".1%"),
                    f"{change.score_before:.3f}",
                    number(change.score_after, ".3f"),
                )
                for change in self.neurons
            ]
            header = ("layer", "channel", "side", "excess", "after", "drop", "score", "after")
            widths = [max(len(cells[i]) for cells in (header, *rows)) for i in range(len(header))]
            lines.extend(
                "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
                for cells in (header, *rows)
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class PaddingNeuronReport:
    """The padding-aware neurons of a model, found by :func:`padding_neurons`.

    Attributes:
        neurons: The padding-aware channels, layer by layer in the order the layers first ran,
            then by channel.
        layers: One row per convolution that ran, in the order they first ran.
        threshold: The score a channel needed to count.
        samples: How many input samples the model ran on.
        unknown: Convolutions whose ``forward`` is their own and which no adapter describes (see
            :func:`padmods.conversion.register_adapter`): their border is unknown, so they have no score.
        intervention: The result of switching the padding of the neurons' layers, when
            :func:`padding_neurons` was asked for it (``intervene``); ``None`` otherwise.
    """

    neurons: tuple[PaddingNeuron, ...]
    layers: tuple[LayerNeurons, ...]
    threshold: float
    samples: int
    unknown: tuple[str, ...] = ()
    intervention: Optional[PaddingIntervention] = None

    @property
    def channels(self) -> int:
        """The number of channels of all the convolutions that have a row."""
        return sum(row.channels for row in self.layers)

    @property
    def share(self) -> float:
        """The share of all those channels that are padding-aware."""
        return len(self.neurons) / self.channels if self.channels else 0.0

    def layer(self, name: str) -> LayerNeurons:
        """The row of the layer of qualified name ``name``.

        Raises:
            KeyError: No convolution of that name ran.
        """
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(f"no convolution named {name!r} ran; the layers are {[row.name for row in self.layers]}")

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON values: finite numbers only, so ``json.dumps(..., allow_nan=False)`` works."""
        return {
            "threshold": self.threshold,
            "samples": self.samples,
            "channels": self.channels,
            "count": len(self.neurons),
            "share": self.share,
            "layers": [row.to_dict() for row in self.layers],
            "neurons": [neuron.to_dict() for neuron in self.neurons],
            "unknown": list(self.unknown),
            "intervention": None if self.intervention is None else self.intervention.to_dict(),
        }

    def __str__(self) -> str:
        lines = [
            f"{_count(len(self.neurons), 'padding-aware neuron')} in {_count(self.channels, 'channel')} "
            f"({self.share:.1%}) of {_count(len(self.layers), 'convolution')}, score >= {self.threshold:g}, "
            f"{_count(self.samples, 'sample')}"
        ]
        layer_rows = [
            (row.name or "<model>", row.layer, str(row.channels), str(row.neurons), f"{row.share:.1%}", row.note)
            for row in self.layers
        ]
        lines += _table(("layer", "class", "channels", "neurons", "share", ""), layer_rows)
        if self.neurons:
            lines.append("")
            neuron_rows = [
                (
                    neuron.layer or "<model>",
                    str(neuron.channel),
                    neuron.side,
                    f"{neuron.score:.3f}",
                    " ".join(neuron.sides_above(self.threshold)),
                )
                for neuron in self.neurons
            ]
            lines += _table(("layer", "channel", "side", "score", "sides >= threshold"), neuron_rows)
        lines.extend(f"unknown border (own forward, no adapter): {name}" for name in self.unknown)
        if self.intervention is not None:
            lines += ["", str(self.intervention)]
        return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cells[i]) for cells in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in (header, *rows)
    ]


def _check_threshold(threshold: Any) -> float:
    """``threshold`` as a float if it lies in ``(0, 1)``, else a ``ValueError`` that names it."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not math.isfinite(threshold)
        or not 0 < float(threshold) < 1
    ):
        raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}")
    return float(threshold)


def _layer_row(name: str, layer: str, stats: BorderStats, threshold: float) -> tuple[LayerNeurons, list[PaddingNeuron]]:
    sides = SIDES[stats.dims]
    scores = border_scores(stats)
    finite = (
        torch.isfinite(scores).all(dim=1) & torch.isfinite(stats.mean).all(dim=0) & torch.isfinite(stats.m2).all(dim=0)
    )
    scores = torch.where(finite.unsqueeze(1), scores, 0.0)
    note = ""
    if not bool(finite.all()):
        note = "non-finite output"
    elif not float(stats.count[1:].sum()):
        note = "reads no padding"
    elif not float(stats.count[0]):
        note = "no interior"
    best, where = scores.max(dim=1) if scores.numel() else (scores.new_zeros(0), scores.new_zeros(0, dtype=torch.long))
    neurons = [
        PaddingNeuron(
            layer=name,
            channel=channel,
            side=sides[int(where[channel])],
            score=float(best[channel]),
            scores=tuple(zip(sides, (float(value) for value in scores[channel]), strict=True)),
            excess=float(border_excess(stats, int(where[channel]))[channel]),
        )
        for channel in range(scores.shape[0])
        if float(best[channel]) >= threshold
    ]
    row = LayerNeurons(name, layer, scores.shape[0], len(neurons), sides, note, scores)
    return row, neurons
