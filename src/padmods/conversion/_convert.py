"""Swap every convolution of a model for a padding mode's layer, in one call."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Literal, Optional, Union, overload

from torch import nn
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.utils.parametrize import type_before_parametrizations

from padmods import registry
from padmods._conv_classes import conv_dims
from padmods.conversion._walk import plan_replacements
from padmods.conversion.adapters import foreign_convolution, plain_overrides, reproduced_names, reproduces
from padmods.conversion.carry import CannotCarry, carry, copy_model
from padmods.conversion.record import (
    ConversionReport,
    ConversionWarning,
    Replaced,
    Skipped,
    skipped_by_reason,
    user_stacklevel,
)

__all__ = ["ConvFilter", "convert"]

ConvFilter = Callable[[str, _ConvNd], bool]
Mode = Union[str, tuple[str, ...], type[_ConvNd]]


def _where(name: str) -> str:
    return "the model itself" if not name else repr(name)


def _refusal(conv: _ConvNd, cls: type[nn.Module], name: str) -> tuple[Optional[str], dict[str, Any]]:
    """Why ``cls`` cannot replace ``conv`` (or ``None``), and the settings an adapter gives ``conv``.

    A class that names the class of ``conv`` in its ``reproduces`` attribute computes what its own
    ``forward`` does, so it takes ``conv`` without an adapter (and with one's settings if it has one).
    """
    computes = reproduced_names(type_before_parametrizations(conv))
    if not computes <= reproduced_names(cls):  # conv does more than pad, and cls would drop it
        return (
            f"{type(conv).__name__} computes what {', '.join(sorted(computes))} does (its reproduces attribute), "
            f"which {cls.__name__} does not; convert to a class that reproduces it too, or revert first",
            {},
        )
    overrides = plain_overrides(conv, _where(name))
    if isinstance(overrides, str):
        if not reproduces(cls, conv):
            return overrides, {}
        overrides = {}
    refusal = getattr(cls, "conversion_refusal", None)
    return (refusal(conv) if refusal is not None else None), overrides


def _say_no_convolution_of_its_axes(mode: Mode, class_dims: int, other_dims: list[int], strict: bool) -> None:
    """Warn (``strict``: raise) that a mode of ``class_dims`` axes found only convolutions of other dimensions."""
    has = ", ".join(f"{dims}-D" for dims in sorted(set(other_dims)))
    name = mode.__name__ if isinstance(mode, type) else repr(tuple(mode) if isinstance(mode, list) else mode)
    message = (
        f"{name} converts {class_dims}-D convolutions only, and the model has none: its {len(other_dims)} "
        f"convolution(s) ({has}) keep their own padding"
    )
    hint = "; a per-axis mode names one mode per spatial axis" if not isinstance(mode, type) else ""
    if strict:
        raise ValueError(f"convert(strict=True): {message}{hint}")
    warnings.warn(f"convert: {message}{hint}", ConversionWarning, stacklevel=user_stacklevel())


@overload
def convert(
    model: nn.Module,
    mode: Mode,
    *,
    inplace: bool = ...,
    filter: Optional[ConvFilter] = ...,
    strict: bool = ...,
    report: Literal[False] = ...,
    **kwargs: Any,
) -> nn.Module: ...


@overload
def convert(
    model: nn.Module,
    mode: Mode,
    *,
    inplace: bool = ...,
    filter: Optional[ConvFilter] = ...,
    strict: bool = ...,
    report: Literal[True],
    **kwargs: Any,
) -> tuple[nn.Module, ConversionReport]: ...


def convert(
    model: nn.Module,
    mode: Mode,
    *,
    inplace: bool = False,
    filter: Optional[ConvFilter] = None,
    strict: bool = False,
    report: bool = False,
    **kwargs: Any,
) -> Union[nn.Module, tuple[nn.Module, ConversionReport]]:
    """Replace every convolution in ``model`` with the layer of padding mode ``mode``.

    Works like :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm`: it walks the module tree
    (nested modules, ``Sequential``, ``ModuleList``, ``ModuleDict``), builds each replacement with
    ``from_conv(conv, share_parameters=True)`` and keeps padding amounts, device, dtype,
    ``requires_grad`` and train/eval state. Every :class:`torch.nn.Conv1d`, ``Conv2d`` and
    ``Conv3d`` gets the mode's layer of its own dimension (``ReflectPadConv1d`` for a ``Conv1d``);
    a layer class as ``mode``, or a tuple of per-axis modes, replaces only the convolutions of its
    own number of axes, and leaves the others alone without a word, unless the model has none of
    its own number of axes: then nothing would change, and a
    :class:`~padmods.conversion.ConversionWarning` says so (``strict=True`` raises). Transposed
    convolutions and other layers are left alone. A convolution shared by several parents is
    replaced once and stays shared.

    **Nothing changes what the model computes without a word.** The replacement holds the very
    objects of the original: its ``Parameter`` objects (so with ``inplace=True`` an optimizer built
    on the model keeps working), forward and backward hooks, weight parametrizations (new-style
    ``torch.nn.utils.parametrizations`` and old-style ``weight_norm``/``spectral_norm``), extra
    parameters, buffers, submodules and plain attributes. A convolution that cannot be replaced
    exactly is left alone, and one :class:`~padmods.conversion.ConversionWarning` lists every such
    layer with the reason (``strict=True`` raises instead):

    - a subclass whose ``forward`` differs from ``nn.Conv2d``'s, unless an adapter says what it
      computes (timm's ``Conv2dSame`` has one built in and becomes a layer with TensorFlow's
      ``'same'``; see :func:`padmods.conversion.register_adapter` for your own), or the mode's
      class names it in its ``reproduces`` attribute (a layer that does the same, e.g. standardises
      its weight as timm's ``StdConv2d`` does);
    - a layer the mode does not take: ``'coord'`` with ``groups != 1``, a mode without a layer of
      the convolution's dimension;
    - a parametrized or hook-computed weight that a CoordConv would have to widen;
    - a convolution that is not a torch convolution module (timm's ``CondConv2d``: a module with a
      ``weight``, a ``kernel_size`` and a ``padding`` that convolves in its own ``forward``).

    The warning names each reason once, with the layers it holds for; it points at the line that
    called :func:`convert` (or entered :func:`padmods.padding`).

    ``'coord'`` widens the weight by the coordinate channels, whose taps start at zero (so the
    model computes the same function until it is trained); that weight is a new ``Parameter``,
    and with ``inplace=True`` a :class:`~padmods.conversion.ConversionWarning` names it. A
    converted model converts again to any mode, and :func:`padmods.revert` restores the original
    layers exactly.

    Args:
        model: The model; it may itself be a convolution.
        mode: A registered mode name, a layer class, or a tuple of one padding mode per spatial axis
            (``('reflect', 'circular')``: reflect along the height, circular along the width), which
            converts the convolutions of that many axes.
        inplace: Modify ``model`` itself instead of a deep copy. Default: ``False``
        filter: ``filter(qualified_name, conv) -> bool`` picks which convolutions change (and which
            of those padmods cannot replace it names); the root is named ``''``. Default: all of them.
        strict: Raise a ``ValueError`` instead of leaving any convolution alone. Default: ``False``
        report: Also return a :class:`~padmods.conversion.ConversionReport` of what was replaced,
            what was carried over and what was left alone. Default: ``False``
        **kwargs: Extra arguments for ``from_conv`` (e.g. ``with_r=True`` for ``'coord'``).

    Returns:
        The converted model: ``model`` itself with ``inplace=True`` (unless it is a convolution),
        otherwise a converted copy; with ``report=True``, the pair ``(model, report)``.

    Raises:
        ValueError: An unknown mode; an uninitialised lazy convolution; with ``strict=True``, a
            convolution that would be left alone. The message names the layer. Nothing is changed then.

    Examples:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        >>> converted = padmods.convert(model, "reflect")
        >>> [type(m).__name__ for m in converted]
        ['ReflectPadConv2d', 'ReLU', 'ReflectPadConv2d']
        >>> type(model[0]).__name__  # the original is untouched
        'Conv2d'
        >>> converted, record = padmods.convert(model, "circular", report=True)
        >>> print(record)
        converted to 'circular': 2 replaced, 0 left alone
          0: Conv2d -> CircularPadConv2d
          2: Conv2d -> CircularPadConv2d
    """
    if isinstance(mode, type):
        class_dims = conv_dims(mode)
        if not class_dims:
            raise TypeError(f"convert expects a mode name or a convolution layer class, got {mode!r}")
    else:
        mode_dims = registry.dimensions(mode)  # an unknown name fails here, before any copy
        class_dims = mode_dims[0] if isinstance(mode, (tuple, list)) else 0  # a tuple has its axes
    if not isinstance(model, nn.Module):
        raise TypeError(f"convert expects an nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy_model(model, "convert")
    replaced: list[Replaced] = []
    skipped: list[Skipped] = []
    other_dims: list[int] = []  # convolutions a class or per-axis mode leaves alone by their number of axes

    def replacement(name: str, module: nn.Module) -> Optional[nn.Module]:
        dims = conv_dims(module)
        if not dims:
            foreign = foreign_convolution(module)
            if foreign is None:
                return None
            if filter is None or filter(name, module):  # type: ignore[arg-type]
                skipped.append(Skipped(name, type(module).__name__, foreign))
            return None  # its own convolution stays; torch convolutions inside it convert
        if class_dims and dims != class_dims:
            if filter is None or filter(name, module):  # type: ignore[arg-type]
                other_dims.append(dims)
            return None
        conv: _ConvNd = module  # type: ignore[assignment]
        if filter is not None and not filter(name, conv):
            return conv
        if isinstance(conv, LazyModuleMixin) and conv.has_uninitialized_params():
            raise ValueError(
                f"cannot convert {_where(name)} ({type(conv).__name__}): it has no weight until its first "
                "forward pass; run the model on one input before converting"
            )
        try:
            cls = registry.get(mode, dims)
        except ValueError as error:
            skipped.append(Skipped(name, type(conv).__name__, str(error)))
            return conv
        if not hasattr(cls, "from_conv"):
            raise TypeError(f"padding mode {mode!r} ({cls.__name__}) has no from_conv class method to convert with")
        reason, settings = _refusal(conv, cls, name)
        if reason is not None:
            skipped.append(Skipped(name, type(conv).__name__, reason))
            return conv
        extra = {"borders": tuple(mode)} if isinstance(mode, (tuple, list)) else {}
        try:
            new: _ConvNd = cls.from_conv(conv, share_parameters=True, **extra, **kwargs)
        except ValueError as error:
            raise ValueError(f"cannot convert {_where(name)} ({type(conv).__name__}): {error}") from None
        for key, value in settings.items():  # what an adapter says the subclass really computes with
            setattr(new, key, value)
        try:
            carried = carry(conv, new, dims)
        except CannotCarry as error:
            skipped.append(Skipped(name, type(conv).__name__, str(error)))
            return conv
        new_parameters = tuple(
            key
            for key, param in new._parameters.items()
            if param is not None and conv._parameters.get(key) is not param
        )
        replaced.append(Replaced(name, type(conv).__name__, type(new).__name__, tuple(carried), new_parameters))
        return new

    plan = plan_replacements(model, replacement)
    record = ConversionReport(mode, tuple(replaced), tuple(skipped))
    if other_dims and not replaced and not skipped:
        _say_no_convolution_of_its_axes(mode, class_dims, other_dims, strict)
    if skipped:
        listing = skipped_by_reason(skipped)
        if strict:
            raise ValueError(
                f"convert(strict=True) cannot convert {len(skipped)} convolution(s); pass filter= to leave them "
                f"out:\n{listing}"
            )
        warnings.warn(
            f"convert left {len(skipped)} convolution(s) alone, with their own padding:\n{listing}",
            ConversionWarning,
            stacklevel=user_stacklevel(),
        )
    converted = plan.apply()
    if inplace and record.new_parameters:
        warnings.warn(
            f"convert made new parameters that an optimizer built before it does not hold: "
            f"{', '.join(record.new_parameters)}. Build the optimizer after converting, or add them with "
            "optimizer.add_param_group()",
            ConversionWarning,
            stacklevel=user_stacklevel(),
        )
    return (converted, record) if report else converted
