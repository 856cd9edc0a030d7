r"""Experiment 1: can a shift-invariant model learn where a pixel is? Only through its padding.

The model :math:`y = \sum_{h,w} \operatorname{conv}(x)_{h,w}` has one convolution and then sums
its output, so without a border it would give every translate of an image the same score. It is
trained to tell the image whose only white pixel sits in the top-left corner from the images whose
white pixel sits anywhere else. Whatever it manages comes from how the padding treats the border.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from typing import Any, Optional, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from padmods._checks import check_float, check_int, integer
from padmods.registry import get

__all__ = ["RESOLUTION", "PositionLeakResult", "position_leak"]

#: Relative resolution of the scores: logits closer than this, relative to the largest score
#: magnitude (or to 1 if that is smaller), are treated as equal. It absorbs the float64 rounding of
#: the summed output (different positions add the same terms in different orders) and nothing else.
RESOLUTION = 1e-9

#: Constructor arguments that :func:`position_leak` sets itself.
_RESERVED = ("in_channels", "out_channels", "kernel_size", "padding", "device", "dtype")


@dataclasses.dataclass(frozen=True, eq=False)
class PositionLeakResult:
    r"""What :func:`position_leak` measured, together with the settings it ran with.

    ``position_leak(**result.settings)`` reruns the experiment and, on the same machine, reproduces
    the result bit for bit.

    Attributes:
        mode: The padding mode (name or class) as passed.
        balanced_accuracy: :math:`\tfrac12(\text{TPR} + \text{TNR})` over all :math:`H W` images,
            an image being classified positive when its logit exceeds the threshold (see
            :func:`position_leak`). 1.0 means the corner is separated, 0.5 is chance.
        margin: Score of the corner image minus the highest score of any other image; > 0 means
            separated. Differences within the resolution are reported as exactly 0.0 (a tie).
        scores: :math:`(H, W)` float64 tensor, the trained model's logit for the image whose white
            pixel sits at each position.
        kernel: The trained weight, shape :math:`(1, C_{in}, k, k)`, float64 (:math:`C_{in} = 3` for
            ``'coord'``: the image tap, then the :math:`x` and :math:`y` taps).
        bias: The trained bias, shape :math:`(1)`, or ``None`` for a layer without bias.
        loss_history: :math:`(\text{steps})` float64 tensor, the class-balanced loss before each step.
        threshold: The decision threshold on the logit, :data:`RESOLUTION` times
            :math:`\max(1, \max |\text{score}|)`.
        size: Height and width :math:`H = W` of the images.
        kernel_size: Kernel size of the convolution.
        steps: Number of optimiser steps.
        lr: Learning rate of Adam.
        seed: Seed of the generator that initialised the weights.
        layer_kwargs: Further constructor arguments given to the layer (read-only).
    """

    mode: str | type[nn.Conv2d]
    balanced_accuracy: float
    margin: float
    scores: Tensor = dataclasses.field(repr=False)
    kernel: Tensor = dataclasses.field(repr=False)
    bias: Optional[Tensor] = dataclasses.field(repr=False)
    loss_history: Tensor = dataclasses.field(repr=False)
    threshold: float = dataclasses.field(repr=False)
    size: int
    kernel_size: int
    steps: int
    lr: float
    seed: int
    layer_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def separated(self) -> bool:
        """Whether the model tells the corner from every other position (``margin > 0``)."""
        return self.margin > 0

    @property
    def settings(self) -> dict[str, Any]:
        """The keyword arguments of :func:`position_leak` that reproduce this result."""
        return {
            "mode": self.mode,
            "size": self.size,
            "kernel_size": self.kernel_size,
            "steps": self.steps,
            "lr": self.lr,
            "seed": self.seed,
            **self.layer_kwargs,
        }


def _build_layer(
    cls: type[nn.Conv2d], kernel_size: int, generator: torch.Generator, layer_kwargs: Mapping[str, Any]
) -> nn.Conv2d:
    """The 1-in, 1-out 'same' layer in float64, its parameters drawn from ``generator`` only.

    The layer is built on the meta device, so its own initialisation draws nothing from the global
    RNG. A layer with buffers (none of the built-in modes has any) is built for real, inside
    :func:`torch.random.fork_rng`, so that the global RNG stream is left as it was.
    """
    kwargs = dict(padding="same", dtype=torch.float64, **layer_kwargs)
    layer = cls(1, 1, kernel_size, device="meta", **kwargs)
    if any(True for _ in layer.buffers()):
        with torch.random.fork_rng(devices=[]):
            layer = cls(1, 1, kernel_size, **kwargs)
    else:
        layer = layer.to_empty(device="cpu")
    # torch's default for Conv2d: weight and bias uniform on +-1/sqrt(fan_in)
    bound = layer.weight[0].numel() ** -0.5
    with torch.no_grad():
        for parameter in layer.parameters():
            uniform = torch.rand(parameter.shape, generator=generator, dtype=parameter.dtype)
            parameter.copy_(uniform.mul_(2 * bound).sub_(bound))
    return layer


def position_leak(
    mode: str | type[nn.Conv2d],
    *,
    size: int = 10,
    kernel_size: int = 3,
    steps: int = 150,
    lr: float = 0.1,
    seed: int = 0,
    **layer_kwargs: Any,
) -> PositionLeakResult:
    r"""Train a shift-invariant model to find the top-left corner; see what the padding leaks.

    The model is one convolution of the mode (one input and one output channel, ``'same'``
    padding, with bias unless ``bias=False`` is passed), summed over all output pixels:

    .. math::
        s(x) = \sum_{h, w} (\operatorname{conv}(x))_{h, w}, \qquad p(x) = \sigma(s(x))

    The data are all :math:`H W` images of size :math:`H \times W` that are 0 but for a single 1.0;
    the label is 1 for the image whose 1.0 is at the top-left pixel and 0 for the others. The model
    is trained on all of them at once (full batch) with Adam on the binary cross-entropy, weighted
    so that the single positive image counts as much as all :math:`H W - 1` negatives together
    (weights :math:`\tfrac12` and :math:`\tfrac{1}{2(HW-1)}`).

    What each mode can do:

    - ``'zeros'``: a white pixel near the border meets fewer kernel taps, so each position's score
      is a different partial sum of the kernel, and the corner can be separated (balanced
      accuracy 1.0).
    - ``'circular'``: the layer commutes with :func:`torch.roll`, so every image's output is a
      shifted copy of every other's and all scores are the same: :math:`\sum W + H W b`. No
      training can separate them; the balanced accuracy is exactly 0.5.
    - ``'reflect'``, ``'replicate'``, ``'partial'``: the border repeats or rescales pixels, so
      border positions get their own partial sums; the measured result is reported as is.
    - ``'coord'``: in this linear model the coordinate channels add only a constant. The
      convolution is linear and the coordinate images do not depend on the input, so their summed
      output is the same number for every image, a second bias. CoordConv therefore separates
      the corner exactly as well as its border mode (``pad``, ``'zeros'`` by default) does, and
      with ``pad='circular'`` it stays at 0.5: knowing the coordinates needs a nonlinearity (or an
      output that is not summed) to be of any use.

    Args:
        mode: A registered padding mode name, or a layer class.
        size: Height and width of the images, at least 2. Memory grows as :math:`\text{size}^4`
            (all images at once). Default: 10
        kernel_size: Kernel size. Default: 3
        steps: Number of Adam steps; 0 evaluates the initial model. Default: 150
        lr: Learning rate of Adam. Default: 0.1
        seed: Seed of a local :class:`torch.Generator` that draws the initial weights from torch's
            default distribution for a convolution; the global RNG is never used. Default: 0
        **layer_kwargs: Further constructor arguments of the mode's class, e.g. ``bias=False`` or,
            for ``'coord'``, ``pad='circular'``.

    Returns:
        A :class:`PositionLeakResult`. An image counts as positive when its logit exceeds the
        threshold :math:`\tau = 10^{-9} \max(1, \max |s|)` (:data:`RESOLUTION`), that is, when it
        is positive by more than float64 rounding. A model that gives every image the same score
        (up to that rounding) therefore gets a balanced accuracy of exactly 0.5 and a margin of 0.0.

    Raises:
        ValueError: An unknown mode (the message lists the available ones), a bad number, or a
            constructor argument that the experiment sets itself (``padding``, ``dtype``, ...).

    Note:
        Everything runs in float64 on the CPU. The same arguments give the same result bit for bit
        on the same machine (and torch build). One mode at the default size trains in well under
        2 seconds on one CPU core.

    Examples:
        >>> result = padmods.analysis.position_leak("circular", steps=20)
        >>> result.balanced_accuracy, result.margin
        (0.5, 0.0)
    """
    size = check_int("size", size, 2)
    kernel_size = check_int("kernel_size", kernel_size, 1)
    steps = check_int("steps", steps, 0)
    lr = check_float("lr", lr)
    seed_number = integer(seed)
    if seed_number is None:
        raise ValueError(f"seed must be an int, got {seed!r}")
    seed = seed_number
    reserved = sorted(set(_RESERVED) & set(layer_kwargs))
    if reserved:
        raise ValueError(
            f"position_leak sets {', '.join(reserved)} itself; got {reserved[0]}={layer_kwargs[reserved[0]]!r}"
        )
    cls = cast(type[nn.Conv2d], get(mode, 2))

    generator = torch.Generator(device="cpu").manual_seed(seed)
    pixels = size * size
    images = torch.eye(pixels, dtype=torch.float64).view(pixels, 1, size, size)
    labels = torch.zeros(pixels, dtype=torch.float64)
    labels[0] = 1.0
    weights = torch.full((pixels,), 0.5 / (pixels - 1), dtype=torch.float64)
    weights[0] = 0.5

    with torch.inference_mode(False), torch.enable_grad():
        layer = _build_layer(cls, kernel_size, generator, layer_kwargs)
        optimizer = torch.optim.Adam(layer.parameters(), lr=lr)
        history = torch.empty(steps, dtype=torch.float64)
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            logits = layer(images).sum(dim=(1, 2, 3))
            loss = F.binary_cross_entropy_with_logits(logits, labels, weight=weights, reduction="sum")
            loss.backward()
            optimizer.step()
            history[step] = loss.detach()
        with torch.no_grad():
            scores = layer(images).sum(dim=(1, 2, 3)).view(size, size)

    threshold = RESOLUTION * max(1.0, scores.abs().max().item())
    positive = scores.flatten() > threshold
    true_negatives = int((~positive[1:]).sum())
    balanced_accuracy = 0.5 * (float(positive[0]) + true_negatives / (pixels - 1))
    margin = (scores[0, 0] - scores.flatten()[1:].max()).item()
    if abs(margin) <= threshold:
        margin = 0.0
    bias = layer.bias.detach().clone() if layer.bias is not None else None
    return PositionLeakResult(
        mode=mode,
        balanced_accuracy=balanced_accuracy,
        margin=margin,
        scores=scores.detach(),
        kernel=layer.weight.detach().clone(),
        bias=bias,
        loss_history=history,
        threshold=threshold,
        size=size,
        kernel_size=kernel_size,
        steps=steps,
        lr=lr,
        seed=seed,
        layer_kwargs=types.MappingProxyType(dict(layer_kwargs)),
    )
