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
from collections.abc import Iterable, Iterator
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from padmods import registry
from padmods.analysis._border_stats import Recorder, batches, run_model
from padmods.analysis._neuron_report import (
    DEFAULT_THRESHOLD,
    LayerNeurons,
    PaddingNeuron,
    PaddingNeuronReport,
    _check_threshold,
    _layer_row,
    border_scores,
)
from padmods.analysis.neuron_intervention import padding_intervention

__all__ = [
    "DEFAULT_THRESHOLD",
    "LayerNeurons",
    "PaddingNeuron",
    "PaddingNeuronReport",
    "border_scores",
    "padding_neurons",
]


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
