"""The registry of padding modes: names to layer classes, one per number of spatial axes, extensible by plugins.

A mode has one name across dimensions: ``'reflect'`` names :class:`~padmods.ReflectPadConv1d`,
:class:`~padmods.ReflectPadConv2d` and :class:`~padmods.ReflectPadConv3d`, and ``dim=`` picks one
(2 by default). Built-in modes register through the same :func:`register` call that users and
plugins use. Third-party packages add modes through the ``padmods.modes`` entry-point group; an
entry names one layer class, or a list or tuple of them (one per dimension the plugin offers)::

    [project.entry-points."padmods.modes"]
    symmetric = "my_package.layers:SymmetricPadConv2d"

Entry points are read once, lazily: on the first :func:`available` call, or on the first
:func:`get` of a name that is not registered yet. ``import padmods`` never imports a plugin, and a
plugin that fails to import only warns, naming itself and its error.
"""

from __future__ import annotations

import threading
import types
import warnings
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from torch import nn

from padmods._checks import check_axis_modes, integer
from padmods._conv import PAD_MODES
from padmods._conv_classes import TORCH_CONVS, conv_dims
from padmods._warnings import user_stacklevel

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginWarning",
    "available",
    "create",
    "dimensions",
    "get",
    "modes",
    "register",
    "unregister",
]

#: The entry-point group that plugin packages declare their modes in.
ENTRY_POINT_GROUP = "padmods.modes"

C = TypeVar("C", bound=type[nn.Module])

_modes: dict[str, Mapping[int, type[nn.Module]]] = {}
#: Read-only view of the registered modes: name to ``{dim: layer class}`` (entry points not loaded
#: until :func:`available`).
modes: Mapping[str, Mapping[int, type[nn.Module]]] = types.MappingProxyType(_modes)
#: The layer class that a tuple of per-axis modes names, one per number of spatial axes. The
#: per-axis layers enter themselves here (:func:`register_per_axis`), so the registry imports no layer.
_per_axis: dict[int, type[nn.Module]] = {}
_entry_points_loaded = False
#: Guards :data:`_modes` and the loading of entry points. Reentrant: a plugin's import may call
#: :func:`register` (or :func:`get`) while its own thread is loading the plugins.
_lock = threading.RLock()
_loading = False


class PluginWarning(UserWarning):
    """A plugin's entry point in the ``padmods.modes`` group could not be loaded or registered."""


def _check_name(name: object) -> str:
    """``name`` if it can name a mode everywhere: a non-empty string of printable characters.

    Whitespace and commas are refused: ``padmods --modes`` splits its list at commas, and the
    ``padmods modes`` table separates its columns with spaces.
    """
    if (
        not isinstance(name, str)
        or not name
        or not name.isprintable()
        or any(char.isspace() or char == "," for char in name)
    ):
        raise ValueError(
            "a padding mode name must be a non-empty string of printable characters without whitespace or "
            f"commas, got {name!r}"
        )
    return name


def _check_dim(dim: object) -> int:
    number = integer(dim)
    if number not in TORCH_CONVS:
        raise ValueError(f"dim must be 1, 2 or 3 (the number of spatial axes), got {dim!r}")
    return number


