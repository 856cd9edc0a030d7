"""Type aliases shared across padmods (like torch's ``_size_2_t``)."""

from __future__ import annotations

from typing import Union

__all__ = ["IntOrPair", "PaddingArg"]

#: An int used for both spatial axes, or one int per axis ``(height, width)``.
IntOrPair = Union[int, tuple[int, int]]

#: What ``padding`` accepts: an int, a pair, ``"same"`` or ``"valid"``.
PaddingArg = Union[int, tuple[int, int], str]
