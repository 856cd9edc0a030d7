"""A strided layer drops the trailing border that no output reads, and computes the same function.

``_conv.unread_trimmed`` is checked against the padded indices that the output windows read,
enumerated one by one; the layers against a border built whole by ``numpy.pad`` indices (and the
sphere written row by row) followed by a convolution without padding, forward and backward.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import padmods
from padmods import _conv

from _reference import reference_layer_conv
from conftest import assert_same_function

SIZES = {1: [(9,), (10,)], 2: [(9, 10), (8, 8)], 3: [(5, 6, 7)]}


def last_read(size: int, before: int, after: int, taps: int, step: int, spacing: int) -> int:
    """The largest padded index that any output window reads, by walking the windows."""
    padded, reach = size + before + after, (taps - 1) * spacing
    return max(start + reach for start in range(0, padded, step) if start + reach < padded)


@given(
    size=st.integers(1, 20),
    before=st.integers(0, 4),
    after=st.integers(0, 4),
    taps=st.integers(1, 5),
    step=st.integers(1, 4),
    spacing=st.integers(1, 3),
)
def test_unread_trimmed_keeps_exactly_what_the_windows_read(size, before, after, taps, step, spacing):
    padded = size + before + after
    assume((taps - 1) * spacing + 1 <= padded)  # a window fits: the layer refuses other inputs earlier
    ((new_before, new_after),) = _conv.unread_trimmed(((before, after),), (size,), (taps,), (step,), (spacing,))
    read = last_read(size, before, after, taps, step, spacing)
    assert new_before == before
    assert new_after == max(0, after - (padded - 1 - read))


def test_stride_one_trims_nothing():
    pairs = ((2, 2), (1, 3))
    assert _conv.unread_trimmed(pairs, (9, 10), (5, 3), (1, 1), (1, 2)) == pairs


def layer_and_reference(mode, dims, padding, stride):
    torch.manual_seed(0)
    modes = ("zeros", "circular", "reflect")[:dims] if mode == "per-axis" else (mode,) * dims
    layer = padmods.create(mode if mode != "per-axis" else modes, 3, 4, 3, dim=dims, stride=stride, padding=padding)
    layer = layer.double()

    border = "spherical" if mode == "spherical" else modes

    def reference(x):
        return reference_layer_conv(layer, x, [(padding, padding)] * dims, border)

    return layer, reference


def cases():
    for mode in ("reflect", "replicate", "circular", "symmetric", "per-axis", "spherical"):
        for dims in (1, 2, 3):
            if mode == "spherical" and dims != 2:
                continue
            for size in SIZES[dims]:
                for padding, stride in ((1, 2), (2, 2), (1, 3)):
                    yield pytest.param(
                        mode, dims, size, padding, stride, id=f"{mode}-{dims}d-{size}-p{padding}-s{stride}"
                    )


@pytest.mark.parametrize(("mode", "dims", "size", "padding", "stride"), list(cases()))
def test_strided_layer_equals_the_whole_border(mode, dims, size, padding, stride):
    """Values and every gradient against the untrimmed border, to float rounding."""
    layer, reference = layer_and_reference(mode, dims, padding, stride)
    x = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    assert_same_function(layer(x), reference(x), [x, layer.weight, layer.bias], atol=1e-10)


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "spherical", "per-axis"])
def test_the_convolution_gets_the_trimmed_input(mode, monkeypatch):
    """A 2-D layer with stride 2 on an even map hands the convolution one row and column less."""
    seen = []
    original = _conv.conv

    def spy(input, *args, **kwargs):
        seen.append(tuple(input.shape[2:]))
        return original(input, *args, **kwargs)

    monkeypatch.setattr(_conv, "conv", spy)
    layer, _ = layer_and_reference(mode, 2, 1, 2)
    layer(torch.randn(1, 3, 8, 10, dtype=torch.float64))
    if mode == "per-axis":  # zeros along the height are the convolution's own padding: only the width is copied
        assert seen == [(8, 11)]
    else:
        assert seen == [(9, 11)]  # 8x10 padded by 1 on each side is 10x12; no window reads the last row or column


def test_zero_border_keeps_the_convolutions_own_padding(monkeypatch):
    """Zeros are the convolution's own padding: nothing is trimmed or copied."""
    seen = []
    original = _conv.conv

    def spy(input, weight, bias, stride, padding, *args, **kwargs):
        seen.append((tuple(input.shape[2:]), tuple(padding)))
        return original(input, weight, bias, stride, padding, *args, **kwargs)

    monkeypatch.setattr(_conv, "conv", spy)
    layer = padmods.create("zeros", 3, 4, 3, dim=2, stride=2, padding=1)
    layer(torch.randn(1, 3, 8, 10))
    assert seen == [((8, 10), (1, 1))]
