r"""Experiment 2: how much each input pixel affects a model's output (the pixel impact map).

The impact of pixel :math:`(i, j)` is how much the summed output moves when that pixel alone is
switched on. Stacks of all-ones convolutions (:func:`conv_stack`) make the effect of a padding mode
visible: with zero padding the border pixels reach far fewer outputs than the centre ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd

from padmods._checks import check_int, integer
from padmods._warnings import user_stacklevel
from padmods.registry import get

__all__ = ["IMPACT_METHODS", "ImpactOverflowWarning", "conv_stack", "impact_map"]

#: The values that ``impact_map(method=...)`` accepts.
IMPACT_METHODS = ("exact", "gradient")


class ImpactOverflowWarning(RuntimeWarning):
    """An impact map holds infinite or NaN values: the model's arithmetic overflowed."""


def _check_shape(input_shape: Any) -> tuple[int, int, int]:
    shape = tuple(map(integer, input_shape)) if isinstance(input_shape, Sequence) else None
    if shape is None or len(shape) != 3 or not all(n is not None and n >= 1 for n in shape):
        raise ValueError(f"input_shape must be three positive ints (C, H, W), got {input_shape!r}")
    return shape  # type: ignore[return-value]


def _dtype_device(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    """The dtype and device of the model's first floating-point parameter or buffer."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype, tensor.device
    return torch.get_default_dtype(), torch.device("cpu")


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode, then give each one back its own ``training`` flag."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


def _summed_output(model: nn.Module, input: Tensor) -> Tensor:
    """The model's output summed over everything but the batch axis, one value per image."""
    output = model(input)
    if not isinstance(output, Tensor) or output.dim() == 0 or output.shape[0] != input.shape[0]:
        shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        raise ValueError(
            f"impact_map needs a model that returns one tensor with the batch axis first; "
            f"for an input batch of {input.shape[0]} it returned {shape}"
        )
    return output.reshape(output.shape[0], -1).sum(dim=1)


def _exact(
    model: nn.Module, shape: tuple[int, int, int], batch_size: int, dtype: torch.dtype, device: torch.device
) -> Tensor:
    channels, height, width = shape
    pixels = height * width
    impact = torch.empty(pixels, dtype=dtype, device=device)
    with torch.no_grad():
        baseline = _summed_output(model, torch.zeros(1, *shape, dtype=dtype, device=device))
        for start in range(0, pixels, batch_size):
            stop = min(start + batch_size, pixels)
            count = stop - start
            batch = torch.zeros(count, channels, pixels, dtype=dtype, device=device)
            rows = torch.arange(count, device=device)
            batch[rows, :, torch.arange(start, stop, device=device)] = 1.0
            impact[start:stop] = _summed_output(model, batch.view(count, channels, height, width)) - baseline
    return impact.view(height, width)


def _gradient(model: nn.Module, shape: tuple[int, int, int], dtype: torch.dtype, device: torch.device) -> Tensor:
    with torch.inference_mode(False), torch.enable_grad():
        input = torch.zeros(1, *shape, dtype=dtype, device=device, requires_grad=True)
        total = _summed_output(model, input).sum()
        if not total.requires_grad:  # the output does not depend on the input at all
            return torch.zeros(shape[1:], dtype=dtype, device=device)
        (grad,) = torch.autograd.grad(total, input, allow_unused=True)
    if grad is None:
        return torch.zeros(shape[1:], dtype=dtype, device=device)
    return grad[0].sum(dim=0)


def impact_map(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    method: str = "exact",
    batch_size: int = 128,
) -> Tensor:
    r"""How much each input pixel changes the summed output of ``model``.

    .. math::
        I(i, j) = \sum f(e_{ij}) - \sum f(0)

    where :math:`e_{ij}` is the input of shape ``input_shape`` that is 0 everywhere but 1.0 at pixel
    :math:`(i, j)` of every channel, and :math:`\sum` adds up every element of the output. For a
    stack of all-ones convolutions without bias, :math:`I(i, j)` counts the paths from input pixel
    :math:`(i, j)` to the outputs, which is why zero padding darkens the border of the map.

    - ``method='exact'`` evaluates the definition for any model, linear or not, under
      :func:`torch.no_grad`, ``batch_size`` one-hot images at a time: at most ``batch_size`` images
      (and the model's activations for them) exist at once, never all :math:`H W`.
    - ``method='gradient'`` takes one backward pass: the gradient of the summed output with respect
      to an all-zero input, summed over channels. This equals the exact map only when the model is
      affine in its input (every padmods layer is; ReLU networks are not in general). For other
      models it is the linearisation at 0.

    Args:
        model: Any module that maps a batch :math:`(N, C, H, W)` to a tensor whose first axis is
            :math:`N`.
        input_shape: ``(C, H, W)``, the shape of one input image.
        method: ``'exact'`` or ``'gradient'``. Default: ``'exact'``
        batch_size: Number of one-hot images per forward pass of ``'exact'``. Default: 128

    Shape:
        Output: :math:`(H, W)`, with the dtype and device of the model's first floating-point
        parameter or buffer (the default dtype on the CPU for a model that has none).

    Returns:
        The impact map, detached from any graph.

    Raises:
        ValueError: An unknown ``method``, a bad ``input_shape`` or ``batch_size``, or a model output
            without the batch axis first.

    Warns:
        ImpactOverflowWarning: The map holds infinite or NaN values, because the model's arithmetic
            overflowed. A stack of all-ones convolutions counts up to :math:`k^{2L}` paths per pixel
            (:math:`L` layers of kernel :math:`k`), more than float32 holds (:math:`3.4 \cdot 10^{38}`)
            from 41 layers of 3x3 or 21 of 9x9 on: build it in float64
            (``conv_stack(..., dtype=torch.float64)``), which also keeps the counts exact integers up
            to :math:`2^{53}`.

    Note:
        The model runs in eval mode, so that dropout is off and batch normalisation uses its
        running statistics: in train mode the one-hot images of a batch would influence each other
        (the map would depend on ``batch_size``) and the running statistics would change. Every
        submodule gets its own ``training`` flag back afterwards, also when the model raises. The
        parameters' ``.grad`` are never touched.

    Examples:
        >>> stack = padmods.analysis.conv_stack("zeros", layers=1)
        >>> padmods.analysis.impact_map(stack, (1, 4, 4))
        tensor([[4., 6., 6., 4.],
                [6., 9., 9., 6.],
                [6., 9., 9., 6.],
                [4., 6., 6., 4.]])
    """
    if method not in IMPACT_METHODS:
        raise ValueError(f"method must be one of {IMPACT_METHODS}, got {method!r}")
    shape = _check_shape(input_shape)
    batch_size = check_int("batch_size", batch_size, 1)
    if not isinstance(model, nn.Module):
        raise TypeError(f"impact_map expects an nn.Module, got {type(model).__name__}")
    dtype, device = _dtype_device(model)
    with _eval_mode(model):
        if method == "exact":
            impact = _exact(model, shape, batch_size, dtype, device)
        else:
            impact = _gradient(model, shape, dtype, device).detach()
    if impact.is_floating_point() and not bool(torch.isfinite(impact).all()):
        warnings.warn(
            f"impact_map: the map holds {_non_finite(impact)}: the model's {impact.dtype} arithmetic overflowed "
            f"(its largest finite value is {torch.finfo(impact.dtype).max:.3g}); run the model in a wider dtype "
            "(model.double()) or make it smaller",
            ImpactOverflowWarning,
            stacklevel=user_stacklevel(),
        )
    return impact


def _non_finite(impact: Tensor) -> str:
    kinds = [name for name, present in (("inf", impact.isinf().any()), ("NaN", impact.isnan().any())) if present]
    count = int((~torch.isfinite(impact)).sum())
    return f"{count} non-finite value{'s' if count > 1 else ''} ({' and '.join(kinds)})"


def conv_stack(
    mode: str | type[nn.Conv2d],
    *,
    layers: int = 1,
    kernel_size: int = 3,
    padding: int | str = "same",
    channels: int = 1,
    ones: bool = True,
    **layer_kwargs: Any,
) -> nn.Sequential:
    r"""A stack of ``layers`` convolutions of one padding mode, the networks of the impact experiment.

    Every layer is ``padmods.create(mode, channels, channels, kernel_size, padding=padding,
    **layer_kwargs)``, stride 1. With ``ones=True`` every weight is 1 and every bias 0, so
    :func:`impact_map` of the stack counts paths from each input pixel to the outputs.

    Args:
        mode: A registered padding mode name, or a layer class.
        layers: Number of convolution layers. Default: 1
        kernel_size: Kernel size of every layer. Default: 3
        padding: Padding of every layer: an int, a pair, ``'same'`` or ``'valid'``. Default: ``'same'``
        channels: Input and output channels of every layer. Default: 1
        ones: Set all weights to 1 and biases to 0; otherwise keep each layer's own
            initialisation (drawn from torch's global RNG, as for any new module). Default: ``True``
        **layer_kwargs: Further constructor arguments of the mode's class (e.g. ``pad`` or
            ``with_r`` for ``'coord'``).

    Shape:
        Input: :math:`(N, C, H, W)` with :math:`C` = ``channels``.
        Output: :math:`(N, C, H', W')`: the same size for ``'same'``, and
        :math:`H' = H - L (k - 1)` for ``'valid'`` (:math:`L` layers of kernel :math:`k`).

    Returns:
        A :class:`torch.nn.Sequential` of the layers, in train mode like any new module.

    Raises:
        ValueError: An unknown mode (the message lists the available ones) or a non-positive count.

    Note:
        For ``'coord'`` with ``ones=True`` the coordinate taps are set to 0, not 1, so the stack
        computes exactly the ones-stack of its border mode (``pad``, zeros by default) and its output
        for an all-zero input is 0. Ones on the coordinate taps would not change
        :func:`impact_map`: in a stack without nonlinearities the coordinate channels add an
        output that does not depend on the input, and that constant cancels in the difference
        :math:`f(e_{ij}) - f(0)`.

    Examples:
        >>> stack = padmods.analysis.conv_stack("circular", layers=2)
        >>> stack(torch.ones(1, 1, 5, 5))[0, 0, 0]
        tensor([81., 81., 81., 81., 81.], grad_fn=<SelectBackward0>)
    """
    layers = check_int("layers", layers, 1)
    kernel_size = check_int("kernel_size", kernel_size, 1)
    channels = check_int("channels", channels, 1)
    cls = get(mode)
    stack = nn.Sequential(
        *(cls(channels, channels, kernel_size, padding=padding, **layer_kwargs) for _ in range(layers))
    )
    if ones:
        with torch.no_grad():
            for layer in stack:
                _set_ones(layer)
    return stack


def _set_ones(layer: nn.Module) -> None:
    """Weight 1 on every tap of the input's channels, 0 on the taps of channels a layer adds itself, bias 0.

    A layer's weight has ``in_channels // groups`` input channels; taps beyond them belong to
    channels the layer appends to its input (CoordConv's coordinates), which start at zero.
    """
    conv = cast(_ConvNd, layer)
    weight = conv.weight
    taps = conv.in_channels // conv.groups
    weight[:, :taps].fill_(1.0)
    weight[:, taps:].zero_()
    bias = getattr(layer, "bias", None)
    if isinstance(bias, Tensor):
        bias.zero_()
