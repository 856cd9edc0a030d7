"""The border's backward folding into the convolution's own input gradient, in place.

When a layer pads explicitly in a plain eager call, the padded tensor goes to its convolution and
nowhere else, so the gradient that the convolution hands back is a fresh tensor nobody else holds:
``_border_pad._BorderPad`` folds the border into it in place (``owned``) instead of into a copy.
These tests check that the layers give the right gradients on that path (against ``numpy.pad``
indices and an unpadded convolution, in float64), that it is taken, and that it is never taken
where someone else may hold the gradient: the public ``padmods.functional.pad``, whose output a
user may keep or hook, and a backward that records its own graph (second derivatives).
"""

from __future__ import annotations

import pytest
import torch

import padmods
from padmods import _border_pad
from padmods.functional import pad

from _reference import reference_layer_conv, reference_pad
from conftest import assert_same_function

#: Large enough for the one-pass backward of every copying border (256k elements and more).
SHAPES = {1: (2, 8, 16384 + 3), 2: (1, 16, 130, 127), 3: (1, 4, 40, 41, 42)}

LAYER_MODES = {
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
    "symmetric": "symmetric",
    "per-axis": None,  # zeros on the first axis, circular on the others (two axes or more)
}


def _modes(name: str, dims: int) -> tuple[str, ...]:
    return ("zeros", *("circular",) * (dims - 1)) if name == "per-axis" else (LAYER_MODES[name],) * dims


def _reference_conv(layer, x, border):
    return reference_layer_conv(layer, x, [(p, p) for p in layer.padding], border)


@pytest.fixture
def fold_calls(monkeypatch):
    """Every call of ``_border_pad._fold``, as its ``in_place`` flag."""
    calls = []
    original = _border_pad._fold

    def spy(grad, pairs, modes, *, in_place=False):
        calls.append(in_place)
        return original(grad, pairs, modes, in_place=in_place)

    monkeypatch.setattr(_border_pad, "_fold", spy)
    return calls


CASES = [(dims, name) for dims in (1, 2, 3) for name in LAYER_MODES if not (name == "per-axis" and dims == 1)]


@pytest.mark.parametrize(("dims", "name"), CASES)
@pytest.mark.parametrize("stride", [1, 2])
def test_layer_gradients_with_the_fold_in_place(fold_calls, dims, name, stride):
    modes = _modes(name, dims)
    mode = modes if name == "per-axis" else modes[0]
    torch.manual_seed(dims)
    layer = padmods.create(mode, SHAPES[dims][1], 3, 3, dim=dims, padding=1, stride=stride).double()
    x = torch.randn(*SHAPES[dims], dtype=torch.float64, requires_grad=True)
    assert_same_function(layer(x), _reference_conv(layer, x, modes), [x, layer.weight, layer.bias], atol=1e-9)
    assert fold_calls == [True]  # the layer's own backward, folded into the convolution's gradient


def test_spherical_layer_gradients_with_the_fold_in_place(fold_calls):
    torch.manual_seed(7)
    layer = padmods.create("spherical", 16, 3, 3, padding=1).double()
    x = torch.randn(1, 16, 128, 128, dtype=torch.float64, requires_grad=True)
    expected = _reference_conv(layer, x, "spherical")
    assert_same_function(layer(x), expected, [x, layer.weight, layer.bias], atol=1e-9)
    assert fold_calls == [True]


@pytest.mark.parametrize("mode", ["reflect", "circular", "symmetric"])
def test_second_derivatives_fold_into_a_copy(fold_calls, mode):
    """With ``create_graph`` the backward is itself recorded: the fold works on a copy, and the
    second derivative equals the reference's."""
    torch.manual_seed(8)
    layer = padmods.create(mode, 16, 2, 3, padding=1).double()
    x = torch.randn(1, 16, 130, 127, dtype=torch.float64, requires_grad=True)
    results = []
    for out in (layer(x), _reference_conv(layer, x, (mode, mode))):
        (grad,) = torch.autograd.grad((out**2).sum(), x, create_graph=True)
        results.append(torch.autograd.grad((grad * grad.detach().sign()).sum(), [x, layer.weight]))
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
    assert fold_calls[0] is False  # the recorded first backward; the second may fold its own fresh gradient


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "symmetric"])
def test_public_pad_never_folds_into_a_gradient_someone_holds(fold_calls, mode):
    """``functional.pad``'s output is the user's: ``retain_grad`` and hooks see the gradient that
    arrived, untouched, and the input's gradient is still right."""
    torch.manual_seed(9)
    x = torch.randn(1, 16, 130, 127, dtype=torch.float64, requires_grad=True)
    y = pad(x, ((1, 1), (1, 1)), mode)
    y.retain_grad()
    hooked = []
    y.register_hook(lambda grad: hooked.append(grad.clone()))
    weight = torch.randn_like(y)
    (y * weight).sum().backward()
    torch.testing.assert_close(y.grad, weight, rtol=0, atol=0)
    torch.testing.assert_close(hooked[0], weight, rtol=0, atol=0)
    (expected,) = torch.autograd.grad((reference_pad(x, [(1, 1), (1, 1)], (mode, mode)) * weight).sum(), x)
    torch.testing.assert_close(x.grad, expected, rtol=1e-12, atol=1e-12)
    assert fold_calls == [False]


def test_only_a_dense_fresh_gradient_of_a_first_order_backward_is_overwritten():
    with torch.no_grad():  # as in a backward that records no graph
        assert _border_pad._owns(torch.randn(2, 4, 10, 10))
        assert _border_pad._owns(torch.randn(2, 4, 10, 10).contiguous(memory_format=torch.channels_last))
        assert not _border_pad._owns(torch.randn(2, 4, 10, 10).transpose(-1, -2))
        assert not _border_pad._owns(torch.randn(4, 10, 10)[1:])  # a view, though contiguous
        assert not _border_pad._owns(torch.randn(1, 10).expand(3, 10))
    assert not _border_pad._owns(torch.randn(2, 4, 10, 10))  # grad mode: a backward with create_graph


@pytest.mark.parametrize("mode", ["reflect", "circular", "symmetric"])
def test_channels_last_gradients_with_the_fold_in_place(fold_calls, mode):
    """A channels-last input: the convolution's gradient is channels-last, folded in place all the same."""
    torch.manual_seed(10)
    layer = padmods.create(mode, 16, 3, 3, padding=1).double().to(memory_format=torch.channels_last)
    x = torch.randn(1, 16, 130, 127, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    out = layer(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert_same_function(out, _reference_conv(layer, x, (mode, mode)), [x, layer.weight, layer.bias], atol=1e-9)
    assert fold_calls == [True]
