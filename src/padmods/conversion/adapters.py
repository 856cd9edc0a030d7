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
    "Adapter",
    "adapter_for",
    "is_padding_layer",
    "overrides_forward",
    "plain_overrides",
    "register_adapter",
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


def plain_overrides(conv: _ConvNd, where: str) -> Union[dict[str, Any], str]:
    """The settings that make a plain convolution with the parameters of ``conv`` compute what it does.

    Returns the adapter's settings, checked and normalised (``padding`` parsed, ``stride`` and
    ``dilation`` one int per axis), to apply over those of ``conv``: none for a convolution that
    computes the ``nn.ConvNd`` way, or a padding layer whose padding is its mode's. A string says
    why padmods cannot tell what ``conv`` computes. ``where`` names the layer in errors.

    Raises:
        ValueError: The adapter returned a setting it may not give.
    """
    if is_padding_layer(conv) or not overrides_forward(conv):
        return {}
    name = type(conv).__name__
    adapter = adapter_for(conv)
    if adapter is None:
        return (
            f"{name} overrides forward, so padmods cannot tell what it computes; teach convert with "
            "padmods.conversion.register_adapter"
        )
    settings = adapter(conv)
    if settings is None:
        return f"the adapter of {name} found no plain convolution that computes the same"
    unknown = set(settings) - ADAPTABLE_SETTINGS
    if unknown:
        raise ValueError(
            f"the adapter of {name} for {where} returned {sorted(unknown)}; an adapter gives only "
            f"{sorted(ADAPTABLE_SETTINGS)}"
        )
    dims = conv_dims(conv)
    return {
        key: _checks.parse_padding(value, dims) if key == "padding" else _checks.as_tuple(key, value, dims)
        for key, value in settings.items()
    }


def _tf_same(conv: _ConvNd) -> Mapping[str, Any]:
    """Timm's ``Conv2dSame`` pads TensorFlow's 'same' in ``forward`` (extra element after), as padmods' 'same'."""
    return {"padding": "same"}


for _name in ("timm.layers.conv2d_same.Conv2dSame", "timm.models.layers.conv2d_same.Conv2dSame"):
    register_adapter(_name, _tf_same)
del _name
