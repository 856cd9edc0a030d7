"""Every layer against an oracle written from its formula, then its properties and its nn.Conv2d contract."""

from __future__ import annotations

import copy
import io
import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st
from torch import nn

import padmods

from _reference import coord_grid, pads_for, partial_conv_loop, torch_mode_conv
from conftest import assert_close

TORCH_MODES = {
    "zeros": padmods.ZeroPadConv2d,
    "reflect": padmods.ReflectPadConv2d,
    "replicate": padmods.ReplicatePadConv2d,
    "circular": padmods.CircularPadConv2d,
}
ALL_CLASSES = [*TORCH_MODES.values(), padmods.PartialConv2d, padmods.CoordConv2d]


def reference(layer: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """The layer's output computed from the formula of its mode, without padmods."""
    pads = pads_for(layer.padding, x.shape[-2:], layer.kernel_size, layer.stride, layer.dilation)
    args = (layer.stride, pads, layer.dilation, layer.groups)
    if isinstance(layer, padmods.CoordConv2d):
        coords = coord_grid(*x.shape[-2:], layer.with_r).to(x.dtype).expand(x.shape[0], -1, -1, -1)
        x = torch.cat([x, coords], dim=1)
        inner = padmods.get(layer.pad_mode)
        if inner is padmods.PartialConv2d:
            return torch.from_numpy(partial_conv_loop(x, layer.weight, layer.bias, *args)).to(x.dtype)
        return torch_mode_conv(x, layer.weight, layer.bias, *args, inner.border)
    if isinstance(layer, padmods.PartialConv2d):
        return torch.from_numpy(partial_conv_loop(x, layer.weight, layer.bias, *args)).to(x.dtype)
    return torch_mode_conv(x, layer.weight, layer.bias, *args, layer.border)


def make(cls, in_channels=2, out_channels=3, kernel_size=3, dtype=torch.float64, **kwargs):
    torch.manual_seed(0)
    layer = cls(in_channels, out_channels, kernel_size, dtype=dtype, **kwargs)
    with torch.no_grad():
        layer.weight.normal_()  # CoordConv's coordinate taps must matter too
    return layer


# ---- oracles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("padding", [0, 1, 2, (1, 2), "same", "valid"])
def test_zero_pad_equals_nn_conv2d(padding):
    layer = make(padmods.ZeroPadConv2d, padding=padding)
    torch_conv = nn.Conv2d(2, 3, 3, padding=padding, dtype=torch.float64)
    torch_conv.load_state_dict(layer.state_dict())
    x = torch.randn(2, 2, 7, 9, dtype=torch.float64)
    assert_close(layer(x), torch_conv(x))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"])
def test_torch_modes_equal_nn_conv2d_padding_mode(mode, padding):
    layer = make(TORCH_MODES[mode], padding=padding)
    torch_conv = nn.Conv2d(2, 3, 3, padding=padding, padding_mode=mode, dtype=torch.float64)
    torch_conv.load_state_dict(layer.state_dict())
    x = torch.randn(2, 2, 6, 5, dtype=torch.float64)
    assert_close(layer(x), torch_conv(x))


layer_settings = st.fixed_dictionaries(
    {
        "kernel": st.tuples(st.integers(1, 5), st.integers(1, 5)),
        "stride": st.tuples(st.integers(1, 3), st.integers(1, 3)),
        "dilation": st.tuples(st.integers(1, 3), st.integers(1, 3)),
        "padding": st.one_of(
            st.just("same"), st.just("valid"), st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3))
        ),
        "groups": st.sampled_from([1, 2]),
        "size": st.tuples(st.integers(4, 12), st.integers(4, 12)),
        "bias": st.booleans(),
    }
)


def _fits(cls, settings) -> bool:
    pads = pads_for(settings["padding"], settings["size"], settings["kernel"], settings["stride"], settings["dilation"])
    span_ok = all(
        n + b + a >= d * (k - 1) + 1
        for n, (b, a), k, d in zip(settings["size"], pads, settings["kernel"], settings["dilation"], strict=True)
    )
    reflect_ok = all(max(p) < n for p, n in zip(pads, settings["size"], strict=True))
    needs_reflect_bound = cls in (padmods.ReflectPadConv2d, padmods.CircularPadConv2d)
    return span_ok and (reflect_ok or not needs_reflect_bound)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@given(settings=layer_settings)