def _name_of(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register(name: str, *, override: bool = False) -> Callable[[C], C]:
    """Class decorator that registers a padding-aware convolution under ``name``.

    The class is a subclass of :class:`torch.nn.Conv1d`, :class:`~torch.nn.Conv2d` or
    :class:`~torch.nn.Conv3d`, and is registered for that number of spatial axes: one name holds
    up to three classes. Registering the same class twice does nothing; a different class for a
    dimension already taken needs ``override=True``.

    Args:
        name: The mode's name, as given to :func:`get`, :func:`create` and :func:`padmods.convert`.
        override: Replace a class already registered under ``name`` for the same dimension.

    Returns:
        A decorator that registers the class and returns it unchanged.

    Raises:
        ValueError: ``name`` is taken by another class of the same dimension and ``override`` is false.
        TypeError: The decorated object is not a subclass of ``nn.Conv1d``, ``nn.Conv2d`` or ``nn.Conv3d``.

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
        dims = conv_dims(cls)
        if not dims:
            raise TypeError(
                f"padmods.register({name!r}) expects a subclass of torch.nn.Conv1d, Conv2d or Conv3d, got {cls!r}"
            )
        with _lock:
            by_dim = dict(_modes.get(name, {}))
            existing = by_dim.get(dims)
            if existing is not None and existing is not cls and not override:
                raise ValueError(
                    f"padding mode {name!r} is already registered to {_name_of(existing)} for {dims}-D; "
                    "pass override=True to replace it"
                )
            by_dim[dims] = cls
            _modes[name] = types.MappingProxyType(by_dim)
        return cls

    return decorator


def register_per_axis(cls: C) -> C:
    """Class decorator for the layer that a tuple of per-axis modes names (``get(('zeros', 'circular'))``).

    One class per number of spatial axes; :mod:`padmods.layers.per_axis` registers its three.
    """
    dims = conv_dims(cls)
    if not dims:
        raise TypeError(f"register_per_axis expects a subclass of torch.nn.Conv1d, Conv2d or Conv3d, got {cls!r}")
    with _lock:
        _per_axis[dims] = cls
    return cls


def unregister(name: str) -> None:
    """Remove the mode ``name`` from the registry, in every dimension.

    A mode of a plugin counts as registered before its entry point is read: the plugins are loaded
    first, so ``unregister`` removes the plugin's mode as it removes any other, for good (entry
    points are read once).

    Raises:
        ValueError: No mode of that name is registered, built-in or from a plugin.
    """
    _load_entry_points()
    with _lock:
        if name not in _modes:
            raise ValueError(f"padding mode {name!r} is not registered; available modes: {', '.join(available())}")
        del _modes[name]


def _load_entry_points() -> None:
    """Register every mode declared in the ``padmods.modes`` entry-point group, once.

    Thread-safe: a thread that asks while another one is loading waits until every plugin is
    registered, so it never sees a half-filled registry. Within the loading thread (a plugin whose
    import looks up a mode) the call returns at once, with the modes registered so far.
    """
    global _entry_points_loaded, _loading
    if _entry_points_loaded:
        return
    with _lock:
        if _entry_points_loaded or _loading:
            return
        _loading = True
        try:
            for point in entry_points(group=ENTRY_POINT_GROUP):
                _load_entry_point(point)
        finally:
            _loading = False
            _entry_points_loaded = True


def _load_entry_point(point: EntryPoint) -> None:
    """Register the classes of one entry point, all of them or (warning why) none."""
    if point.name in _modes:
        return  # a mode registered in code wins over a plugin of the same name
    try:
        loaded = point.load()
        classes = list(loaded) if isinstance(loaded, (list, tuple)) else [loaded]
        if not classes:
            raise ValueError(
                f"it names an empty {type(loaded).__name__}; an entry names a layer class, or a list or tuple "
                "of them (one per dimension)"
            )
        for cls in classes:
            register(point.name)(cls)
    except (Exception, SystemExit) as error:  # a plugin that calls sys.exit() on import is a broken plugin
        _modes.pop(point.name, None)  # all of a plugin's dimensions, or none
        reason = f"its import called sys.exit({error.code!r})" if isinstance(error, SystemExit) else ""
        warnings.warn(
            f"padmods could not load the padding mode plugin {point.name!r} ({point.value}): "
            f"{type(error).__name__}: {reason or error}",
            PluginWarning,
            stacklevel=user_stacklevel(),
        )


def available(dim: int | None = None) -> list[str]:
    """The sorted names of all padding modes, built-in and from plugins.

    Args:
        dim: Only the modes that have a layer with this many spatial axes. Default: all modes.

    Examples:
        >>> padmods.available()[:4]
        ['circular', 'coord', 'partial', 'reflect']
    """
    _load_entry_points()
    if dim is not None:
        dim = _check_dim(dim)
    with _lock:  # no registration may change the dict while it is read
        return sorted(name for name, by_dim in _modes.items() if dim is None or dim in by_dim)


def dimensions(name: str | tuple[str, ...]) -> tuple[int, ...]:
    """The numbers of spatial axes that the mode ``name`` has layers for, e.g. ``(1, 2, 3)``.

    A tuple of per-axis modes has one dimension, its length.

    Raises:
        ValueError: No mode of that name exists.

    Examples:
        >>> padmods.registry.dimensions("reflect")
        (1, 2, 3)
        >>> padmods.registry.dimensions(("zeros", "circular"))
        (2,)
    """
    if isinstance(name, (tuple, list)):
        return (len(_per_axis_modes(name, len(name))),)
    return tuple(sorted(_lookup(name)))


def _per_axis_modes(name: tuple[str, ...] | list[str], dim: int) -> tuple[str, ...]:
    """Check a tuple of per-axis modes: one of the padding modes for each of ``dim`` axes."""
    return check_axis_modes(name, PAD_MODES, dim, "padmods.registry")


def _lookup(name: str) -> Mapping[int, type[nn.Module]]:
    if not isinstance(name, str):
        raise TypeError(f"a padding mode is a name or a convolution layer class, got {name!r}")
    if name not in _modes:
        _load_entry_points()
    try:
        return _modes[name]
    except KeyError:
        raise ValueError(f"unknown padding mode {name!r}; available modes: {', '.join(available())}") from None


def get(name: str | tuple[str, ...] | type[nn.Module], dim: int | None = None) -> type[nn.Module]:
    """The layer class of the padding mode ``name`` for ``dim`` spatial axes; a class is passed straight through.

    Args:
        name: A registered mode name, a layer class, or a tuple of one padding mode per spatial
            axis (``('zeros', 'circular')``: the per-axis layer, :class:`~padmods.PerAxisPadConv2d`).
        dim: Number of spatial axes: 1 (``nn.Conv1d``), 2 (``nn.Conv2d``) or 3 (``nn.Conv3d``).
            Default: the tuple's length for per-axis modes, else 2

    Raises:
        ValueError: No mode of that name exists (the message lists the available ones), or it has no
            layer for ``dim`` axes (the message lists the dimensions it has).

    Examples:
        >>> padmods.get("reflect")
        <class 'padmods.ReflectPadConv2d'>
        >>> padmods.get("partial", dim=3)
        <class 'padmods.PartialConv3d'>
    """
    if isinstance(name, type) and conv_dims(name):
        return name
    if isinstance(name, (tuple, list)):
        dim = _check_dim(len(name) if dim is None else dim)
        _per_axis_modes(name, dim)
        return _per_axis[dim]
    dim = _check_dim(2 if dim is None else dim)
    by_dim = _lookup(name)  # type: ignore[arg-type]
    if dim not in by_dim:
        has = ", ".join(f"{d}-D" for d in sorted(by_dim))
        raise ValueError(f"padding mode {name!r} has no {dim}-D layer; it has {has}")
    return by_dim[dim]


def create(
    name: str | tuple[str, ...] | type[nn.Module],
    in_channels: int,
    out_channels: int,
    kernel_size: Any,
    *,
    dim: int | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a layer of the padding mode ``name``.

    Args:
        name: A registered mode name, a layer class, or a tuple of one padding mode per spatial axis.
        in_channels: Number of input channels.
        out_channels: Number of output channels.
        kernel_size: Size of the kernel.
        dim: Number of spatial axes: 1, 2 or 3. Ignored when ``name`` is a class. Default: the tuple's
            length for per-axis modes, else 2
        **kwargs: Any other constructor argument of the mode's class (``stride``, ``padding``, ...).

    Examples:
        >>> padmods.create("circular", 3, 8, 3, padding="same")
        CircularPadConv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=same)
        >>> padmods.create("partial", 1, 4, 5, dim=1)
        PartialConv1d(1, 4, kernel_size=(5,), stride=(1,))
        >>> padmods.create(("zeros", "circular"), 3, 8, 3, padding=1).borders
        ('zeros', 'circular')
    """
    if isinstance(name, (tuple, list)):
        kwargs["borders"] = tuple(name)
    return get(name, dim)(in_channels, out_channels, kernel_size, **kwargs)
