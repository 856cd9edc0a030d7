"""The registry of padding modes: names to layer classes, extensible by plugins.

Built-in modes register through the same :func:`register` call that users and plugins use.
Third-party packages add modes through the ``padmods.modes`` entry-point group::

    [project.entry-points."padmods.modes"]
    symmetric = "my_package.layers:SymmetricPadConv2d"

Entry points are read once, lazily: on the first :func:`available` call, or on the first
:func:`get` of a name that is not registered yet. ``import padmods`` never imports a plugin, and a
plugin that fails to import only warns, naming itself and its error.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, TypeVar

from torch import nn

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginWarning",
    "available",
    "create",
    "get",
    "modes",
    "register",
    "unregister",
]

#: The entry-point group that plugin packages declare their modes in.
ENTRY_POINT_GROUP = "padmods.modes"

C = TypeVar("C", bound=type[nn.Conv2d])

_modes: dict[str, type[nn.Conv2d]] = {}
#: Read-only view of the registered modes (entry points not loaded until :func:`available`).
modes: Mapping[str, type[nn.Conv2d]] = types.MappingProxyType(_modes)
_entry_points_loaded = False


class PluginWarning(UserWarning):
    """A plugin's entry point in the ``padmods.modes`` group could not be loaded or registered."""


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValueError(f"a padding mode name must be a non-empty string without spaces around it, got {name!r}")
    return name


def register(name: str, *, override: bool = False) -> Callable[[C], C]:
    """Class decorator that registers a padding-aware ``nn.Conv2d`` subclass under ``name``.

    Registering the same class twice under one name does nothing; a different class needs
    ``override=True``.

    Args:
        name: The mode's name, as given to :func:`get`, :func:`create` and :func:`padmods.convert`.
        override: Replace a class already registered under ``name``.

    Returns:
        A decorator that registers the class and returns it unchanged.

    Raises:
        ValueError: ``name`` is taken by another class and ``override`` is false.
        TypeError: The decorated object is not a subclass of :class:`torch.nn.Conv2d`.

    Examples:
        >>> @padmods.register("my-zeros")
        ... class MyZeroPadConv2d(padmods.ZeroPadConv2d):
        ...     pass
        >>> padmods.get("my-zeros") is MyZeroPadConv2d
        True
        >>> padmods.registry.unregister("my-zeros")
    """
    _check_name(name)

    def decorator(cls: C) -> C:
        if not (isinstance(cls, type) and issubclass(cls, nn.Conv2d)):
            raise TypeError(f"padmods.register({name!r}) expects a subclass of torch.nn.Conv2d, got {cls!r}")
        existing = _modes.get(name)
        if existing is not None and existing is not cls and not override:
            raise ValueError(
                f"padding mode {name!r} is already registered to {existing.__module__}.{existing.__qualname__}; "
                "pass override=True to replace it"
            )
        _modes[name] = cls
        return cls

    return decorator


def unregister(name: str) -> None:
    """Remove the mode ``name`` from the registry.

    Raises:
        ValueError: No mode of that name is registered.
    """
    if name not in _modes:
        raise ValueError(f"padding mode {name!r} is not registered; available modes: {', '.join(available())}")
    del _modes[name]


def _load_entry_points() -> None:
    """Register every mode declared in the ``padmods.modes`` entry-point group, once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name in _modes:
            continue  # a mode registered in code wins over a plugin of the same name
        try:
            cls = point.load()
            register(point.name)(cls)
        except Exception as error:
            warnings.warn(
                f"padmods could not load the padding mode plugin {point.name!r} ({point.value}): "
                f"{type(error).__name__}: {error}",
                PluginWarning,
                stacklevel=3,
            )


def available() -> list[str]:
    """The sorted names of all padding modes, built-in and from plugins.

    Examples:
        >>> padmods.available()[:4]
        ['circular', 'coord', 'partial', 'reflect']
    """
    _load_entry_points()
    return sorted(_modes)


def get(name: str | type[nn.Conv2d]) -> type[nn.Conv2d]:
    """The layer class of the padding mode ``name``; a class is passed straight through.

    Raises:
        ValueError: No mode of that name exists; the message lists the available ones.

    Examples:
        >>> padmods.get("reflect")
        <class 'padmods.ReflectPadConv2d'>
    """
    if isinstance(name, type) and issubclass(name, nn.Conv2d):
        return name
    if not isinstance(name, str):
        raise TypeError(f"a padding mode is a name or an nn.Conv2d subclass, got {name!r}")
    if name not in _modes:
        _load_entry_points()
    try:
        return _modes[name]
    except KeyError:
        raise ValueError(f"unknown padding mode {name!r}; available modes: {', '.join(available())}") from None


def create(
    name: str | type[nn.Conv2d], in_channels: int, out_channels: int, kernel_size: Any, **kwargs: Any
) -> nn.Conv2d:
    """Build a layer of the padding mode ``name``.

    Args:
        name: A registered mode name (or a layer class).
        in_channels: Number of input channels.
        out_channels: Number of output channels.
        kernel_size: Size of the kernel.
        **kwargs: Any other constructor argument of the mode's class (``stride``, ``padding``, ...).

    Examples:
        >>> padmods.create("circular", 3, 8, 3, padding="same")
        CircularPadConv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=same)
    """
    return get(name)(in_channels, out_channels, kernel_size, **kwargs)
