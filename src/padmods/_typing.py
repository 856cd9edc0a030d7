"""Type aliases shared across padmods (like torch's ``_size_2_t``)."""

from __future__ import annotations

from typing import Union

__all__ = ["IntOrPair", "IntOrTuple", "PaddingArg", "Pairs"]

#: An int used for every spatial axis, or one int per axis (e.g. ``(height, width)``).
IntOrTuple = Union[int, tuple[int, ...]]

#: An int used for both spatial axes of a 2-D layer, or one int per axis ``(height, width)``.
IntOrPair = Union[int, tuple[int, int]]

#: What ``padding`` accepts: an int, one int per axis, ``"same"`` or ``"valid"``.
PaddingArg = Union[int, tuple[int, ...], str]

#: Resolved padding: one ``(before, after)`` pair per spatial axis, in the input's axis order.
Pairs = tuple[tuple[int, int], ...]
