r"""Padding-aware neurons: the channels of a trained model that have learned where the border is.

Garcia-Gasulla, Gimenez-Abalos and Martin-Torres (*Padding Aware Neurons*, ICCV Workshops 2023,
arXiv:2309.08048) found filters in every pre-trained model they examined, about 2% of them,
that respond to the border of their feature map: they recognise the zero padding and hand the
network a sense of how close a pattern is to the edge. :func:`padding_neurons` finds them from
activations, and :func:`padding_intervention` checks them by switching the padding of their
layers to a mode without a border and measuring what changes.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Union

import torch
from torch import Tensor, nn

from padmods import registry
from padmods.analysis._border_stats import SIDES, BorderStats, Recorder, batches, run_model

if TYPE_CHECKING:
    from padmods.analysis.neuron_intervention import PaddingIntervention

__all__ = [
    "DEFAULT_THRESHOLD",
    "LayerNeurons",
    "PaddingNeuron",
    "PaddingNeuronReport",
    "border_scores",
    "padding_neurons",
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


def padding_neurons(
    model: nn.Module,
    inputs: Union[Tensor, Iterable[Any]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    intervene: Union[bool, str, tuple[str, ...]] = False,
    progress: bool = True,
) -> PaddingNeuronReport:
    r"""Find the channels of ``model`` whose response is concentrated on the border of their feature map.

    The model runs on ``inputs`` in eval mode under ``torch.no_grad()``, and a forward hook on each
    convolution (:class:`torch.nn.Conv1d`, ``Conv2d``, ``Conv3d``, padmods layers, timm's
    ``Conv2dSame``) reduces each output, as it comes, to per-channel sums over the interior and
    over each side of the border; no activation map is kept, so memory does not grow with the
    number of inputs. The *border* of a convolution's output is the positions whose window reaches
    its padding: with a 3x3 kernel and ``padding=1``, the outermost row or column on each side.
    The *interior* is the positions that reach no padding.

    For channel :math:`c` of a layer and side :math:`s` of its border, with :math:`\mu_s` the mean
    response over the side (all samples, all its positions), :math:`\mu_I` and :math:`\sigma_I`
    the mean and standard deviation over the interior, and :math:`\Delta_s = \mu_s - \mu_I`,

    .. math::

        \operatorname{score}_s = \frac{\Delta_s}{\sqrt{\Delta_s^2 + \sigma_I^2 + \kappa^2 \rho_s^2}}
        \in (-1, 1),

    where :math:`\rho_s` is the root mean square of the response over the side and the interior
    together and :math:`\kappa = 10^{-4}` (:math:`10^{-2}` for float16 and bfloat16 outputs) a
    noise floor: border and interior responses that differ only by rounding score about 0. The
    score is (up to that floor) :math:`d / \sqrt{1 + d^2}` of :math:`d = \Delta_s / \sigma_I`, how
    many interior standard deviations the mean border response lies above the mean interior
    response, so it does not change with the scale of the channel nor, beyond the floor, with its
    bias, and it nears 1 for a channel that responds only on the border. A channel is
    padding-aware when its best side scores at least ``threshold``; the default 0.9 asks for
    :math:`d \ge 2.06`. A channel whose response is *lower* on the border (a blur darkened by
    zero padding) scores below 0 and is not reported. Dead and constant channels score 0.

    Garcia-Gasulla et al. compare each filter's activations on the border with those elsewhere,
    side by side; this score is one such comparison, with a scale taken from the interior so
    that one threshold serves every layer.

    Args:
        model: The model.
        inputs: One batch as a tensor, or an iterable of batches (a list, a
            :class:`~torch.utils.data.DataLoader`). A batch that is a tuple or a list (as a
            ``DataLoader`` yields ``(inputs, targets)``) gives its first element. Each batch is
            moved to the device of the model's parameters.
        threshold: The score, in :math:`(0, 1)`, from which a channel counts. Default: ``0.9``
        intervene: Also check the neurons found with :func:`padding_intervention`: ``True`` for
            ``'circular'``, or the padding mode to switch their layers to. Needs ``inputs`` that
            can be iterated twice (not a generator). Default: ``False``
        progress: Show a progress bar over an iterable of batches when ``tqdm`` is installed
            (``pip install 'padmods[progress]'``). Default: ``True``

    Returns:
        A :class:`PaddingNeuronReport`; ``str(report)`` is a table, ``report.to_dict()`` JSON values.

    Raises:
        ValueError: ``threshold`` is not in :math:`(0, 1)`; ``inputs`` yields no batch; the model
            fails on a batch (its error, with the batch's shape).
        TypeError: ``model`` is not a module; ``inputs`` is not a tensor or an iterable of batches.

    Shape:
        - Inputs: each batch as ``model`` takes it, e.g. :math:`(N, C, H, W)`.

    Examples:
        >>> conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
        >>> with torch.no_grad():
        ...     _ = conv.weight.zero_()
        ...     conv.weight[0, 0, 1, 1] = 1.0  # channel 0: the identity
        ...     conv.weight[1, 0, 0] = -1.0  # channel 1: minus the row above ...
        ...     conv.weight[1, 0, 1, 1] = 3.0  # ... plus three times the pixel: 0 on a constant image
        >>> images = torch.arange(1.0, 5.0).reshape(4, 1, 1, 1).expand(4, 1, 6, 6)  # constant images
        >>> report = padding_neurons(nn.Sequential(conv), images)
        >>> [(neuron.layer, neuron.channel, neuron.side) for neuron in report.neurons]
        [('0', 1, 'top')]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"padding_neurons expects an nn.Module, got {type(model).__name__}")
    threshold = _check_threshold(threshold)
    mode = _intervention_mode(intervene)
    if mode is not None:
        registry.dimensions(mode)  # an unknown mode fails here, before the model runs
    if mode is not None and isinstance(inputs, Iterator):
        raise TypeError(
            "padding_neurons(intervene=...) runs the model on the inputs twice, which a one-pass "
            f"{type(inputs).__name__} cannot give; pass a tensor, a list or a DataLoader"
        )
    recorder, samples = _record(model, inputs, progress=progress, caller="padding_neurons")
    rows: list[LayerNeurons] = []
    found: list[PaddingNeuron] = []
    for name, stats in recorder.stats.items():
        row, neurons = _layer_row(name, recorder.classes[name], stats, threshold)
        rows.append(row)
        found.extend(neurons)
    unknown = tuple(name for name in recorder.unknown if name not in recorder.stats)
    report = PaddingNeuronReport(tuple(found), tuple(rows), threshold, samples, unknown)
    if mode is not None:
        from padmods.analysis.neuron_intervention import padding_intervention

        result = padding_intervention(model, inputs, report, mode=mode, progress=progress)
        report = dataclasses.replace(report, intervention=result)
    return report


def _intervention_mode(intervene: Any) -> Union[str, tuple[str, ...], None]:
    if intervene is False or intervene is None:
        return None
    if intervene is True:
        return "circular"
    if isinstance(intervene, (str, tuple)):
        return intervene
    raise TypeError(f"intervene is True, False or a padding mode, got {intervene!r}")


def _record(
    model: nn.Module,
    inputs: Union[Tensor, Iterable[Any]],
    *,
    progress: bool,
    caller: str,
    names: Optional[Iterable[str]] = None,
) -> tuple[Recorder, int]:
    """Run ``model`` over ``inputs`` in eval mode without gradients, recording its convolutions.

    Returns the recorder and the number of samples; every module's training flag is restored.
    """
    training = {module: module.training for module in model.modules()}
    samples = 0
    try:
        model.eval()
        with torch.no_grad(), Recorder(model, names) as recorder:
            for batch in batches(inputs, caller=caller, progress=progress, description=caller):
                run_model(model, batch, caller)
                samples += int(batch.shape[0]) if batch.dim() else 1
    finally:
        for module, flag in training.items():
            module.training = flag
    return recorder, samples
