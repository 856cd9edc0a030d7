"""Reflect, replicate and circular padding built one axis at a time, against torch's F.pad.

``padmods._border_pad.border_pad`` copies border strips one axis at a time and folds their
gradients back in one buffer per call. CPU circular layers use it on large inputs, where it is
several times faster than torch's kernel; it must equal ``F.pad`` in value, gradient and second
derivative for every mode and number of padded axes.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import padmods
from padmods._border_pad import BORDER_COPY_MODES, border_pad

from conftest import assert_same_function


@st.composite
def padded_shapes(draw):
    """A mode, a tensor shape with 1-3 padded axes and pads within torch's limits for the mode."""
    mode = draw(st.sampled_from(BORDER_COPY_MODES))
    axes = draw(st.integers(1, 3))
    sizes = [draw(st.integers(2 if mode == "reflect" else 1, 6)) for _ in range(axes)]
    pairs = []
    for n in sizes:
        limit = {"reflect": n - 1, "circular": n, "replicate": 4}[mode]
        pairs.append((draw(st.integers(0, limit)), draw(st.integers(0, limit))))
    return mode, [draw(st.integers(1, 2)), draw(st.integers(1, 3)), *sizes], pairs


def torch_pad(x, pairs, mode):
    """F.pad's argument lists the last axis first."""
    flat = [p for pair in reversed(pairs) for p in pair]
    return F.pad(x, flat, mode=mode)


@given(case=padded_shapes())
def test_values_and_gradients_equal_f_pad(case):
    mode, shape, pairs = case
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    out, expected = border_pad(x, pairs, mode), torch_pad(x, pairs, mode)
    assert torch.equal(out, expected)
    probe = torch.randn_like(expected)
    (grad,) = torch.autograd.grad(out, x, probe)
    (expected_grad,) = torch.autograd.grad(expected, x, probe)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        assert torch.equal(border_pad(x, pairs, mode), expected)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("circular", [2.0, 3.0, 0.0, 1.0, 2.0, 3.0, 0.0]),
        ("reflect", [2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0]),
        ("replicate", [0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 3.0]),
    ],
)
def test_hand_worked_row(mode, expected):
    """[0, 1, 2, 3] padded by 2 before and 1 after, worked out by hand."""
    x = torch.arange(4.0).view(1, 1, 4).requires_grad_()
    out = border_pad(x, [(2, 1)], mode)
    assert out.flatten().tolist() == expected
    (grad,) = torch.autograd.grad(out.sum(), x)
    # each input element's gradient counts how often it appears in the padded row
    assert grad.flatten().tolist() == [float(expected.count(v)) for v in (0.0, 1.0, 2.0, 3.0)]


@pytest.mark.parametrize("mode", BORDER_COPY_MODES)
def test_second_derivatives(mode):
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    pairs = ((2, 1), (3, 2))
    assert torch.autograd.gradcheck(lambda t: border_pad(t, pairs, mode), (x,))
    assert torch.autograd.gradgradcheck(lambda t: border_pad(t, pairs, mode), (x,))


@pytest.mark.parametrize("shape", [(1, 4, 8, 8), (2, 4, 64, 65), (1, 2, 128, 3)])
def test_circular_layer_equals_f_pad_at_every_size(shape):
    """Small and large CPU inputs alike (the layer picks its padding by size): values and gradients of the formula."""
    layer = padmods.CircularPadConv2d(shape[1], 5, 3, padding=(2, 1), dtype=torch.float64)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    expected = F.conv2d(torch_pad(x, ((2, 2), (1, 1)), "circular"), layer.weight, layer.bias)
    assert_same_function(layer(x), expected, [x, layer.weight, layer.bias], atol=1e-10)
