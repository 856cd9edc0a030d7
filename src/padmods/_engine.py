"""The engine's one entry for a convolution over any of its borders, by name.

The padding modes (:data:`padmods._conv.BORDERS`, or one per axis) pad and convolve; ``'partial'``
zero-pads and rescales. Layers and CoordConv call this instead of choosing between the two.
"""

from __future__ import annotations

from typing import Optional

from torch import Tensor

from padmods._conv import BORDERS, Border, border_conv
from padmods._partial import partial_conv
from padmods._typing import Pairs

__all__ = ["ENGINE_BORDERS", "engine_conv", "padding_of"]

#: Every border name the engine convolves over.
ENGINE_BORDERS = (*BORDERS, "partial")


def padding_of(border: Border) -> Border:
    """What fills the padded positions of ``border``: zeros for ``'partial'``, the border itself otherwise."""
    return "zeros" if border == "partial" else border


def engine_conv(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: tuple[int, ...],
    pairs: Pairs,
    dilation: tuple[int, ...],
    groups: int,
    border: Border,
    *,
    eager: bool = False,
) -> Tensor:
    """Convolution of a batched input over ``border``, given resolved ``pairs`` (no checks).

    ``eager=True``: a plain eager call with int padding (:func:`padmods._trace.is_plain_eager`),
    decided once by the caller; the engine then takes its eager forms without asking again.
    """
    if border == "partial":
        return partial_conv(input, weight, bias, stride, pairs, dilation, groups, eager=eager)
    return border_conv(input, weight, bias, stride, pairs, dilation, groups, border, eager=eager)
