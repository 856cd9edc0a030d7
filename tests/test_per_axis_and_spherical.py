"""One padding mode per axis, and spherical padding, against references written from their definitions.

Per-axis padding is checked axis by axis against numpy's ``np.pad`` (``constant``, ``reflect``,
``edge``, ``wrap``, ``symmetric``); spherical padding against the geometry of an equirectangular
image: past a pole, row ``-1 - i`` is row ``i`` seen from the opposite meridian (shifted by half the
width), and the width wraps around.
"""

from __future__ import annotations

import copy
import itertools
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import padmods
import padmods.functional as pf
from padmods.conversion import ConversionWarning

from _reference import NUMPY_MODES, reference_pad, spherical_reference
from conftest import assert_same_function

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


# ---- per-axis padding --------------------------------------------------------------------------


def limit(mode: str, size: int) -> int:
    return {"reflect": size - 1, "circular": size}.get(mode, size + 1)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_pad_with_a_mode_per_axis_equals_np_pad_axis_by_axis(dims):
    sizes = (5, 4, 3)[:dims]
    rng = np.random.default_rng(dims)
    for modes in itertools.product(NUMPY_MODES, repeat=dims):
        pairs = tuple((int(rng.integers(0, limit(m, n) + 1)), limit(m, n)) for m, n in zip(modes, sizes, strict=True))
        x = torch.randn(2, 3, *sizes, dtype=torch.float64)
        expected = x.numpy()
        for axis, ((before, after), mode) in enumerate(zip(pairs, modes, strict=True), start=2):
            axis_widths = [(0, 0)] * x.dim()
            axis_widths[axis] = (before, after)
            expected = np.pad(expected, axis_widths, mode=NUMPY_MODES[mode])
        np.testing.assert_array_equal(pf.pad(x, pairs, modes).numpy(), expected)


@pytest.mark.parametrize("modes", [("zeros", "circular"), ("reflect", "symmetric"), ("circular", "replicate")])
@pytest.mark.parametrize("stride", [1, 2])
def test_per_axis_layer_equals_the_formula(modes, stride):
    torch.manual_seed(0)
    layer = padmods.create(modes, 2, 3, (3, 4), stride=stride, padding="same", dtype=torch.float64)
    assert type(layer) is padmods.PerAxisPadConv2d
    x = torch.randn(2, 2, 7, 6, dtype=torch.float64, requires_grad=True)
    pairs = pf.resolve_padding("same", (7, 6), (3, 4), stride)
    expected = F.conv2d(reference_pad(x, pairs, modes), layer.weight, layer.bias, stride)
    assert_same_function(layer(x), expected, [x, layer.weight, layer.bias], atol=1e-10)


def test_per_axis_3d_layer_and_function():
    modes = ("circular", "zeros", "symmetric")
    layer = padmods.create(modes, 1, 2, 3, padding=(1, 2, 1), dtype=torch.float64)
    assert type(layer) is padmods.PerAxisPadConv3d
    x = torch.randn(1, 1, 4, 5, 3, dtype=torch.float64, requires_grad=True)
    expected = F.conv3d(reference_pad(x, ((1, 1), (2, 2), (1, 1)), modes), layer.weight, layer.bias)
    assert_same_function(layer(x), expected, [x, layer.weight], atol=1e-10)
    function = pf.padded_conv(x, layer.weight, layer.bias, padding=(1, 2, 1), mode=modes)
    torch.testing.assert_close(function, expected)


def test_circular_along_the_width_commutes_with_roll_along_the_width():
    layer = padmods.create(("zeros", "circular"), 2, 3, 5, padding="same", dtype=torch.float64)
    x = torch.randn(2, 2, 8, 12, dtype=torch.float64)
    torch.testing.assert_close(layer(torch.roll(x, 5, -1)), torch.roll(layer(x), 5, -1), rtol=0, atol=1e-12)
    # and not along the height, where the border is zeros
    assert not torch.allclose(layer(torch.roll(x, 3, -2)), torch.roll(layer(x), 3, -2))


def test_convert_with_per_axis_modes():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 3, padding=1)).double()
    converted = padmods.convert(model, ("reflect", "circular"))
    assert [type(m).__name__ for m in converted] == ["PerAxisPadConv2d", "ReLU", "PerAxisPadConv2d"]
    assert converted[0].borders == ("reflect", "circular")
    assert converted[0].weight is not model[0].weight  # a converted copy: the model is untouched
    assert torch.equal(converted[0].weight, model[0].weight)
    x = torch.randn(1, 2, 6, 7, dtype=torch.float64)
    first = F.conv2d(reference_pad(x, ((1, 1), (1, 1)), ("reflect", "circular")), model[0].weight, model[0].bias)
    torch.testing.assert_close(converted[0](x), first)
    again = padmods.convert(converted, "zeros")
    torch.testing.assert_close(again(x), model(x))
    for clone in (copy.deepcopy(converted), pickle.loads(pickle.dumps(converted))):
        torch.testing.assert_close(clone(x), converted(x), rtol=0, atol=0)
    line = nn.Sequential(nn.Conv1d(1, 1, 3))  # a 2-axis tuple converts 2-D convolutions only
    with pytest.warns(ConversionWarning, match=r"converts 2-D convolutions only, and the model has none"):
        assert type(padmods.convert(line, ("reflect", "circular"))[0]) is nn.Conv1d
    with pytest.raises(ValueError, match=r"^convert\(strict=True\): \('reflect', 'circular'\) converts 2-D"):
        padmods.convert(line, ("reflect", "circular"), strict=True)
    mixed = nn.Sequential(line, nn.Unflatten(2, (1, -1)), nn.Conv2d(1, 1, 1))  # some convert: the rest stay quietly
    assert [type(m).__name__ for m in padmods.convert(mixed, ("reflect", "circular"), strict=True)][::2] == [
        "Sequential",
        "PerAxisPadConv2d",
    ]


