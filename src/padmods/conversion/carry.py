"""Carry what a convolution holds beyond its settings onto its replacement, and back again.

A convolution can hold more than ``weight``, ``bias`` and the settings of ``nn.Conv2d``: hooks,
weight parametrizations (``torch.nn.utils.parametrizations``), an old-style ``weight_norm`` or
``spectral_norm`` (a hook that computes ``weight`` from other parameters), extra parameters,
buffers, submodules and plain attributes. :func:`carry` moves all of them onto the replacement as
the very same objects, so the replacement computes with them exactly as the original did, and
records the original on the replacement, so that :func:`restore` can put it back.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils import parametrize

from padmods._conv_classes import TORCH_CONVS
from padmods.conversion.adapters import is_padding_layer

__all__ = ["CannotCarry", "Source", "carry", "copy_model", "restore", "source_of"]

#: Where a converted layer keeps its :class:`Source`: a plain attribute, so it is neither a
#: submodule, a parameter nor a buffer (never in ``state_dict``, never broadcast by DDP).
SOURCE_ATTRIBUTE = "_padmods_source"

_PARAMETER_NAMES = ("weight", "bias")


class CannotCarry(Exception):
    """The replacement cannot hold something of the original exactly; the message says what."""


@dataclass(frozen=True)
class Source:
    """The module a converted layer came from, and the plain attributes carried from it.

    Attributes:
        module: The original: the layer as it was before the first conversion.
        attributes: The plain attributes carried over from it.
        previous: The layer that this one replaced, when that was a converted layer itself.
    """

    module: nn.Module
    attributes: tuple[str, ...]
    previous: Optional[nn.Module] = None


def source_of(module: nn.Module) -> Optional[Source]:
    """The :class:`Source` of a converted layer, or ``None`` for a layer :func:`padmods.convert` did not make."""
    source = module.__dict__.get(SOURCE_ATTRIBUTE)
    return source if isinstance(source, Source) else None


@functools.cache
def _standard_attributes(dims: int) -> frozenset[str]:
    """The instance attributes every ``nn.Conv1d``/``2d``/``3d`` has."""
    return frozenset(TORCH_CONVS[dims](1, 1, 1).__dict__)


def _is_hook_store(name: str) -> bool:
    return "hook" in name


def _extra_attributes(conv: _ConvNd, dims: int) -> tuple[str, ...]:
    """Plain attributes of ``conv`` that a convolution of its kind does not have: those to carry.

    On a torch convolution (or a subclass), every instance attribute beyond those of ``nn.ConvNd``.
    On a padding layer, those set on it beyond what its mode keeps: not its settings (the
    ``_settings`` of padmods layers: ``borders``, ``with_r``, ...) and not private names, which
    belong to its class (CoordConv's cached ``_pad_layer``). A converted layer carries what it
    brought from its original, and anything set on it since.
    """
    source = source_of(conv)
    standard = _standard_attributes(dims)
    own = tuple(
        name
        for name in conv.__dict__
        if name not in standard
        and not _is_hook_store(name)
        and name not in _PARAMETER_NAMES
        and name != SOURCE_ATTRIBUTE
        and not (is_padding_layer(conv) and (name.startswith("_") or name in getattr(conv, "_settings", ())))
    )
    carried = source.attributes if source is not None else ()
    return tuple(dict.fromkeys((*carried, *own)))


def _computed_tensors(conv: nn.Module) -> tuple[str, ...]:
    """``weight``/``bias`` held as plain tensors, recomputed by a hook (old-style ``weight_norm``)."""
    return tuple(name for name in _PARAMETER_NAMES if name not in conv._parameters and name in conv.__dict__)


def _check_same_shape(conv: _ConvNd, new: _ConvNd, name: str, how: str) -> None:
    target = new._parameters[name]
    if target is None or getattr(conv, name).shape != target.shape:
        raise CannotCarry(f"its {name} is {how}, which {type(new).__name__}'s {name} of another shape cannot keep")


def carry(conv: _ConvNd, new: _ConvNd, dims: int) -> list[str]:
    """Move what ``conv`` holds beyond its settings onto ``new``; return what was carried, in words.

    Raises:
        CannotCarry: ``new`` cannot hold it exactly (a CoordConv's wider weight under a
            parametrization); nothing has been changed on ``new`` then.
    """
    parametrizations = conv._modules.get("parametrizations") if parametrize.is_parametrized(conv) else None
    parametrized = tuple(parametrizations._modules) if parametrizations is not None else ()
    computed = _computed_tensors(conv)
    for name in parametrized:
        _check_same_shape(conv, new, name, "parametrized")
    for name in computed:
        _check_same_shape(conv, new, name, "computed by a hook (old-style weight_norm or spectral_norm)")
    attributes = tuple(name for name in _extra_attributes(conv, dims) if name in conv.__dict__)
    owned = getattr(new, "_settings", ())  # what the replacement's mode keeps: its settings and private state
    clashes = [name for name in attributes if name in new.__dict__ and (name in owned or name.startswith("_"))]
    if clashes:
        raise CannotCarry(
            f"its attribute {', '.join(clashes)} would replace the setting {type(new).__name__} keeps under that name"
        )
    notes: list[str] = []

    hooks = [name for name, store in vars(conv).items() if _is_hook_store(name) and store]
    for name, store in vars(conv).items():
        if _is_hook_store(name):
            new.__dict__[name] = store  # the same dict: handles made on either module still remove
    if hooks:
        notes.append("hooks")

    for name, param in conv._parameters.items():
        if name not in new._parameters:
            new.register_parameter(name, param)
            notes.append(f"parameter {name}")
    for name, buffer in conv._buffers.items():
        if name not in new._buffers:
            new.register_buffer(name, buffer, persistent=name not in conv._non_persistent_buffers_set)
            notes.append(f"buffer {name}")
    for name, module in conv._modules.items():
        if name != "parametrizations" and name not in new._modules:
            new.add_module(name, module)
            notes.append(f"submodule {name}")

    for name in computed:
        del new._parameters[name]
        new.__dict__[name] = conv.__dict__[name]
        notes.append(f"computed {name}")
    if parametrized:
        for name in parametrized:
            del new._parameters[name]
        parametrize._inject_new_class(new)  # what register_parametrization does, with the same objects
        new._modules["parametrizations"] = parametrizations
        for name in parametrized:
            parametrize._inject_property(new, name)
        notes.append("parametrizations of " + ", ".join(parametrized))

    earlier = source_of(conv)
    for name in attributes:
        new.__dict__[name] = conv.__dict__[name]
    notes.extend(f"attribute {name}" for name in attributes if earlier is None or name not in earlier.attributes)

    source = Source(conv, attributes) if earlier is None else Source(earlier.module, attributes, conv)
    new.__dict__[SOURCE_ATTRIBUTE] = source
    return notes


def copy_model(model: nn.Module, caller: str) -> nn.Module:
    """A deep copy of ``model``, or an error that says what to do when torch cannot copy it."""
    try:
        return copy.deepcopy(model)
    except RuntimeError as error:
        raise RuntimeError(
            f"{caller} works on a deep copy of the model, and torch cannot copy this one ({error}). An "
            "old-style torch.nn.utils.weight_norm or spectral_norm keeps a computed weight after a forward "
            f"pass, which blocks deepcopy: pass inplace=True to {caller}, or use torch.nn.utils.parametrizations"
        ) from error


def restore(layer: nn.Module, *, one_step: bool = False) -> Optional[nn.Module]:
    """The module ``layer`` was converted from, brought up to date with ``layer``; ``None`` if none.

    The original gets the parameters, buffers and submodules that ``layer`` holds now under the same
    names, so training, ``load_state_dict`` and ``.to()`` applied to the converted model carry back.
    A parameter that changed shape on conversion (a CoordConv's wider weight) keeps its own object
    and takes the original's share of the values: the taps of the input channels. With
    ``one_step=True`` the target is the layer that ``layer`` replaced, converted or not.
    """
    source = source_of(layer)
    if source is None:
        return None
    original = source.previous if one_step and source.previous is not None else source.module
    for name, param in original._parameters.items():
        current = layer._parameters.get(name)
        if param is None or current is None or current is param:
            continue
        if current.shape == param.shape:
            original._parameters[name] = current
        elif current.shape[1] > param.shape[1]:  # a CoordConv's weight: keep the input channels' taps
            param.data = current.detach()[:, : param.shape[1]].clone()
            param.requires_grad_(current.requires_grad)
        else:  # back to a CoordConv from a plain layer, whose coordinate taps were zero
            taps = torch.zeros_like(param, device=current.device, dtype=current.dtype)
            taps[:, : current.shape[1]] = current.detach()
            param.data = taps
            param.requires_grad_(current.requires_grad)
    for name in original._buffers:
        if name in layer._buffers:
            original._buffers[name] = layer._buffers[name]
    for name in original._modules:
        if name in layer._modules:
            original._modules[name] = layer._modules[name]
    for name in (*source.attributes, *_computed_tensors(original)):
        if name in layer.__dict__:
            original.__dict__[name] = layer.__dict__[name]
    original.training = layer.training
    return original
