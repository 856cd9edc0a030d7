"""Conversion of whole models: :func:`padmods.convert`, :func:`padmods.revert` and :func:`padmods.padding`.

The package namespace has the three functions; this subpackage adds what a user who converts
models with unusual layers needs: :func:`register_adapter` for a convolution subclass with a
``forward`` of its own, the :class:`ConversionReport` that ``convert(..., report=True)`` returns,
and :class:`ConversionWarning`.
"""

from __future__ import annotations

from padmods.conversion._convert import convert
from padmods.conversion._revert import padding, revert
from padmods.conversion.adapters import register_adapter
from padmods.conversion.record import ConversionReport, ConversionWarning, Replaced, Skipped

__all__ = [
    "ConversionReport",
    "ConversionWarning",
    "Replaced",
    "Skipped",
    "convert",
    "padding",
    "register_adapter",
    "revert",
]
