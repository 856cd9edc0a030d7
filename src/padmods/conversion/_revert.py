"""Undo :func:`padmods.convert`: the original layers back, for good or for the length of a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

from torch import nn

from padmods._conv_classes import conv_dims
from padmods.conversion._convert import ConvFilter, Mode, convert
from padmods.conversion._walk import plan_replacements
from padmods.conversion.carry import copy_model, restore, source_of

__all__ = ["padding", "revert"]


def revert(model: nn.Module, *, inplace: bool = False) -> nn.Module:
    """Put back the layers that :func:`padmods.convert` replaced, as the very classes they were.

    Each converted layer gives way to the module it was made from (after any number of conversions),
    with its class, settings, parametrizations, hooks and attributes, and the parameters the
    converted layer holds now: what was trained, loaded or moved with ``.to()`` while converted
    carries back. A CoordConv gives back only the taps of the input channels. Layers that
    ``convert`` did not make (a padmods layer built by hand) stay. Convert then revert gives a
    model with the ``state_dict`` of the original.

    Args:
        model: A model, or a single layer, converted by :func:`padmods.convert`.
        inplace: Modify ``model`` itself instead of a deep copy. Default: ``False``

    Returns:
        The model with its original layers: ``model`` itself with ``inplace=True`` (unless it is a
        converted layer), otherwise a copy.

    Examples:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))
        >>> converted = padmods.convert(model, "reflect")
        >>> type(padmods.revert(converted)[0]).__name__
        'Conv2d'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"revert expects an nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy_model(model, "revert")

    def original(name: str, module: nn.Module) -> Optional[nn.Module]:
        return restore(module) if source_of(module) is not None else None

    return plan_replacements(model, original).apply()


@contextmanager
def padding(
    model: nn.Module,
    mode: Mode,
    *,
    filter: Optional[ConvFilter] = None,
    strict: bool = False,
    **kwargs: Any,
) -> Iterator[nn.Module]:
    """Convert ``model`` in place for the length of a ``with`` block, then restore it.

    The parameters stay the same objects (except a CoordConv's wider weight, which the block
    trains separately and hands back on exit), so an optimizer built before the block stays valid
    inside and after it. Whatever the block changes in the parameters stays in the model.

    A model that is already converted works too: the block's layers go back to the converted ones.
    So does converting again inside the block (``convert(model, 'circular', inplace=True)``): each
    layer goes back to the one it was when the block began. A call that :func:`padding` refuses
    leaves the model as it was.

    Args:
        model: The model; a container, not a single convolution (which cannot change in place).
        mode: As for :func:`padmods.convert`.
        filter: As for :func:`padmods.convert`.
        strict: As for :func:`padmods.convert`.
        **kwargs: As for :func:`padmods.convert` (extra arguments of ``from_conv``); not ``report``
            or ``inplace``.

    Yields:
        ``model`` itself, converted.

    Raises:
        TypeError: ``model`` is itself a convolution, or ``report=`` or ``inplace=`` was given.
        ValueError: As for :func:`padmods.convert`. The model is unchanged then.

    Examples:
        >>> model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, bias=False))
        >>> with padmods.padding(model, "circular"):
        ...     type(model[0]).__name__
        'CircularPadConv2d'
        >>> type(model[0]).__name__
        'Conv2d'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"padding expects an nn.Module, got {type(model).__name__}")
    _check_block_arguments(model, kwargs)
    before = {id(module) for module in model.modules()}
    convert(model, mode, inplace=True, filter=filter, strict=strict, **kwargs)
    try:
        yield model
    finally:
        # only the layers made in this block go back, each to the layer there before it, however
        # many conversions inside the block lie in between
        def earlier(name: str, module: nn.Module) -> Optional[nn.Module]:
            if id(module) in before or source_of(module) is None:
                return None
            layer: Optional[nn.Module] = module
            while layer is not None and id(layer) not in before and source_of(layer) is not None:
                layer = restore(layer, one_step=True)
            return layer

        plan_replacements(model, earlier).apply()


def _check_block_arguments(model: nn.Module, kwargs: dict[str, Any]) -> None:
    """Refuse what :func:`padding` cannot do, before anything changes."""
    if "report" in kwargs:
        raise TypeError(
            "padding() takes no report=: the block yields the model itself; call "
            "padmods.convert(model, mode, report=True) for the record of a conversion"
        )
    if "inplace" in kwargs:
        raise TypeError(
            "padding() takes no inplace=: it always converts the model in place and restores it when the "
            "block ends; call padmods.convert(model, mode) for a converted copy"
        )
    if conv_dims(model):
        raise TypeError(
            f"padding() converts a model in place, and a model that is itself a convolution "
            f"({type(model).__name__}) cannot be: its replacement is a new object. Put it in a container, "
            "padding(nn.Sequential(conv), mode), or convert it with padmods.convert(conv, mode)"
        )
