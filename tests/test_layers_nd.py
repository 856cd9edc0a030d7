"""The 1-D and 3-D layers: the contract of nn.Conv1d/nn.Conv3d, and their output from the formula of their mode.

Each layer is checked against ``F.pad`` then ``F.conv1d``/``F.conv3d`` (torch modes), the zero-padded
convolution times a ratio counted from a ones mask (partial), or the convolution of the input with
coordinate channels concatenated (coord), all written here without padmods, over random geometry:
strides, dilations, ``'same'`` and asymmetric per-axis padding, batched and unbatched.
"""

from __future__ import annotations

import copy
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

from conftest import assert_same_function

TORCH_MODES = ("zeros", "reflect", "replicate", "circular")
MODES = (*TORCH_MODES, "symmetric", "partial", "coord")
CONV = {1: F.conv1d, 3: F.conv3d}
TORCH_CONV = {1: nn.Conv1d, 3: nn.Conv3d}


# ---- the formulas ----------------------------------------------------------------------------


def pads_of(padding, sizes, kernel, stride, dilation):
    """One (before, after) per axis; 'same' gives ceil(n / s) outputs, the odd element after."""
    pairs = []
    for axis, n in enumerate(sizes):
        if padding == "full":  # every output that any input element reaches: d (k - 1) on both sides
            p = dilation[axis] * (kernel[axis] - 1)
            pairs.append((p, p))
        elif padding == "same":
            k, s, d = kernel[axis], stride[axis], dilation[axis]
            total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
            pairs.append((total // 2, total - total // 2))
        elif padding == "valid":
            pairs.append((0, 0))
        else:
            p = padding[axis]
            pairs.append((p, p))
    return pairs


def torch_pad(x, pairs, mode):
    """F.pad; 'symmetric', which torch lacks, gathers the indices that numpy's np.pad gives."""
    if mode == "symmetric":
        for axis, (before, after) in enumerate(pairs, start=x.dim() - len(pairs)):
            index = np.pad(np.arange(x.shape[axis]), (before, after), mode="symmetric")
            x = x.index_select(axis, torch.from_numpy(index))
        return x
    flat = [p for pair in reversed(pairs) for p in pair]
    return F.pad(x, flat, mode="constant" if mode == "zeros" else mode)


def coordinates(sizes, with_r, dtype):
    """Channel c varies along axis -(c + 1), linearly from -1 to 1 (-1 for one element)."""
    axes = [
        torch.linspace(-1, 1, n, dtype=torch.float64) if n > 1 else -torch.ones(1, dtype=torch.float64) for n in sizes
    ]
    grids = torch.meshgrid(*axes, indexing="ij")
    channels = list(reversed(grids))
    if with_r:
        channels.append(torch.sqrt(sum(g**2 for g in grids) / len(sizes)))
    return torch.stack(channels).to(dtype)


def formula(layer, x, dims):
    sizes = x.shape[2:]
    pairs = pads_of(layer.padding, sizes, layer.kernel_size, layer.stride, layer.dilation)
    mode = layer.border
    if isinstance(layer, padmods.layers.coord.CoordConvNd):
        mode = layer.pad_mode
        coords = coordinates(sizes, layer.with_r, x.dtype).expand(x.shape[0], *([-1] * (dims + 1)))
        x = torch.cat([x, coords], dim=1)
    conv = CONV[dims]
    if mode == "partial":
        raw = conv(torch_pad(x, pairs, "zeros"), layer.weight, None, layer.stride, 0, layer.dilation, layer.groups)
        ones = torch_pad(torch.ones(1, 1, *sizes, dtype=torch.float64), pairs, "zeros")
        window = torch.ones(1, 1, *layer.kernel_size, dtype=torch.float64)
        valid = conv(ones, window, None, layer.stride, 0, layer.dilation)
        ratio = torch.where(valid > 0, window.numel() / valid.clamp(min=1), torch.zeros_like(valid)).to(x.dtype)
        out = raw * ratio
        return out if layer.bias is None else out + layer.bias.view(1, -1, *[1] * dims)
    padded = torch_pad(x, pairs, mode)
    return conv(padded, layer.weight, layer.bias, layer.stride, 0, layer.dilation, layer.groups)


@st.composite
def settings(draw, dims):
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    size = tuple(draw(st.integers(1, 9 if dims == 1 else 6)) for _ in range(dims))
    padding = draw(st.one_of(st.sampled_from(["same", "valid", "full"]), st.tuples(*[st.integers(0, 2)] * dims)))
    return {"kernel": kernel, "stride": stride, "dilation": dilation, "size": size, "padding": padding}


def fits(mode, setting):
    pairs = pads_of(setting["padding"], setting["size"], setting["kernel"], setting["stride"], setting["dilation"])
    for (before, after), n, k, d in zip(pairs, setting["size"], setting["kernel"], setting["dilation"], strict=True):
        if n + before + after < d * (k - 1) + 1:
            return False
        if mode == "reflect" and max(before, after) >= n:
            return False
        if mode == "circular" and max(before, after) > n:
            return False
    return True


def build(mode, dims, setting, **kwargs):
    torch.manual_seed(0)
    layer = padmods.create(
        mode,
        2,
        3,
        setting["kernel"],
        dim=dims,
        stride=setting["stride"],
        padding=setting["padding"],
        dilation=setting["dilation"],
        dtype=torch.float64,
        **kwargs,
    )
    with torch.no_grad():
        layer.weight.normal_()
    return layer


# ---- the output, from the formula ------------------------------------------------------------


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", MODES)
@given(data=st.data(), batch=st.integers(1, 2), bias=st.booleans())
def test_layer_equals_formula(dims, mode, data, batch, bias):
    setting = data.draw(settings(dims))
    assume(fits(mode, setting))
    layer = build(mode, dims, setting, bias=bias)
    x = torch.randn(batch, 2, *setting["size"], dtype=torch.float64, requires_grad=True)
    params = [x, layer.weight] + ([layer.bias] if bias else [])
    assert_same_function(layer(x), formula(layer, x, dims), params, atol=1e-10)


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("pad", [*TORCH_MODES, "partial"])
@pytest.mark.parametrize("with_r", [False, True])
def test_coord_equals_concatenation_for_every_border(dims, pad, with_r):
    setting = {"kernel": (3,) * dims, "stride": (2,) * dims, "dilation": (1,) * dims, "size": (7, 5, 6)[:dims]}
    setting["padding"] = "same"
    layer = build("coord", dims, setting, pad=pad, with_r=with_r)
    assert layer.weight.shape[1] == 2 + dims + with_r
    for batch in (1, 3):
        x = torch.randn(batch, 2, *setting["size"], dtype=torch.float64, requires_grad=True)
        assert_same_function(layer(x), formula(layer, x, dims), [x, layer.weight, layer.bias], atol=1e-10)


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_and_unbatched(dims, mode):
    setting = {"kernel": (3,) * dims, "stride": (1, 2, 1)[:dims], "dilation": (1,) * dims, "size": (5, 4, 3)[:dims]}
    setting["padding"] = "same"
    layer = build(mode, dims, setting)
    x = torch.randn(1, 2, *setting["size"], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda i, w, b: layer._conv_forward(i, w, b), (x, layer.weight, layer.bias))
    torch.testing.assert_close(layer(x[0]), layer(x)[0])


# ---- the contract of nn.Conv1d and nn.Conv3d ---------------------------------------------------


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", MODES)
def test_is_a_torch_conv_with_its_parameters_and_output_shape(dims, mode):
    cls = padmods.get(mode, dims)
    layer = cls(4, 6, 3, stride=2, padding=1)
    conv = TORCH_CONV[dims](4, 6, 3, stride=2, padding=1)
    assert isinstance(layer, TORCH_CONV[dims])
    assert cls.__name__.endswith(f"{dims}d")
    assert list(layer.state_dict()) == list(conv.state_dict()) == ["weight", "bias"]
    x = torch.randn(2, 4, *(9, 8, 7)[:dims])
    assert layer(x).shape == conv(x).shape
    if mode != "coord":
        layer.load_state_dict(conv.state_dict())


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", MODES)
def test_same_gives_ceil_outputs_for_every_stride(dims, mode):
    for stride in (1, 2, 3):
        layer = padmods.create(mode, 1, 1, 4, dim=dims, stride=stride, padding="same")
        sizes = (10, 7, 5)[:dims]
        assert layer(torch.randn(1, 1, *sizes)).shape[2:] == tuple(-(-n // stride) for n in sizes)


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", MODES)
def test_from_conv_pickle_and_deepcopy(dims, mode):
    conv = TORCH_CONV[dims](3, 5, 3, stride=2, padding=1, dtype=torch.float64)
    layer = padmods.get(mode, dims).from_conv(conv)
    x = torch.randn(2, 3, *(8, 7, 6)[:dims], dtype=torch.float64)
    if mode in ("zeros", "coord"):  # a zero border, and coordinate taps that start at zero
        torch.testing.assert_close(layer(x), conv(x))
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert type(clone) is type(layer)
        torch.testing.assert_close(clone(x), layer(x), rtol=0, atol=0)
    with pytest.raises(TypeError, match=f"expects a torch.nn.Conv{dims}d, got Conv2d"):
        padmods.get(mode, dims).from_conv(nn.Conv2d(3, 5, 3))


@pytest.mark.parametrize("dims", [1, 3])
def test_errors_name_the_layer_and_the_expected_rank(dims):
    layer = padmods.create("reflect", 2, 3, 3, dim=dims, padding=1)
    with pytest.raises(ValueError, match=rf"ReflectPadConv{dims}d\(.*\) expects a {dims + 1}-D .* or {dims + 2}-D"):
        layer(torch.randn(1, 2, 4, 4, 4, 4))
    with pytest.raises(ValueError, match=f"kernel_size must be a positive int or a tuple of {dims} positive ints"):
        padmods.create("zeros", 2, 3, (3, 3), dim=dims)
    layer.padding = (3,) * dims
    with pytest.raises(ValueError, match="reflect padding of \\(3, 3\\) along the"):
        layer(torch.randn(1, 2, *(3,) * dims))


def test_circular_along_a_1d_signal_commutes_with_roll():
    layer = padmods.CircularPadConv1d(2, 3, 5, padding="same", dtype=torch.float64)
    x = torch.randn(2, 2, 17, dtype=torch.float64)
    torch.testing.assert_close(layer(torch.roll(x, 4, -1)), torch.roll(layer(x), 4, -1))


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_full_padding_keeps_every_output_an_input_reaches(dims, mode):
    """'full': output n + d (k - 1) at stride 1; each input element reaches the same number of outputs."""
    sizes = (6, 5, 7)[:dims]  # more than the pads of 4, so reflect and circular fit too
    layer = padmods.create(mode, 1, 1, 3, dim=dims, padding="full", dilation=2, dtype=torch.float64)
    out = layer(torch.randn(1, 1, *sizes, dtype=torch.float64))
    assert out.shape[2:] == tuple(n + 2 * (3 - 1) for n in sizes)
    if mode == "zeros":  # with a zero border every input element reaches exactly k^dims outputs
        with torch.no_grad():
            layer.weight.fill_(1.0)
            layer.bias.zero_()
        x = torch.zeros(1, 1, *sizes, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(layer(x).sum(), x)
        torch.testing.assert_close(grad, torch.full_like(grad, 3.0**dims))


def test_symmetric_padding_beyond_the_input_keeps_reflecting():
    """[a b] padded by 5 on each side, from numpy's definition; no index error for any amount."""
    x = torch.tensor([[[1.0, 2.0]]])
    expected = np.pad(np.array([1.0, 2.0]), 5, mode="symmetric")
    torch.testing.assert_close(
        padmods.functional.pad(x, ((5, 5),), "symmetric")[0, 0], torch.from_numpy(expected).float()
    )
    layer = padmods.create("symmetric", 1, 1, 7, dim=1, padding=6)
    assert layer(torch.randn(1, 1, 1)).shape == (1, 1, 7)


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(dims, mode, dtype):
    """Half-precision layers compute what float32 computes from the same rounded numbers."""
    setting = {"kernel": (3,) * dims, "stride": (1,) * dims, "dilation": (1,) * dims, "size": (8, 6, 5)[:dims]}
    setting["padding"] = "same"
    layer = build(mode, dims, setting).to(dtype)
    x = torch.randn(2, 2, *setting["size"]).to(dtype)
    out = layer(x)
    assert out.dtype == dtype
    expected = formula(layer.float(), x.float(), dims)
    torch.testing.assert_close(out.float(), expected, rtol=3e-2, atol=3e-2)


@pytest.mark.parametrize("mode", MODES)
def test_3d_channels_last(mode):
    setting = {"kernel": (3, 3, 3), "stride": (1, 2, 1), "dilation": (1, 1, 1), "size": (5, 6, 4), "padding": 1}
    layer = build(mode, 3, setting).float()
    x = torch.randn(2, 2, 5, 6, 4)
    expected = layer(x)
    out = layer.to(memory_format=torch.channels_last_3d)(x.to(memory_format=torch.channels_last_3d))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", MODES)
def test_translation_equivariant_away_from_the_border(dims, mode):
    setting = {"kernel": (3,) * dims, "stride": (1,) * dims, "dilation": (2,) * dims, "size": (14, 12, 12)[:dims]}
    setting["padding"] = 2
    layer = build(mode, dims, setting)
    x = torch.randn(1, 2, *setting["size"], dtype=torch.float64)
    axes = tuple(range(2, 2 + dims))
    shifts = (1, 2, 1)[:dims]
    out, out_shifted = layer(x), layer(torch.roll(x, shifts, dims=axes))
    if mode == "coord":  # coordinates are absolute: remove their input-independent term
        offset = layer(torch.zeros_like(x))
        out, out_shifted = out - offset, out_shifted - offset
    inner = (..., *[slice(5, -5)] * dims)  # padding + shift of the border may differ; the rest moves along
    torch.testing.assert_close(out_shifted[inner], torch.roll(out, shifts, dims=axes)[inner])


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", ["partial", "coord"])
def test_map_cached_under_inference_mode_still_trains(dims, mode):
    layer = padmods.create(mode, 2, 3, 3, dim=dims, padding=1)
    x = torch.randn(1, 2, *(9, 7, 6)[:dims])
    with torch.inference_mode():
        layer(x)
    layer(x).sum().backward()  # would fail if the cached map were an inference tensor
    assert layer.weight.grad is not None
