"""Run a model for the shapes alone: on the meta device, with the layers whose output size is a formula skipped.

:func:`padmods.analysis.suggest_sizes` asks, for a hundred sizes or more, which padding each
layer would read; only shapes matter, so it runs a *twin* of the model whose parameters and
buffers live on the ``meta`` device (no memory, no arithmetic). torch still works out every
operation's output shape there, in Python, which costs about as much as a small real forward
pass; so on the twin the layers whose output shape is a formula (convolutions, pooling, linear
layers) and those that keep the shape (normalisation, activations, dropout) return an empty
tensor of that shape at once. Everything else (the model's own ``forward`` code: additions,
concatenations, reshapes) runs as written, on meta tensors.

The user's model is never touched: the twin is a deep copy that shares no tensor with it, and
without its hooks (they would see meta tensors).
"""

from __future__ import annotations

import copy
import types
from typing import Any, Optional, cast

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd

from padmods import _checks, _geometry
from padmods._conv_classes import TORCH_CONVS, conv_dims
from padmods.conversion.adapters import is_padding_layer, plain_overrides

__all__ = ["meta_twin"]

#: Layers that give back a tensor of their input's shape: on the twin they return the input itself.
_KEEP_SHAPE = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.GroupNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
)

_POOLS = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3, nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3}
_ADAPTIVE_POOLS = {
    nn.AdaptiveAvgPool1d: 1,
    nn.AdaptiveAvgPool2d: 2,
    nn.AdaptiveAvgPool3d: 3,
    nn.AdaptiveMaxPool1d: 1,
    nn.AdaptiveMaxPool2d: 2,
    nn.AdaptiveMaxPool3d: 3,
}


def _meta_copy(tensor: Tensor) -> Tensor:
    meta = torch.empty_like(tensor, device="meta")
    return nn.Parameter(meta, requires_grad=tensor.requires_grad) if isinstance(tensor, nn.Parameter) else meta


def meta_twin(model: nn.Module) -> Optional[nn.Module]:
    """A copy of ``model`` on the meta device, without hooks, whose fixed-shape layers compute no values.

    Returns ``None`` when the model cannot be copied that way (a tensor that cannot live on the
    meta device, a module that refuses ``deepcopy``).
    """
    memo: dict[int, Any] = {}
    try:
        for module in model.modules():
            tensors = (*module._parameters.values(), *module._buffers.values(), *vars(module).values())
            for tensor in tensors:
                if isinstance(tensor, Tensor) and id(tensor) not in memo:
                    memo[id(tensor)] = _meta_copy(tensor)
        twin = copy.deepcopy(model, memo)
    except Exception:  # anything that cannot be copied onto meta: the caller runs the model itself
        return None
    for name, module in twin.named_modules():
        for hooks in (
            module._forward_hooks,
            module._forward_pre_hooks,
            module._backward_hooks,
            module._backward_pre_hooks,
        ):
            hooks.clear()
        shape_forward = _shape_forward(module, name)
        if shape_forward is not None:
            module.forward = types.MethodType(shape_forward, module)
    return twin.eval()


def _shape_forward(module: nn.Module, name: str) -> Any:
    """A ``forward`` that returns an empty tensor of the output's shape, or ``None`` to run the layer's own."""
    cls = type(module)
    if cls in _KEEP_SHAPE:
        return _same_shape
    if cls is nn.Linear:
        return _linear
    if cls in _POOLS and not getattr(module, "return_indices", False):
        return _pool
    if cls in _ADAPTIVE_POOLS and not getattr(module, "return_indices", False):
        return _adaptive_pool
    dims = conv_dims(module)
    if not dims:
        return None
    if not is_padding_layer(module) and getattr(module, "padding_mode", "zeros") != "zeros":
        return None  # torch's own reflect and circular check the size in their forward: keep it
    overrides = plain_overrides(cast(_ConvNd, module), repr(name))
    if isinstance(overrides, str):
        return None  # a forward of its own that no adapter describes (StdConv2d): run it on meta
    if cls.forward is not TORCH_CONVS[dims].forward and is_padding_layer(module):
        return None  # a padding layer with a forward of its own (PartialConv2d and its mask): run it
    return _conv(overrides)