def test_layer_matches_formula(cls, settings):
    assume(_fits(cls, settings))
    groups = 1 if cls is padmods.CoordConv2d else settings["groups"]
    layer = make(
        cls,
        in_channels=2,
        out_channels=4,
        kernel_size=settings["kernel"],
        stride=settings["stride"],
        padding=settings["padding"],
        dilation=settings["dilation"],
        groups=groups,
        bias=settings["bias"],
    )
    x = torch.randn(2, 2, *settings["size"], dtype=torch.float64)
    out = layer(x)
    assert_close(out, reference(layer, x))
    torch_conv = nn.Conv2d(2, 4, settings["kernel"], settings["stride"], 0, settings["dilation"], groups)
    pads = pads_for(settings["padding"], settings["size"], settings["kernel"], settings["stride"], settings["dilation"])
    expected_hw = torch_conv(F.pad(torch.zeros(1, 2, *settings["size"]), (*pads[1], *pads[0]))).shape[-2:]
    assert out.shape[-2:] == expected_hw
    if settings["padding"] == "same":
        assert tuple(out.shape[-2:]) == tuple(
            math.ceil(n / s) for n, s in zip(settings["size"], settings["stride"], strict=True)
        )


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("padding", [0, 1, (2, 1), "valid"])
def test_output_shape_equals_nn_conv2d(cls, padding):
    x = torch.randn(1, 2, 9, 6)
    for stride, dilation in [(1, 1), (2, 1), ((1, 3), 2)]:
        layer = cls(2, 3, 3, stride=stride, padding=padding, dilation=dilation)
        expected = nn.Conv2d(2, 3, 3, stride=stride, padding=padding, dilation=dilation)(x).shape
        assert layer(x).shape == expected


def test_partial_hand_worked_3x3():
    """All-ones 3x3 kernel on a 4x4 arange with padding 1, computed by hand."""
    layer = padmods.PartialConv2d(1, 1, 3, padding=1, bias=False, dtype=torch.float64)
    nn.init.ones_(layer.weight)
    x = torch.arange(16.0, dtype=torch.float64).view(1, 1, 4, 4)
    # Top-left output: window holds 0, 1, 4, 5 (sum 10) out of 9 taps -> 10 * 9 / 4.
    # Top edge (0, 1): 0 1 2 4 5 6 (sum 18) with 6 valid taps -> 18 * 9 / 6.
    # Interior (1, 1): 0 1 2 4 5 6 8 9 10 (sum 45) -> 45.
    out = layer(x)[0, 0]
    assert out[0, 0].item() == pytest.approx(10 * 9 / 4)
    assert out[0, 1].item() == pytest.approx(18 * 9 / 6)
    assert out[1, 1].item() == pytest.approx(45.0)
    assert out[3, 3].item() == pytest.approx((10 + 11 + 14 + 15) * 9 / 4)


def test_partial_constant_input_gives_constant_output():
    """With a uniform kernel the rescaled border sees the window mean, i.e. the constant itself."""
    layer = padmods.PartialConv2d(1, 2, 5, padding="same", dilation=2, dtype=torch.float64)
    with torch.no_grad():
        layer.weight[0].fill_(0.5)
        layer.weight[1].fill_(-2.0)
    out = layer(torch.full((1, 1, 11, 8), 3.0, dtype=torch.float64))
    for channel in out[0]:
        assert_close(channel, torch.full_like(channel, channel[5, 4].item()))


def test_partial_window_on_padding_only_gives_bias():
    layer = padmods.PartialConv2d(1, 1, 1, padding=2, dtype=torch.float64)
    out = layer(torch.randn(1, 1, 3, 3, dtype=torch.float64))
    assert torch.equal(out[0, 0, 0], layer.bias.detach().expand(7))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("with_r", [False, True])
def test_coord_channels_hand_worked(with_r):
    grid = padmods.functional.coord_channels(3, 5, with_r=with_r, dtype=torch.float64)
    assert grid.shape == (3 if with_r else 2, 3, 5)
    assert grid[0, 1].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert grid[1, :, 2].tolist() == [-1.0, 0.0, 1.0]
    if with_r:
        assert grid[2, 0, 0].item() == pytest.approx(1.0)
        assert grid[2, 1, 2].item() == pytest.approx(0.0)
        assert grid[2, 0, 2].item() == pytest.approx(1 / math.sqrt(2))


