"""Swap every convolution of a model for a padding mode's layer, in one call."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Optional

from torch import nn
from torch.nn.modules.conv import _ConvNd

from padmods import registry

__all__ = ["convert"]

ConvFilter = Callable[[str, _ConvNd], bool]


def _replace_convs(
    root: nn.Module,
    make: Callable[[str, _ConvNd], _ConvNd],
    wanted: Callable[[str, nn.Module], bool],
) -> nn.Module:
    """Walk ``root`` and replace each module that ``wanted(name, module)`` picks; return the new root.

    A module shared by several parents is replaced once and stays shared.
    """
    done: dict[int, _ConvNd] = {}
    visited: set[int] = set()

    def swap(name: str, conv: _ConvNd) -> _ConvNd:
        if id(conv) not in done:
            done[id(conv)] = make(name, conv)
        return done[id(conv)]

    selected = wanted

    def visit(module: nn.Module, prefix: str) -> None:
        if id(module) in visited:
            return
        visited.add(id(module))
        # named_children() yields a module once per parent; every slot that holds it must change
        for child_name, child in list(module._modules.items()):
            if child is None:
                continue
            name = f"{prefix}.{child_name}" if prefix else child_name
            if selected(name, child):
                setattr(module, child_name, swap(name, child))  # type: ignore[arg-type]
            else:
                visit(child, name)

    if selected("", root):
        return swap("", root)  # type: ignore[arg-type]
    visit(root, "")
    return root


def convert(
    model: nn.Module,
    mode: str | tuple[str, ...] | type[_ConvNd],
    *,
    inplace: bool = False,
    filter: Optional[ConvFilter] = None,
    **kwargs: Any,
) -> nn.Module:
    """Replace every convolution in ``model`` with the layer of padding mode ``mode``.

    Works like :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm`: it walks the module tree
    (nested modules, ``Sequential``, ``ModuleList``, ``ModuleDict``), builds each replacement with
    ``from_conv(conv, share_parameters=True)`` and keeps padding amounts, device, dtype,
    ``requires_grad`` and train/eval state. Every :class:`torch.nn.Conv1d`, ``Conv2d`` and
    ``Conv3d`` gets the mode's layer of its own dimension (``ReflectPadConv1d`` for a ``Conv1d``);
    a mode without a layer for some convolution's dimension raises a ``ValueError`` naming it, so
    leave such convolutions out with ``filter``. A layer class as ``mode`` replaces only the
    convolutions of its own dimension. Subclasses of the convolutions are replaced too (so a
    converted model converts again, and converting twice to one mode equals converting once);
    transposed convolutions and other layers are left alone. A convolution shared by several
    parents is replaced once and stays shared. The replacement reuses the replaced layer's
    ``Parameter`` objects wherever the shapes agree, so with ``inplace=True`` an optimizer built on
    the model keeps working. ``'coord'`` widens the weight by the coordinate channels; their taps
    start at zero, so a converted model with the same border computes the same function until it is
    trained.

    Args:
        model: The model; it may itself be a convolution.
        mode: A registered mode name, a layer class, or a tuple of one padding mode per spatial axis
            (``('reflect', 'circular')``: reflect along the height, circular along the width), which
            converts the convolutions of that many axes.
        inplace: Modify ``model`` itself instead of a deep copy. Default: ``False``
        filter: ``filter(qualified_name, conv) -> bool`` picks which convolutions change; the root
            is named ``''``. Default: all of them.
        **kwargs: Extra arguments for ``from_conv`` (e.g. ``with_r=True`` for ``'coord'``).

    Returns:
        The converted model: ``model`` itself with ``inplace=True`` (unless it is a convolution),
        otherwise a converted copy.

    Examples:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        >>> converted = padmods.convert(model, "reflect")
        >>> [type(m).__name__ for m in converted]
        ['ReflectPadConv2d', 'ReLU', 'ReflectPadConv2d']
        >>> type(model[0]).__name__  # the original is untouched
        'Conv2d'
    """
    if isinstance(mode, type):
        class_dims = registry.conv_dims(mode)
        if not class_dims:
            raise TypeError(f"convert expects a mode name or a convolution layer class, got {mode!r}")
    else:
        class_dims = 0
        registry.dimensions(mode)  # an unknown name fails here, before any copy
    if not isinstance(model, nn.Module):
        raise TypeError(f"convert expects an nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy.deepcopy(model)

    def wanted(name: str, module: nn.Module) -> bool:
        dims = registry.conv_dims(module)
        if not dims or (class_dims and dims != class_dims):
            return False
        return filter is None or filter(name, module)  # type: ignore[arg-type]

    def make(name: str, conv: _ConvNd) -> _ConvNd:
        dims = registry.conv_dims(conv)
        try:
            cls = registry.get(mode, dims)
        except ValueError as error:
            where = "the model itself" if not name else repr(name)
            raise ValueError(
                f"cannot convert {where} ({type(conv).__name__}): {error}; pass filter= to leave it out"
            ) from None
        if not hasattr(cls, "from_conv"):
            raise TypeError(f"padding mode {mode!r} ({cls.__name__}) has no from_conv class method to convert with")
        extra = {"borders": tuple(mode)} if isinstance(mode, (tuple, list)) else {}
        new: _ConvNd = cls.from_conv(conv, share_parameters=True, **extra, **kwargs)
        return new

    return _replace_convs(model, make, wanted)
