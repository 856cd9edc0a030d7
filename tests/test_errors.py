"""Bad input gets a clear error that names what was expected and what was given."""

from __future__ import annotations

import pytest
import torch

import padmods

ALL_CLASSES = [padmods.get(name) for name in ("zeros", "reflect", "replicate", "circular", "partial", "coord")]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_channels": 0}, "in_channels must be a positive int, got 0"),
        ({"out_channels": -2}, "out_channels must be a positive int, got -2"),
        ({"kernel_size": 0}, "kernel_size must be a positive int or a pair of positive ints, got 0"),
        ({"kernel_size": (3, -1)}, r"kernel_size must be .*got \(3, -1\)"),
        ({"stride": 0}, "stride must be a positive"),
        ({"dilation": (1, 0)}, "dilation must be a positive"),
        ({"padding": -1}, "padding must be a non-negative int or a pair of non-negative ints, got -1"),
        ({"padding": "half"}, "padding must be an int, a pair of ints, 'same', 'valid' or 'full', got the string 'hal"),
    ],
)
def test_invalid_constructor_arguments_fail_at_construction(cls, kwargs, message):
    arguments = {"in_channels": 2, "out_channels": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        cls(**arguments)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_padding_mode_is_refused(cls):
    with pytest.raises(TypeError, match="padding_mode"):
        cls(2, 2, 3, padding_mode="reflect")


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_wrong_rank_names_expected_and_actual(cls):
    layer = cls(2, 2, 3)
    with pytest.raises(ValueError, match=r"expects a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) input, got a 5-D input"):
        layer(torch.zeros(1, 1, 2, 5, 5))


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_wrong_channels_names_expected_and_actual(cls):
    layer = cls(2, 2, 3)
    with pytest.raises(ValueError, match=rf"{cls.__name__}\(.*\) expects 2 input channels, got 3"):
        layer(torch.zeros(1, 3, 5, 5))


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_integer_input_is_refused(cls):
    layer = cls(2, 2, 3)
    with pytest.raises(TypeError, match="expects a floating-point input, got dtype torch.int64"):
        layer(torch.zeros(1, 2, 5, 5, dtype=torch.int64))


@pytest.mark.parametrize("size", [(2, 5), (5, 2), (1, 1)])
def test_reflect_padding_too_large_names_layer_padding_and_size(size):
    layer = padmods.ReflectPadConv2d(1, 1, 5, padding=2)
    with pytest.raises(ValueError, match=r"ReflectPadConv2d\(1, 1, kernel_size=\(5, 5\).*reflect padding of \(2, 2\)"):
        layer(torch.zeros(1, 1, *size))
    with pytest.raises(ValueError, match=rf"input spatial size is \({size[0]}, {size[1]}\)"):
        layer(torch.zeros(1, 1, *size))


def test_reflect_padding_just_below_size_works():
    layer = padmods.ReflectPadConv2d(1, 1, 5, padding=2)
    assert layer(torch.zeros(1, 1, 3, 3)).shape == (1, 1, 3, 3)


def test_circular_padding_larger_than_input_is_refused():
    layer = padmods.CircularPadConv2d(1, 1, 7, padding=3)
    with pytest.raises(ValueError, match=r"circular padding of \(3, 3\) along the height must be at most"):
        layer(torch.zeros(1, 1, 2, 4))


def test_coord_refuses_groups_and_bad_pad():
    with pytest.raises(ValueError, match="CoordConv2d supports groups=1 only, got groups=2"):
        padmods.CoordConv2d(2, 2, 3, groups=2)
    with pytest.raises(ValueError, match="unknown padding mode 'mirror'; available modes: circular, coord"):
        padmods.CoordConv2d(2, 2, 3, pad="mirror")
    with pytest.raises(ValueError, match="other than 'coord'"):
        padmods.CoordConv2d(2, 2, 3, pad="coord")


def test_functional_errors_name_the_function():
    with pytest.raises(ValueError, match="padded_conv: mode must be one of"):
        padmods.functional.padded_conv(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3), mode="mirror")
    with pytest.raises(ValueError, match="partial_conv expects 2 input channels, got 1"):
        padmods.functional.partial_conv(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 3, 3))
    with pytest.raises(ValueError, match="padded_conv: reflect padding"):
        padmods.functional.padded_conv(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 5, 5), padding=2, mode="reflect")