@pytest.mark.parametrize("pad", ["zeros", "reflect", "replicate", "circular", "partial"])
@pytest.mark.parametrize("with_r", [False, True])
def test_coord_conv_equals_concatenation(pad, with_r):
    layer = make(padmods.CoordConv2d, padding="same", stride=(1, 2), with_r=with_r, pad=pad)
    assert layer.weight.shape == (3, 2 + (3 if with_r else 2), 3, 3)
    x = torch.randn(3, 2, 6, 7, dtype=torch.float64)
    assert_close(layer(x), reference(layer, x))


# ---- properties ------------------------------------------------------------------------------


@given(shift=st.tuples(st.integers(-5, 5), st.integers(-5, 5)), kernel=st.sampled_from([1, 2, 3, 4, 5]))
def test_circular_same_commutes_with_roll(shift, kernel):
    layer = make(padmods.CircularPadConv2d, kernel_size=kernel, padding="same")
    x = torch.randn(1, 2, 8, 9, dtype=torch.float64)
    assert_close(layer(torch.roll(x, shift, dims=(2, 3))), torch.roll(layer(x), shift, dims=(2, 3)))


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_translation_equivariant_away_from_border(cls):
    layer = make(cls, kernel_size=3, padding=2, dilation=2)
    x = torch.randn(1, 2, 16, 16, dtype=torch.float64)
    shifted = torch.roll(x, (1, 2), dims=(2, 3))
    out, out_shifted = layer(x), layer(shifted)
    if cls is padmods.CoordConv2d:  # coordinates are absolute: remove their input-independent term
        offset = layer(torch.zeros_like(x))
        out, out_shifted = out - offset, out_shifted - offset
    # rows/cols within padding + shift of the border may differ; everything else moves with the input
    assert_close(out_shifted[..., 6:-6, 6:-6], torch.roll(out, (1, 2), dims=(2, 3))[..., 6:-6, 6:-6])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "partial"])
def test_modes_differ_from_zeros_only_near_the_border(mode):
    zeros = make(padmods.ZeroPadConv2d, kernel_size=5, padding=2)
    other = padmods.get(mode)(2, 3, 5, padding=2, dtype=torch.float64)
    other.load_state_dict(zeros.state_dict())
    x = torch.randn(1, 2, 12, 12, dtype=torch.float64)
    a, b = zeros(x), other(x)
    assert_close(a[..., 2:-2, 2:-2], b[..., 2:-2, 2:-2])
    assert not torch.allclose(a[..., 0, :], b[..., 0, :])


# ---- the nn.Conv2d contract ------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_is_a_conv2d_with_conv2d_parameters(cls):
    layer = cls(4, 6, (3, 5), stride=2, padding=1, bias=True)
    conv = nn.Conv2d(4, 6, (3, 5), stride=2, padding=1)
    assert isinstance(layer, nn.Conv2d)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert list(layer.state_dict()) == list(conv.state_dict())
    if cls is padmods.CoordConv2d:
        assert layer.weight.shape == (6, 4 + 2, 3, 5)
    else:
        assert layer.weight.shape == conv.weight.shape
        layer.load_state_dict(conv.state_dict())
        conv.load_state_dict(layer.state_dict())
        assert torch.equal(layer.weight, conv.weight)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_unbatched_input(cls):
    layer = make(cls, padding="same", stride=2)
    x = torch.randn(2, 7, 6, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (3, 4, 3)
    assert_close(out, layer(x.unsqueeze(0))[0])


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_gradcheck_float64(cls):
    layer = make(cls, kernel_size=3, padding="same", stride=(1, 2))
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)

    def function(input, weight, bias):
        return layer._conv_forward(input, weight, bias)

    assert torch.autograd.gradcheck(function, (x, layer.weight, layer.bias))


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(cls, dtype):
    layer = make(cls, padding=1, dtype=dtype)
    x = torch.randn(2, 2, 8, 8).to(dtype)
    out = layer(x)
    assert out.dtype == dtype
    # the same (already rounded) numbers in float32: only accumulation and output rounding differ
    expected = reference(layer.float(), x.float())
    assert_close(out.float(), expected, dtype=dtype)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_channels_last(cls):
    layer = make(cls, padding=1, dtype=torch.float32)
    x = torch.randn(2, 2, 8, 8)
    expected = layer(x)
    out = layer.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    assert_close(out, expected)


