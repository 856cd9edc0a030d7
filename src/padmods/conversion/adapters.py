"""What a convolution subclass with a ``forward`` of its own computes, in terms of ``nn.Conv2d`` settings.

:func:`padmods.convert` replaces a convolution by a padmods layer built from its settings. That is
exact for :class:`torch.nn.Conv1d`, ``Conv2d`` and ``Conv3d``, whose ``forward`` is fixed by those
settings. A subclass that overrides ``forward`` (timm's ``Conv2dSame`` pads TF-style inside it) may
compute something else, so ``convert`` leaves it alone and warns, unless an *adapter* says which
settings make a plain convolution compute the same. An adapter is a function of the layer that
returns those settings (``{'padding': 'same'}``), or ``None`` when this layer cannot be expressed so.

Examples:
    >>> from padmods.conversion import register_adapter
    >>> class MyConv2dSame(nn.Conv2d):
    ...     def forward(self, x):  # pads 'same' TF-style, then convolves with padding 0
    ...         return padmods.functional.padded_conv(x, self.weight, self.bias, self.stride, "same")
    >>> register_adapter(MyConv2dSame, lambda conv: {"padding": "same"})
    >>> model = padmods.convert(nn.Sequential(MyConv2dSame(3, 8, 3, stride=2)), "reflect")
    >>> model[0].padding
    'same'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Optional, Union

from torch import nn
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils.parametrize import type_before_parametrizations

from padmods import _checks
from padmods._conv_classes import TORCH_CONVS, conv_dims
from padmods.layers.base import PaddedConvNd
from padmods.registry import modes

__all__ = [
    "ADAPTABLE_SETTINGS",
    "COMPUTES_MORE",
    "Adapter",
    "adapter_for",
    "foreign_convolution",
    "is_padding_layer",
    "overrides_forward",
    "plain_overrides",
    "register_adapter",
    "reproduced_names",
    "reproduces",
]

#: ``adapter(conv) -> settings``: the ``nn.Conv2d`` settings under which a plain convolution with the
#: parameters of ``conv`` computes what ``conv`` does, or ``None`` if there are none.
Adapter = Callable[[_ConvNd], Optional[Mapping[str, Any]]]

#: The settings an adapter may give: those that padmods layers resolve at every call.
ADAPTABLE_SETTINGS = frozenset({"padding", "stride", "dilation"})

_ADAPTERS: dict[str, Adapter] = {}


def _key(cls: Union[type, str]) -> str:
    if isinstance(cls, str):
        if "." not in cls:
            raise ValueError(f"an adapter's class is a class or its qualified name 'module.Class', got {cls!r}")
        return cls
    if not isinstance(cls, type) or not issubclass(cls, tuple(TORCH_CONVS.values())):
        raise TypeError(f"an adapter's class is a subclass of nn.Conv1d, nn.Conv2d or nn.Conv3d, got {cls!r}")
    return f"{cls.__module__}.{cls.__qualname__}"


def register_adapter(cls: Union[type[_ConvNd], str], adapter: Adapter) -> None:
    """Teach :func:`padmods.convert` what the convolution subclass ``cls`` computes.

    Args:
        cls: A subclass of :class:`torch.nn.Conv1d`, ``Conv2d`` or ``Conv3d`` that overrides
            ``forward``, or its qualified name (``'timm.layers.conv2d_same.Conv2dSame'``), which
            needs no import of its package. Subclasses of ``cls`` use the adapter too, unless they
            have one of their own.
        adapter: ``adapter(conv)`` returns a mapping of settings among ``padding``, ``stride`` and
            ``dilation`` under which a plain convolution with the parameters of ``conv`` computes
            what ``conv`` does, or ``None`` if this instance has no such settings (``convert`` then
            leaves it alone with a warning). Registering again replaces the adapter.

    Raises:
        TypeError: ``cls`` is not a convolution class, or ``adapter`` is not callable.
    """
    key = _key(cls)
    if not callable(adapter):
        raise TypeError(f"an adapter is a function of the convolution, got {adapter!r}")
    _ADAPTERS[key] = adapter


def adapter_for(conv: _ConvNd) -> Optional[Adapter]:
    """The adapter of the nearest class of ``conv`` (parametrizations aside) that has one."""
    for cls in type_before_parametrizations(conv).__mro__:
        adapter = _ADAPTERS.get(f"{cls.__module__}.{cls.__qualname__}")
        if adapter is not None:
            return adapter
    return None


def overrides_forward(conv: nn.Module) -> bool:
    """Whether the class of ``conv`` (parametrizations aside) computes its own way, not ``nn.ConvNd``'s."""
    cls = type_before_parametrizations(conv)
    torch_conv = next((base for base in TORCH_CONVS.values() if issubclass(cls, base)), None)
    if torch_conv is None:
        return False
    return any(getattr(cls, name) is not getattr(torch_conv, name) for name in ("forward", "_conv_forward"))


def is_padding_layer(conv: nn.Module) -> bool:
    """A padmods layer, or a class some mode is registered with: its padding is its mode's to replace."""
    cls = type_before_parametrizations(conv)
    return issubclass(cls, PaddedConvNd) or any(cls in by_dim.values() for by_dim in modes.values())


def _qualified_names(cls: type) -> list[str]:
    return [f"{klass.__module__}.{klass.__qualname__}" for klass in cls.__mro__]


def reproduces(layer_class: type, conv: nn.Module) -> bool:
    """Whether ``layer_class`` says, in its ``reproduces`` attribute, that it computes what ``conv`` does.

    A padding layer that does more than pad (it standardises its weight as timm's ``StdConv2d``
    does) names the classes whose ``forward`` it reproduces, as classes or qualified names; such a
    class then converts them although they compute their own way.
    """
    names = reproduced_names(layer_class)
    return bool(names) and any(name in names for name in _qualified_names(type_before_parametrizations(conv)))


