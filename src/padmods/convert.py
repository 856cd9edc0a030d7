"""Swap every convolution of a model for a padding mode's layer, in one call."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Optional

from torch import nn

from padmods.registry import get

__all__ = ["convert"]

ConvFilter = Callable[[str, nn.Conv2d], bool]


def _replace_convs(root: nn.Module, make: Callable[[nn.Conv2d], nn.Conv2d], filter: Optional[ConvFilter]) -> nn.Module:
    """Walk ``root`` and replace each selected ``nn.Conv2d``; return the new root.

    A module shared by several parents is replaced once and stays shared.
    """
    done: dict[int, nn.Conv2d] = {}
    visited: set[int] = set()

    def swap(name: str, conv: nn.Conv2d) -> nn.Conv2d:
        if id(conv) not in done:
            done[id(conv)] = make(conv)
        return done[id(conv)]

    def selected(name: str, module: nn.Module) -> bool:
        return isinstance(module, nn.Conv2d) and (filter is None or filter(name, module))

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
    mode: str | type[nn.Conv2d],
    *,
    inplace: bool = False,
    filter: Optional[ConvFilter] = None,
    **kwargs: Any,
) -> nn.Module:
    """Replace every :class:`torch.nn.Conv2d` in ``model`` with the layer of padding mode ``mode``.

    Works like :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm`: it walks the module tree
    (nested modules, ``Sequential``, ``ModuleList``, ``ModuleDict``), builds each replacement with
    ``from_conv(conv, share_parameters=True)`` and keeps padding amounts, device, dtype,
    ``requires_grad`` and train/eval state.
    Subclasses of ``nn.Conv2d`` are replaced too (so a converted model converts again, and
    converting twice to one mode equals converting once); transposed convolutions and other layers
    are left alone. A convolution shared by several parents is replaced once and stays shared.
    The replacement reuses the replaced layer's ``Parameter`` objects wherever the shapes agree, so
    with ``inplace=True`` an optimizer built on the model keeps working. ``'coord'`` widens the
    weight by the coordinate channels; their taps start at zero, so a converted model with the same
    border computes the same function until it is trained.

    Args:
        model: The model; it may itself be an ``nn.Conv2d``.
        mode: A registered mode name or a layer class.
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
    cls = get(mode)
    if not hasattr(cls, "from_conv"):
        raise TypeError(f"padding mode {mode!r} ({cls.__name__}) has no from_conv class method to convert with")
    if not isinstance(model, nn.Module):
        raise TypeError(f"convert expects an nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy.deepcopy(model)

    def make(conv: nn.Conv2d) -> nn.Conv2d:
        new: nn.Conv2d = cls.from_conv(conv, share_parameters=True, **kwargs)
        return new

    return _replace_convs(model, make, filter)
