"""Every layer computes exactly what its function twin in :mod:`padmods.functional` computes.

kornia's habit: a module and its function are two doors to the same computation, so each layer is
checked against its twin with the layer's own parameters, in value and gradient, over settings that
exercise stride, dilation, groups, ``'same'``, asymmetric padding and unbatched input.
"""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F

import padmods
import padmods.functional as pf
from padmods.layers.coord import CoordConvNd

from conftest import assert_same_function

TORCH_MODES = ("zeros", "reflect", "replicate", "circular", "symmetric")

SETTINGS = [
    {"kernel_size": 3, "padding": 1},
    {"kernel_size": (3, 2), "stride": 2, "padding": "same", "dilation": (1, 2)},
    {"kernel_size": 4, "stride": (1, 3), "padding": (2, 1)},
    {"kernel_size": 3, "padding": "valid", "groups": 2},
]


def twin(layer, x):
    """The function call that ``layer(x)`` stands for, with the layer's parameters."""
    common = (layer.weight, layer.bias, layer.stride, layer.padding, layer.dilation)
    if isinstance(layer, CoordConvNd):
        return pf.coord_conv(x, *common, with_r=layer.with_r, pad=layer.pad_mode)
    if layer.border == "partial":
        return pf.partial_conv(x, *common, layer.groups)
    return pf.padded_conv(x, *common, layer.groups, mode=layer.border)


def make(mode, setting, **kwargs):
    torch.manual_seed(0)
    return padmods.create(mode, 4, 6, dtype=torch.float64, **setting, **kwargs)


#: every mode with every setting, except groups for CoordConv (groups=1 only)
CASES = [
    (mode, index)
    for mode in (*TORCH_MODES, "partial", "coord")
    for index, setting in enumerate(SETTINGS)
    if not (mode == "coord" and setting.get("groups", 1) != 1)
]


@pytest.mark.parametrize(("mode", "index"), CASES)
def test_layer_equals_its_function(mode, index):
    setting = SETTINGS[index]
    layer = make(mode, setting)
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64, requires_grad=True)
    assert_same_function(layer(x), twin(layer, x), [x, layer.weight, layer.bias], atol=1e-12)
    unbatched = x[1].detach().requires_grad_()
    assert_same_function(layer(unbatched), twin(layer, unbatched), [unbatched, layer.weight], atol=1e-12)


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", [*TORCH_MODES, "partial", "coord"])
def test_1d_and_3d_layers_equal_their_functions(mode, dims):
    torch.manual_seed(0)
    layer = padmods.create(mode, 2, 3, 3, dim=dims, stride=2, padding="same", dtype=torch.float64)
    x = torch.randn(2, 2, *(7, 6, 5)[:dims], dtype=torch.float64, requires_grad=True)
    assert_same_function(layer(x), twin(layer, x), [x, layer.weight, layer.bias], atol=1e-12)


@pytest.mark.parametrize("pad", [*TORCH_MODES, "partial"])
@pytest.mark.parametrize("with_r", [False, True])
def test_coord_layer_equals_its_function_for_every_border(pad, with_r):
    layer = make("coord", SETTINGS[1], with_r=with_r, pad=pad)
    x = torch.randn(3, 4, 7, 10, dtype=torch.float64, requires_grad=True)
    assert_same_function(layer(x), twin(layer, x), [x, layer.weight, layer.bias], atol=1e-12)


# ---- a CoordConv computes what it was built to compute, whatever the registry does later ---------


def test_coord_layer_keeps_its_border_when_the_registry_changes(clean_registry):
    layer = padmods.CoordConv2d(2, 3, 3, padding=1, pad="reflect", dtype=torch.float64)
    x = torch.randn(2, 2, 6, 5, dtype=torch.float64)
    before = layer(x)

    @padmods.register("reflect", override=True)
    class ZerosCalledReflect(padmods.ZeroPadConv2d):
        pass

    torch.testing.assert_close(layer(x), before, rtol=0, atol=0)
    clean_registry.unregister("reflect")
    torch.testing.assert_close(layer(x), before, rtol=0, atol=0)
    reference = F.conv2d(
        F.pad(
            torch.cat([x, pf.coord_channels(6, 5, dtype=torch.float64).expand(2, -1, -1, -1)], 1), (1,) * 4, "reflect"
        ),
        layer.weight,
        layer.bias,
    )
    torch.testing.assert_close(before, reference)


def test_unpickled_coord_layer_looks_its_border_up_again(clean_registry):
    """The pickle holds the mode's name, not its class: a new process finds the class registered then."""

    @padmods.register("ones-border")
    class OnesPadConv2d(padmods.PaddedConv2d):
        @classmethod
        def pad(cls, input, pairs):
            (top, bottom), (left, right) = pairs
            return F.pad(input, (left, right, top, bottom), value=1.0)

    layer = padmods.CoordConv2d(2, 3, 3, padding=1, pad="ones-border", dtype=torch.float64)
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    data = pickle.dumps(layer)
    assert b"OnesPadConv2d" not in data

    @padmods.register("ones-border", override=True)
    class TwosPadConv2d(padmods.PaddedConv2d):
        @classmethod
        def pad(cls, input, pairs):
            (top, bottom), (left, right) = pairs
            return F.pad(input, (left, right, top, bottom), value=2.0)

    restored = pickle.loads(data)
    coords = pf.coord_channels(5, 5, dtype=torch.float64).unsqueeze(0)
    padded = F.pad(torch.cat([x, coords], 1), (1, 1, 1, 1), value=2.0)
    torch.testing.assert_close(restored(x), F.conv2d(padded, layer.weight, layer.bias))
    assert not torch.allclose(layer(x), restored(x))  # the layer built before keeps its ones border


def test_subclass_that_changes_the_border_does_not_inherit_it():
    class Doubled(padmods.ReflectPadConv2d):
        @classmethod
        def pad(cls, input, pairs):
            return 2 * super().pad(input, pairs)

    class Renamed(padmods.ReflectPadConv2d):
        pass

    x = torch.randn(1, 1, 5, 5, dtype=torch.float64)
    for cls, factor in ((Doubled, 2), (Renamed, 1)):
        layer = cls(1, 1, 3, padding=1, bias=False, dtype=torch.float64)
        expected = F.conv2d(factor * F.pad(x, (1, 1, 1, 1), mode="reflect"), layer.weight)
        torch.testing.assert_close(layer(x), expected)


def test_coord_pads_with_a_subclass_that_changes_the_border(clean_registry):
    @padmods.register("doubled-reflect")
    class Doubled(padmods.ReflectPadConv2d):
        @classmethod
        def pad(cls, input, pairs):
            return 2 * super().pad(input, pairs)

    layer = padmods.CoordConv2d(1, 2, 3, padding=1, pad="doubled-reflect", dtype=torch.float64)
    x = torch.randn(2, 1, 5, 6, dtype=torch.float64)
    coords = pf.coord_channels(5, 6, dtype=torch.float64).expand(2, -1, -1, -1)
    padded = 2 * F.pad(torch.cat([x, coords], 1), (1, 1, 1, 1), mode="reflect")
    torch.testing.assert_close(layer(x), F.conv2d(padded, layer.weight, layer.bias))
