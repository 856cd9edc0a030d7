"""Per-axis borders leave their zero axes to the convolution's own padding.

An axis padded with zeros by the same amount on both sides is handed to the convolution as its
``padding`` there, and only the other axes are padded explicitly (``_conv.zero_axes_apart``).
These tests check the layers against ``numpy.pad`` indices and an unpadded convolution (float64,
values and gradients), in eager calls and in a ``torch.jit.trace``, and that the convolution is
given the zero axes (a spy on ``_conv.conv``), where it may take them and nowhere else.
"""

from __future__ import annotations

import itertools

import pytest
import torch

import padmods
from padmods import _conv

from _reference import coord_grid, reference_layer_conv, same_pads
from conftest import assert_same_function

OTHERS = ("reflect", "replicate", "circular", "symmetric")


def _per_axis_modes(dims: int) -> list[tuple[str, ...]]:
    """Every way of mixing zeros with one other mode on ``dims`` axes, zeros on at least one."""
    found = []
    for other in OTHERS:
        for pattern in itertools.product((True, False), repeat=dims):
            if any(pattern) and not all(pattern):
                found.append(tuple("zeros" if zero else other for zero in pattern))
    return found


CASES = [(dims, modes) for dims in (2, 3) for modes in _per_axis_modes(dims)]


@pytest.fixture
def conv_paddings(monkeypatch):
    """The ``padding`` argument of every convolution the engine runs."""
    seen = []
    original = _conv.conv

    def spy(input, weight, bias, stride, padding, dilation, groups, *, eager=False):
        seen.append(tuple(padding))
        return original(input, weight, bias, stride, padding, dilation, groups, eager=eager)

    monkeypatch.setattr(_conv, "conv", spy)
    return seen


@pytest.mark.parametrize(("dims", "modes"), CASES)
@pytest.mark.parametrize("stride", [1, 2])
def test_symmetric_zero_axes_go_to_the_convolution(conv_paddings, dims, modes, stride):
    torch.manual_seed(len(modes) + stride)
    kernel = (3, 5, 3)[:dims]
    padding = (1, 2, 1)[:dims]
    layer = padmods.create(modes, 3, 4, kernel, dim=dims, padding=padding, stride=stride).double()
    x = torch.randn(2, 3, *(9, 8, 7)[:dims], dtype=torch.float64, requires_grad=True)
    expected = reference_layer_conv(layer, x, [(p, p) for p in padding], modes)
    assert_same_function(layer(x), expected, [x, layer.weight, layer.bias], atol=1e-10)
    assert conv_paddings == [tuple(p if m == "zeros" else 0 for p, m in zip(padding, modes, strict=True))]


@pytest.mark.parametrize(("dims", "modes"), CASES)
def test_asymmetric_zero_axes_stay_explicit(conv_paddings, dims, modes):
    """``'same'`` with an even kernel pads one more after than before: the convolution cannot take it."""
    torch.manual_seed(len(modes))
    sizes = (9, 8, 7)[:dims]
    layer = padmods.create(modes, 3, 4, 4, dim=dims, padding="same").double()
    x = torch.randn(2, 3, *sizes, dtype=torch.float64, requires_grad=True)
    pairs = [same_pads(size, 4, 1, 1) for size in sizes]
    assert_same_function(layer(x), reference_layer_conv(layer, x, pairs, modes), [x, layer.weight], atol=1e-10)
    assert conv_paddings == [(0,) * dims]


def test_a_large_input_takes_the_one_pass_border_on_the_other_axes(conv_paddings):
    """256k elements and more under autograd: the remaining circular axis takes the one-pass backward."""
    torch.manual_seed(5)
    layer = padmods.create(("zeros", "circular"), 16, 3, 3, padding=1).double()
    x = torch.randn(1, 16, 130, 127, dtype=torch.float64, requires_grad=True)
    expected = reference_layer_conv(layer, x, [(1, 1), (1, 1)], ("zeros", "circular"))
    assert_same_function(layer(x), expected, [x, layer.weight, layer.bias], atol=1e-9)
    assert conv_paddings == [(1, 0)]