def reproduced_names(layer_class: type) -> set[str]:
    """The qualified names of the classes that ``layer_class`` lists in its ``reproduces`` attribute."""
    return {
        item if isinstance(item, str) else f"{item.__module__}.{item.__qualname__}"
        for item in getattr(layer_class, "reproduces", ())
    }


#: Classes known to compute more than a convolution in ``forward``: an adapter, which gives
#: settings only, cannot describe them. Qualified name to what they do.
COMPUTES_MORE = {
    f"{package}.std_conv.{name}": "standardises its weight in forward"
    for package in ("timm.layers", "timm.models.layers")
    for name in ("StdConv2d", "StdConv2dSame", "ScaledStdConv2d", "ScaledStdConv2dSame")
}

_HOW_TO = "see 'Layers that compute more than a convolution' in the guide to converting models"


def _own_forward_reason(conv: nn.Module) -> str:
    """Why padmods cannot tell what ``conv`` computes, with the advice that holds for its class."""
    cls = type_before_parametrizations(conv)
    name = cls.__name__
    known = next((COMPUTES_MORE[key] for key in _qualified_names(cls) if key in COMPUTES_MORE), None)
    if known is not None:
        return (
            f"{name} {known}, which no adapter can express (an adapter gives padding, stride and dilation "
            f"only); convert it to a padding layer that does the same and names {name} in its reproduces "
            f"attribute ({_HOW_TO})"
        )
    return (
        f"{name} overrides forward, so padmods cannot tell what it computes. If it is a plain convolution "
        "with other padding, stride or dilation, say which with padmods.conversion.register_adapter; if it "
        "computes more (a standardised weight, a scaled output), an adapter cannot say so: convert it to a "
        f"padding layer that does the same and names {name} in its reproduces attribute ({_HOW_TO})"
    )


def _adapter_name(adapter: Adapter) -> str:
    name = getattr(adapter, "__qualname__", None) or type(adapter).__qualname__
    module = getattr(adapter, "__module__", None)
    return f"{module}.{name}" if module else name


def plain_overrides(conv: _ConvNd, where: str) -> Union[dict[str, Any], str]:
    """The settings that make a plain convolution with the parameters of ``conv`` compute what it does.

    Returns the adapter's settings, checked and normalised (``padding`` parsed, ``stride`` and
    ``dilation`` one int per axis), to apply over those of ``conv``: none for a convolution that
    computes the ``nn.ConvNd`` way, or a padding layer whose padding is its mode's. A string says
    why padmods cannot tell what ``conv`` computes, and what to do. ``where`` names the layer in
    errors.

    Raises:
        ValueError: The adapter raised, returned something other than a mapping or ``None``, or
            returned a setting it may not give or a value that setting cannot take. The message
            names the adapter, the class and the layer.
    """
    if is_padding_layer(conv) or not overrides_forward(conv):
        return {}
    name = type(conv).__name__
    adapter = adapter_for(conv)
    if adapter is None:
        return _own_forward_reason(conv)
    label = f"the adapter {_adapter_name(adapter)} of {name} for {where}"
    fix = "fix the adapter, registered with padmods.conversion.register_adapter"
    try:
        settings = adapter(conv)
    except Exception as error:
        raise ValueError(f"{label} raised {type(error).__name__}: {error}; {fix}") from error
    if settings is None:
        return f"the adapter of {name} found no plain convolution that computes the same"
    if not isinstance(settings, Mapping):
        raise ValueError(
            f"{label} returned {settings!r}; an adapter returns a mapping of settings among "
            f"{sorted(ADAPTABLE_SETTINGS)}, or None; {fix}"
        )
    unknown = set(settings) - ADAPTABLE_SETTINGS
    if unknown:
        raise ValueError(
            f"{label} returned {sorted(unknown)}; an adapter gives only {sorted(ADAPTABLE_SETTINGS)}; {fix}"
        )
    dims = conv_dims(conv)
    checked = {}
    for key, value in settings.items():
        try:
            checked[key] = (
                _checks.parse_padding(value, dims) if key == "padding" else _checks.as_tuple(key, value, dims)
            )
        except (TypeError, ValueError) as error:
            raise ValueError(f"{label} returned {key}={value!r}, which {name} cannot take: {error}; {fix}") from None
    return checked


def foreign_convolution(module: nn.Module) -> Optional[str]:
    """Why ``module`` is a convolution that padmods cannot replace or read, or ``None`` if it is none.

    A module that is not :class:`torch.nn.Conv1d`, ``Conv2d`` or ``Conv3d`` (nor a transposed one,
    whose padding crops) but has a ``weight`` parameter, a ``kernel_size`` and a ``padding``
    convolves in a ``forward`` of its own (timm's ``CondConv2d`` mixes expert kernels there): its
    padding stays what it is.
    """
    if isinstance(module, _ConvNd) or conv_dims(module):
        return None
    if "weight" not in module._parameters or not all(hasattr(module, key) for key in ("kernel_size", "padding")):
        return None
    name = type(module).__name__
    return (
        f"{name} is not a torch convolution module (it convolves in a forward of its own), so padmods "
        "can neither replace it nor read its padding: it keeps its own. Leave it out with filter= to "
        "silence this"
    )


def _tf_same(conv: _ConvNd) -> Mapping[str, Any]:
    """Timm's ``Conv2dSame`` pads TensorFlow's 'same' in ``forward`` (extra element after), as padmods' 'same'."""
    return {"padding": "same"}


for _name in ("timm.layers.conv2d_same.Conv2dSame", "timm.models.layers.conv2d_same.Conv2dSame"):
    register_adapter(_name, _tf_same)
del _name