def _same_shape(self: nn.Module, input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return input


def _linear(self: nn.Linear, input: Tensor) -> Tensor:
    if input.shape[-1] != self.in_features:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({input.shape[-1]} != {self.in_features})")
    return input.new_empty((*input.shape[:-1], self.out_features))


def _batched(input: Tensor, dims: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The axes before the spatial ones, and the spatial sizes; a tensor of another rank is an error."""
    if input.dim() not in (dims + 1, dims + 2):
        raise RuntimeError(f"expected a {dims + 1}-D or {dims + 2}-D input, got {input.dim()}-D")
    return tuple(input.shape[:-dims]), tuple(input.shape[-dims:])


def _output_sizes(sizes: tuple[int, ...], pairs: Any, kernel: Any, stride: Any, dilation: Any, ceil: bool) -> list[int]:
    outputs = []
    for size, (before, after), k, s, d in zip(sizes, pairs, kernel, stride, dilation, strict=True):
        span = size + before + after - d * (k - 1) - 1
        count = (-(-span // s) if ceil else span // s) + 1
        if ceil and (count - 1) * s >= size + before:
            count -= 1
        if span < 0 or count < 1:
            raise RuntimeError(f"input size {size} is too small for a window of {d * (k - 1) + 1} with padding")
        outputs.append(count)
    return outputs


def _conv(overrides: dict[str, Any]) -> Any:
    shapes: dict[tuple[int, ...], tuple[int, ...]] = {}  # input shape to output shape, worked out once

    def forward(self: nn.Module, input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        shape = tuple(input.shape)
        if shape not in shapes:
            shapes[shape] = _conv_output_shape(self, input, overrides)
        return input.new_empty(shapes[shape])

    return forward


def _conv_output_shape(conv: Any, input: Tensor, overrides: dict[str, Any]) -> tuple[int, ...]:
    """The output shape of ``conv`` for ``input``; an error where the layer itself would raise one."""
    dims = conv_dims(conv)
    leading, sizes = _batched(input, dims)
    if leading[-1] != conv.in_channels:
        raise RuntimeError(f"expected input with {conv.in_channels} channels, got {leading[-1]}")
    padding = overrides.get("padding", conv.padding)
    spec = padding if isinstance(padding, str) else _checks.parse_padding(tuple(padding), dims)
    stride = tuple(overrides.get("stride", conv.stride))
    dilation = tuple(overrides.get("dilation", conv.dilation))
    pairs = _geometry.resolve_padding(spec, sizes, tuple(conv.kernel_size), stride, dilation)
    check = getattr(conv, "check_padding", None)
    if check is not None:  # a padmods layer: reflect cannot pad more than the size, and so on
        check(pairs, sizes, conv)
    outputs = _output_sizes(sizes, pairs, conv.kernel_size, stride, dilation, ceil=False)
    return (*leading[:-1], conv.out_channels, *outputs)


def _pool(self: nn.Module, input: Tensor) -> Tensor:
    pool: Any = self
    dims = _POOLS[type(pool)]
    leading, sizes = _batched(input, dims)
    padding = _checks.as_tuple("padding", pool.padding, dims, minimum=0)
    kernel = _checks.as_tuple("kernel_size", pool.kernel_size, dims)
    stride = _checks.as_tuple("stride", pool.stride or pool.kernel_size, dims)
    dilation = _checks.as_tuple("dilation", getattr(pool, "dilation", 1), dims)
    pairs = tuple((p, p) for p in padding)
    outputs = _output_sizes(sizes, pairs, kernel, stride, dilation, ceil=bool(pool.ceil_mode))
    return input.new_empty((*leading, *outputs))


def _adaptive_pool(self: nn.Module, input: Tensor) -> Tensor:
    pool: Any = self
    dims = _ADAPTIVE_POOLS[type(pool)]
    leading, sizes = _batched(input, dims)
    wanted = pool.output_size if isinstance(pool.output_size, (tuple, list)) else (pool.output_size,) * dims
    return input.new_empty((*leading, *(size if out is None else out for size, out in zip(sizes, wanted, strict=True))))