@pytest.mark.filterwarnings("ignore:`torch.jit.trace.*` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("modes", [("zeros", "reflect"), ("circular", "zeros", "zeros")])
def test_a_traced_layer_takes_the_same_split(conv_paddings, modes):
    """``torch.jit.trace`` records the split with the example's int padding; another input of the
    same size gives the reference's values."""
    dims = len(modes)
    torch.manual_seed(dims)
    layer = padmods.create(modes, 2, 3, 3, dim=dims, padding=1).double()
    sizes = (6, 7, 5)[:dims]
    with torch.no_grad():
        traced = torch.jit.trace(layer, torch.randn(1, 2, *sizes, dtype=torch.float64))
        x = torch.randn(2, 2, *sizes, dtype=torch.float64)
        expected = reference_layer_conv(layer, x, [(1, 1)] * dims, modes)
        torch.testing.assert_close(traced(x), expected, rtol=1e-10, atol=1e-10)
    assert conv_paddings[0] == tuple(1 if m == "zeros" else 0 for m in modes)


def test_a_coordconv_over_a_per_axis_border_takes_the_split(conv_paddings):
    torch.manual_seed(11)
    layer = padmods.create("coord", 2, 3, 3, padding=1, pad=("zeros", "circular")).double()
    with torch.no_grad():
        layer.weight[:, 2:].normal_()  # coordinate taps that count
    x = torch.randn(2, 2, 6, 8, dtype=torch.float64, requires_grad=True)
    coords = coord_grid(6, 8, with_r=False).expand(2, 2, 6, 8)
    stacked = torch.cat([x, coords], dim=1)
    expected = reference_layer_conv(layer, stacked, [(1, 1), (1, 1)], ("zeros", "circular"))
    assert_same_function(layer(x), expected, [x, layer.weight, layer.bias], atol=1e-10)
    assert (1, 0) in conv_paddings


@pytest.mark.parametrize(
    ("pairs", "modes", "expected"),
    [
        # zeros on a symmetric axis goes to the convolution; the rest keeps its one mode
        (((1, 1), (2, 2)), ("zeros", "circular"), (((0, 0), (2, 2)), "circular", (1, 0))),
        (((1, 1), (2, 2), (1, 1)), ("reflect", "zeros", "zeros"), (((1, 1), (0, 0), (0, 0)), "reflect", (0, 2, 1))),
        # two other modes stay per axis
        (((1, 1), (1, 1), (1, 1)), ("zeros", "reflect", "circular"), (((0, 0), (1, 1), (1, 1)), None, (1, 0, 0))),
        # nothing left to pad explicitly: an unpadded other axis
        (((1, 1), (0, 0)), ("zeros", "reflect"), (((0, 0), (0, 0)), "zeros", (1, 0))),
        # an asymmetric zero axis stays explicit, beside a symmetric one
        (((1, 2), (1, 1), (1, 1)), ("zeros", "zeros", "reflect"), (((1, 2), (0, 0), (1, 1)), None, (0, 1, 0))),
    ],
)
def test_zero_axes_apart_by_hand(pairs, modes, expected):
    rest, rest_mode, to_conv = expected
    assert _conv.zero_axes_apart(pairs, modes) == (rest, modes if rest_mode is None else rest_mode, to_conv)


@pytest.mark.parametrize(
    ("pairs", "modes"),
    [
        (((1, 2), (1, 1)), ("zeros", "circular")),  # asymmetric zero axis
        (((0, 0), (1, 1)), ("zeros", "circular")),  # an unpadded zero axis: nothing to hand over
        (((1, 1), (1, 1)), ("reflect", "circular")),  # no zero axis
    ],
)
def test_zero_axes_apart_leaves_the_rest_alone(pairs, modes):
    assert _conv.zero_axes_apart(pairs, modes) == (pairs, modes, None)