@pytest.mark.parametrize(
    ("modes", "message"),
    [
        (("zeros", "partial"), r"per-axis modes are one of .* got \('zeros', 'partial'\)"),
        (("zeros",), r"for each of the 2 spatial axes \(height, width\)"),
        (("circular", "spherical"), "per-axis modes are one of"),
    ],
)
def test_bad_per_axis_modes_name_what_is_expected(modes, message):
    with pytest.raises(ValueError, match=message):
        padmods.create(modes, 1, 1, 3, dim=2)


def test_per_axis_padding_beyond_a_limit_names_the_axis():
    layer = padmods.create(("zeros", "reflect"), 1, 1, 7, padding=3)
    with pytest.raises(ValueError, match=r"reflect padding of \(3, 3\) along the width must be smaller than"):
        layer(torch.randn(1, 1, 8, 3))


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_coord_conv_with_a_border_per_axis_equals_concatenation(dims):
    modes = ("circular", "zeros", "symmetric")[3 - dims :]
    layer = padmods.create("coord", 2, 3, 3, dim=dims, padding=1, pad=modes, dtype=torch.float64)
    sizes = (5, 4, 6)[:dims]
    x = torch.randn(2, 2, *sizes, dtype=torch.float64, requires_grad=True)
    coords = pf.coord_channels(*sizes, dtype=torch.float64).expand(2, *([-1] * (dims + 1)))
    padded = reference_pad(torch.cat([x, coords], 1), ((1, 1),) * dims, modes)
    assert_same_function(layer(x), CONV[dims](padded, layer.weight, layer.bias), [x, layer.weight], atol=1e-10)


# ---- spherical padding -------------------------------------------------------------------------


@pytest.mark.parametrize("pairs", [((1, 1), (1, 1)), ((2, 0), (3, 1)), ((4, 4), (6, 6)), ((0, 3), (0, 0))])
def test_spherical_pad_follows_the_geometry(pairs):
    x = torch.randn(2, 3, 4, 6, dtype=torch.float64)
    torch.testing.assert_close(pf.pad(x, pairs, "spherical"), spherical_reference(x, pairs), rtol=0, atol=0)


@pytest.mark.parametrize("stride", [1, 2])
def test_spherical_layer_values_and_gradients(stride):
    torch.manual_seed(0)
    layer = padmods.create("spherical", 2, 3, 3, stride=stride, padding="same", dtype=torch.float64)
    x = torch.randn(2, 2, 6, 8, dtype=torch.float64, requires_grad=True)
    pairs = pf.resolve_padding("same", (6, 8), 3, stride)
    expected = F.conv2d(spherical_reference(x, pairs), layer.weight, layer.bias, stride)
    assert_same_function(layer(x), expected, [x, layer.weight, layer.bias], atol=1e-10)


def test_rotating_the_sphere_commutes_with_the_layer():
    """torch.roll along the width turns the sphere about its axis; a 'same' stride-1 layer commutes with it."""
    layer = padmods.SphericalPadConv2d(2, 3, 5, padding="same", dtype=torch.float64)
    x = torch.randn(2, 2, 6, 10, dtype=torch.float64)
    for shift in (1, 5, 7):
        torch.testing.assert_close(layer(torch.roll(x, shift, -1)), torch.roll(layer(x), shift, -1), rtol=0, atol=1e-12)


def test_the_pole_rows_see_the_opposite_meridian():
    """A bright column at longitude 0 shows up past the pole at longitude W/2, and nowhere else."""
    x = torch.zeros(1, 1, 4, 8)
    x[..., 0] = 1.0
    padded = pf.pad(x, ((1, 1), (0, 0)), "spherical")[0, 0]
    assert padded[0].nonzero().flatten().tolist() == [4]
    assert padded[-1].nonzero().flatten().tolist() == [4]


def test_spherical_needs_an_even_width_and_two_axes():
    layer = padmods.SphericalPadConv2d(1, 1, 3, padding=1)
    with pytest.raises(ValueError, match=r"needs an even width; input spatial size is \(4, 5\)"):
        layer(torch.randn(1, 1, 4, 5))
    # an odd width is fine while no row goes past a pole
    assert padmods.SphericalPadConv2d(1, 1, (1, 3), padding=(0, 1))(torch.randn(1, 1, 4, 5)).shape == (1, 1, 4, 5)
    with pytest.raises(ValueError, match="padding mode 'spherical' has no 3-D layer; it has 2-D"):
        padmods.create("spherical", 1, 1, 3, dim=3)
    with pytest.raises(ValueError, match="spherical padding is for 2-D"):
        pf.pad(torch.randn(1, 1, 4, 4, 4), ((1, 1),) * 3, "spherical")
    with pytest.raises(ValueError, match=r"spherical padding of \(5, 5\) along the height must be at most"):
        padmods.SphericalPadConv2d(1, 1, 11, padding=5)(torch.randn(1, 1, 4, 10))


def test_coord_conv_over_a_spherical_border_equals_concatenation():
    layer = padmods.CoordConv2d(2, 3, 3, padding=1, pad="spherical", dtype=torch.float64)
    x = torch.randn(2, 2, 4, 6, dtype=torch.float64, requires_grad=True)
    coords = pf.coord_channels(4, 6, dtype=torch.float64).expand(2, -1, -1, -1)
    padded = spherical_reference(torch.cat([x, coords], 1), ((1, 1), (1, 1)))
    assert_same_function(layer(x), F.conv2d(padded, layer.weight, layer.bias), [x, layer.weight], atol=1e-10)
