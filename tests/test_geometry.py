"""Padding arithmetic: TensorFlow's 'same' rule and valid-tap counts on hand-worked cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from padmods import _geometry
from padmods.functional import resolve_padding

from _reference import same_pads


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "expected"),
    [
        (10, 3, 1, 1, (1, 1)),  # PyTorch's 'same'
        (10, 4, 1, 1, (1, 2)),  # even kernel: the odd pixel goes after
        (10, 3, 1, 2, (2, 2)),  # dilation 2 spans 5 pixels
        (8, 3, 2, 1, (0, 1)),  # out 4: (4-1)*2 + 3 - 8 = 1, all of it bottom/right
        (7, 3, 2, 1, (1, 1)),  # out 4: (4-1)*2 + 3 - 7 = 2
        (224, 7, 2, 1, (2, 3)),  # out 112: 111*2 + 7 - 224 = 5
        (5, 1, 3, 1, (0, 0)),  # out 2: 1*3 + 1 - 5 < 0, no padding
    ],
)
def test_same_padding_hand_worked(size, kernel, stride, dilation, expected):
    assert _geometry.same_axis_padding(size, kernel, stride, dilation) == expected


@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 7),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 3),
)
def test_same_padding_gives_ceil_output(size, kernel, stride, dilation):
    before, after = _geometry.same_axis_padding(size, kernel, stride, dilation)
    assert (before, after) == same_pads(size, kernel, stride, dilation)
    assert after - before in (0, 1)
    out = _geometry.conv_output_size(size, kernel, stride, dilation, before, after)
    assert out == math.ceil(size / stride)


def test_resolve_padding_accepts_every_spec():
    assert resolve_padding(2, (5, 5), 3) == ((2, 2), (2, 2))
    assert resolve_padding((1, 3), (5, 5), 3) == ((1, 1), (3, 3))
    assert resolve_padding("valid", (5, 5), 3) == ((0, 0), (0, 0))
    assert resolve_padding("same", (8, 7), (3, 5), stride=2) == ((0, 1), (2, 2))


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "pads", "expected"),
    [
        (4, 3, 1, 1, (1, 1), [2, 3, 3, 2]),
        (5, 3, 2, 1, (1, 1), [2, 3, 2]),  # outputs read [-1..1], [1..3], [3..5]
        (5, 3, 1, 2, (2, 2), [2, 2, 3, 2, 2]),  # taps at o-2, o, o+2
        (3, 3, 1, 1, (3, 3), [0, 1, 2, 3, 2, 1, 0]),  # windows wholly on padding count 0
        (6, 2, 2, 1, (0, 1), [2, 2, 2]),
    ],
)
def test_valid_tap_counts_hand_worked(size, kernel, stride, dilation, pads, expected):
    assert _geometry.valid_tap_counts(size, kernel, stride, dilation, *pads) == expected


@given(
    size=st.integers(1, 20),
    kernel=st.integers(1, 6),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 3),
    before=st.integers(0, 6),
    after=st.integers(0, 6),
)
def test_valid_tap_counts_match_enumeration(size, kernel, stride, dilation, before, after):
    assume(size + before + after >= dilation * (kernel - 1) + 1)  # at least one output
    expected = []
    for o in range((size + before + after - dilation * (kernel - 1) - 1) // stride + 1):
        positions = [o * stride - before + t * dilation for t in range(kernel)]
        expected.append(sum(0 <= p < size for p in positions))
    assert _geometry.valid_tap_counts(size, kernel, stride, dilation, before, after) == expected