@pytest.mark.parametrize("cls", [padmods.PartialConv2d, padmods.CoordConv2d], ids=lambda c: c.__name__)
def test_cached_maps_follow_size_and_dtype(cls):
    layer = make(cls, padding="same", stride=2, dtype=torch.float32)
    for size in [(10, 10), (12, 12), (9, 13), (10, 10)]:
        x = torch.randn(1, 2, *size)
        assert_close(layer(x), reference(layer, x))
    layer = layer.to(torch.float64)
    x = torch.randn(1, 2, 11, 11, dtype=torch.float64)
    out = layer(x)
    assert out.dtype == torch.float64
    assert_close(out, reference(layer, x))


@pytest.mark.parametrize("cls", [padmods.PartialConv2d, padmods.CoordConv2d], ids=lambda c: c.__name__)
def test_map_cached_under_inference_mode_still_trains(cls):
    layer = make(cls, padding=1, dtype=torch.float32)
    x = torch.randn(1, 2, 15, 14)
    with torch.inference_mode():
        layer(x)
    layer(x).sum().backward()  # would fail if the cached map were an inference tensor
    assert layer.weight.grad is not None


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_pickle_and_deepcopy_round_trip(cls):
    layer = make(cls, padding="same", stride=2)
    x = torch.randn(1, 2, 7, 7, dtype=torch.float64)
    buffer = io.BytesIO()
    torch.save(layer, buffer)
    buffer.seek(0)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer)), torch.load(buffer, weights_only=False)):
        assert type(clone) is cls
        assert torch.equal(clone(x), layer(x))


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_repr_names_class_and_padding(cls):
    text = repr(cls(3, 8, 3, padding="same"))
    assert text.startswith(f"{cls.__name__}(3, 8, kernel_size=(3, 3)")
    assert "padding=same" in text
    assert "padding_mode" not in text


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_from_conv_copies_everything(cls):
    conv = nn.Conv2d(3, 5, (3, 1), stride=(2, 1), padding=(1, 0), dilation=(1, 2), dtype=torch.float64)
    conv.eval()
    conv.bias.requires_grad_(False)
    layer = cls.from_conv(conv)
    assert type(layer) is cls
    assert (layer.stride, layer.padding, layer.dilation, layer.kernel_size) == (
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.kernel_size,
    )
    assert layer.weight.dtype == torch.float64
    assert not layer.training
    assert layer.weight.requires_grad
    assert not layer.bias.requires_grad
    assert layer.weight.data_ptr() != conv.weight.data_ptr()
    assert torch.equal(layer.weight[:, :3], conv.weight)
    assert torch.equal(layer.bias, conv.bias)


@pytest.mark.parametrize("with_r", [False, True])
def test_coord_from_conv_starts_as_the_original(with_r):
    conv = nn.Conv2d(3, 5, 3, padding=1, dtype=torch.float64)
    layer = padmods.CoordConv2d.from_conv(conv, with_r=with_r)
    assert layer.weight.shape == (5, 3 + (3 if with_r else 2), 3, 3)
    assert torch.equal(layer.weight[:, 3:], torch.zeros_like(layer.weight[:, 3:]))
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    assert_close(layer(x), conv(x))


def test_same_padding_odd_pixel_goes_bottom_right():
    """3x3 stride 2 on 8x8: one row/column of padding, at the bottom/right only."""
    layer = padmods.ZeroPadConv2d(1, 1, 3, stride=2, padding="same", bias=False)
    nn.init.ones_(layer.weight)
    x = torch.ones(1, 1, 8, 8)
    out = layer(x)[0, 0]
    assert out.shape == (4, 4)
    assert out[0, 0].item() == 9.0  # no padding at the top-left
    assert out[3, 3].item() == 4.0  # window rows 6, 7, pad and cols 6, 7, pad
    assert out[0, 3].item() == 6.0


def test_numpy_reference_agrees_with_torch_zero_padding():
    """Sanity check of the loop oracle itself: with no padding it is a plain convolution."""
    x = torch.randn(2, 4, 6, 5, dtype=torch.float64)
    w = torch.randn(6, 2, 3, 2, dtype=torch.float64)
    b = torch.randn(6, dtype=torch.float64)
    expected = F.conv2d(x, w, b, (2, 1), 0, (1, 2), 2).numpy()
    np.testing.assert_allclose(partial_conv_loop(x, w, b, (2, 1), ((0, 0), (0, 0)), (1, 2), 2), expected)
