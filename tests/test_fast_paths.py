"""The optimised paths of the layers against the straightforward formulas, written out here.

padmods computes some modes differently from their textbook form, for speed: zero padding is folded
into the convolution, CoordConv's coordinate channels become a closed-form map (products of small
per-axis factors) added in place to the convolution's output, and the partial ratio and coordinate
factors are cached; on CPU a convolution with one input and one output channel runs as a depthwise
convolution over the batch. (Circular padding's own backward is tested in
``test_border_pad.py``.) Each test draws random shapes (strides, dilations, ``'same'``,
odd and even sizes) and compares values and gradients with the formula, computed without padmods:

- torch modes: ``F.conv2d(F.pad(x, pads, mode), w, b, stride, 0, dilation, groups)``;
- partial: the zero-padded convolution times a ratio map from an explicitly padded ones mask;
- coord: ``torch.cat([x, coords])`` then the convolution of the inner mode.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

import padmods
from padmods import _coord, _partial

from conftest import assert_same_function

TORCH_MODES = ("zeros", "reflect", "replicate", "circular", "symmetric")
BORDERS = (*TORCH_MODES, "partial")


# ---- the formulas ----------------------------------------------------------------------------


def pads_of(padding, size, kernel, stride, dilation):
    """((top, bottom), (left, right)); 'same' gives ceil(n / s) outputs, the odd pixel after."""
    pairs = []
    for axis in range(2):
        if padding == "full":  # every output that any input pixel reaches: d (k - 1) on both sides
            p = dilation[axis] * (kernel[axis] - 1)
            pairs.append((p, p))
        elif padding == "same":
            n, k, s, d = size[axis], kernel[axis], stride[axis], dilation[axis]
            total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
            pairs.append((total // 2, total - total // 2))
        else:
            p = padding if isinstance(padding, int) else padding[axis]
            pairs.append((p, p))
    return tuple(pairs)


def torch_mode_formula(x, weight, bias, stride, pads, dilation, groups, mode):
    (top, bottom), (left, right) = pads
    if mode == "symmetric":  # torch lacks it: gather the indices that numpy's np.pad gives
        padded = x
        for axis, (before, after) in zip((-2, -1), pads, strict=True):
            index = np.pad(np.arange(x.shape[axis]), (before, after), mode="symmetric")
            padded = padded.index_select(padded.dim() + axis, torch.from_numpy(index))
    else:
        padded = F.pad(x, (left, right, top, bottom), mode="constant" if mode == "zeros" else mode)
    return F.conv2d(padded, weight, bias, stride, 0, dilation, groups)


def partial_formula(x, weight, bias, stride, pads, dilation, groups):
    """Whole-map ratio: window size over the valid taps counted by a ones-mask convolution."""
    (top, bottom), (left, right) = pads
    raw = torch_mode_formula(x, weight, None, stride, pads, dilation, groups, "zeros")
    ones = F.pad(torch.ones(1, 1, *x.shape[-2:], dtype=torch.float64), (left, right, top, bottom))
    window = torch.ones(1, 1, *weight.shape[-2:], dtype=torch.float64)
    valid = F.conv2d(ones, window, None, stride, 0, dilation)
    ratio = torch.where(valid > 0, window.numel() / valid.clamp(min=1), torch.zeros_like(valid)).to(x.dtype)
    out = raw * ratio
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def coords_formula(height, width, with_r, dtype):
    """x varies along the width, y along the height, both from -1 to 1 (-1 for a single pixel)."""
    ys = torch.linspace(-1, 1, height, dtype=torch.float64) if height > 1 else -torch.ones(1, dtype=torch.float64)
    xs = torch.linspace(-1, 1, width, dtype=torch.float64) if width > 1 else -torch.ones(1, dtype=torch.float64)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    channels = [grid_x, grid_y]
    if with_r:
        channels.append(torch.sqrt(grid_x**2 + grid_y**2) / math.sqrt(2))
    return torch.stack(channels).to(dtype)


def formula(layer, x):
    """What ``layer(x)`` must equal, from the definition of its mode."""
    pads = pads_of(layer.padding, x.shape[-2:], layer.kernel_size, layer.stride, layer.dilation)
    mode = layer.pad_mode if isinstance(layer, padmods.CoordConv2d) else layer.border
    if isinstance(layer, padmods.CoordConv2d):
        coords = coords_formula(*x.shape[-2:], layer.with_r, x.dtype)
        x = torch.cat([x, coords.expand(x.shape[0], -1, -1, -1)], dim=1)
    if isinstance(layer, padmods.PartialConv2d) or mode == "partial":
        return partial_formula(x, layer.weight, layer.bias, layer.stride, pads, layer.dilation, layer.groups)
    return torch_mode_formula(x, layer.weight, layer.bias, layer.stride, pads, layer.dilation, layer.groups, mode)


# ---- random settings -------------------------------------------------------------------------


@st.composite
def settings(draw, max_size=13):
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = (draw(st.integers(1, max_size)), draw(st.integers(1, max_size)))
    padding = draw(
        st.one_of(st.sampled_from(["same", "full"]), st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)))
    )
    return {"kernel": kernel, "stride": stride, "dilation": dilation, "size": size, "padding": padding}


def fits(mode, setting):
    """Whether torch can pad this way and the convolution has an output at all."""
    pads = pads_of(setting["padding"], setting["size"], setting["kernel"], setting["stride"], setting["dilation"])
    for (before, after), n, k, d in zip(pads, setting["size"], setting["kernel"], setting["dilation"], strict=True):
        if n + before + after < d * (k - 1) + 1:
            return False
        if mode == "reflect" and max(before, after) >= n:
            return False
        if mode == "circular" and max(before, after) > n:
            return False
    return True


def build(cls, setting, in_channels=2, out_channels=3, dtype=torch.float64, **kwargs):
    torch.manual_seed(0)
    layer = cls(
        in_channels,
        out_channels,
        setting["kernel"],
        setting["stride"],
        setting["padding"],
        setting["dilation"],
        dtype=dtype,
        **kwargs,
    )
    with torch.no_grad():
        layer.weight.normal_()
    return layer


def check_values_and_gradients(layer, x, atol=1e-10):
    x = x.detach().requires_grad_()
    params = [x, layer.weight] + ([layer.bias] if layer.bias is not None else [])
    assert_same_function(layer(x), formula(layer, x), params, atol=atol)


# ---- torch modes and partial -----------------------------------------------------------------


@pytest.mark.parametrize("mode", [*TORCH_MODES, "partial"])
@given(setting=settings(), batch=st.integers(1, 3), bias=st.booleans())
def test_layer_equals_formula(mode, setting, batch, bias):
    assume(fits(mode, setting))
    layer = build(padmods.get(mode), setting, bias=bias)
    check_values_and_gradients(layer, torch.randn(batch, 2, *setting["size"], dtype=torch.float64))


@pytest.mark.parametrize("mode", [*TORCH_MODES, "partial"])
@given(setting=settings(), batch=st.integers(16, 20), bias=st.booleans())
def test_single_channel_layer_equals_formula(mode, setting, batch, bias):
    """One input and one output channel, a batch of 16 or more: a depthwise convolution on CPU."""
    assume(fits(mode, setting))
    layer = build(padmods.get(mode), setting, in_channels=1, out_channels=1, bias=bias)
    check_values_and_gradients(layer, torch.randn(batch, 1, *setting["size"], dtype=torch.float64))


@pytest.mark.parametrize("mode", [*TORCH_MODES, "partial", "coord"])
def test_single_channel_float32_channels_last_and_unbatched(mode):
    setting = {"kernel": (3, 3), "stride": (1, 2), "dilation": (2, 1), "size": (11, 10), "padding": "same"}
    layer = build(padmods.get(mode), setting, in_channels=1, out_channels=1, dtype=torch.float32)
    x = torch.randn(17, 1, 11, 10)
    check_values_and_gradients(layer, x, atol=1e-4)
    check_values_and_gradients(layer, x.to(memory_format=torch.channels_last), atol=1e-4)
    torch.testing.assert_close(layer(x[0]), formula(layer, x[:1])[0], rtol=1e-4, atol=1e-4)
    big = torch.randn(150, 1, 11, 10)  # enough pixels for the depthwise form without autograd too
    with torch.no_grad():
        torch.testing.assert_close(layer(big), formula(layer, big), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", [*TORCH_MODES, "partial"])
def test_grouped_channels_last_float32(mode):
    setting = {"kernel": (3, 2), "stride": (2, 1), "dilation": (1, 2), "size": (9, 8), "padding": "same"}
    layer = build(padmods.get(mode), setting, in_channels=4, out_channels=6, dtype=torch.float32, groups=2)
    x = torch.randn(2, 4, 9, 8).to(memory_format=torch.channels_last)
    check_values_and_gradients(layer, x, atol=1e-4)


# ---- coord: the closed-form coordinate term ----------------------------------------------------


@pytest.mark.parametrize("border", BORDERS)
@given(setting=settings(), batch=st.integers(1, 3), with_r=st.booleans(), bias=st.booleans())
def test_coord_equals_concatenation(border, setting, batch, with_r, bias):
    assume(fits(border, setting))
    layer = build(padmods.CoordConv2d, setting, with_r=with_r, pad=border, bias=bias)
    check_values_and_gradients(layer, torch.randn(batch, 2, *setting["size"], dtype=torch.float64))


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(("kernel", "stride", "padding"), [(3, 1, 1), (7, 2, 3), ((4, 3), (1, 2), "same")])
def test_coord_on_large_maps_equals_concatenation(border, batch, kernel, stride, padding):
    setting = {"kernel": kernel, "stride": stride, "dilation": (1, 1), "size": (90, 81), "padding": padding}
    layer = build(padmods.CoordConv2d, setting, pad=border)
    check_values_and_gradients(layer, torch.randn(batch, 2, 90, 81, dtype=torch.float64))


def test_coord_with_a_plugin_border_convolves_a_coordinate_image(clean_registry):
    """A border that padmods does not know keeps the general path: pad and convolve coordinates."""

    @padmods.register("ones-border")
    class OnesPadConv2d(padmods.PaddedConv2d):
        @classmethod
        def pad(cls, input, pairs):
            (top, bottom), (left, right) = pairs
            return F.pad(input, (left, right, top, bottom), value=1.0)

    setting = {"kernel": (3, 3), "stride": (1, 1), "dilation": (1, 1), "size": (6, 7), "padding": 1}
    layer = build(padmods.CoordConv2d, setting, pad="ones-border")
    x = torch.randn(2, 2, 6, 7, dtype=torch.float64)
    coords = coords_formula(6, 7, False, torch.float64).expand(2, -1, -1, -1)
    padded = F.pad(torch.cat([x, coords], dim=1), (1, 1, 1, 1), value=1.0)
    torch.testing.assert_close(layer(x), F.conv2d(padded, layer.weight, layer.bias))


def test_coord_float32_matches_in_both_layouts():
    setting = {"kernel": (3, 3), "stride": (1, 1), "dilation": (1, 1), "size": (80, 80), "padding": 1}
    layer = build(padmods.CoordConv2d, setting, dtype=torch.float32)
    x = torch.randn(2, 2, 80, 80)
    check_values_and_gradients(layer, x, atol=1e-4)
    check_values_and_gradients(layer, x.to(memory_format=torch.channels_last), atol=1e-4)


# ---- coord on a single image: the coordinate term is added straight into the output --------------

SINGLE_IMAGE_CASES = [
    ((3, 3), (1, 1), 1, (6, 7)),
    ((4, 3), (2, 1), "same", (9, 8)),
    ((7, 7), (2, 2), 3, (90, 81)),
]


def single_image_layer(border, case, dtype=torch.float64):
    kernel, stride, padding, size = case
    setting = {"kernel": kernel, "stride": stride, "dilation": (1, 1), "size": size, "padding": padding}
    return build(padmods.CoordConv2d, setting, pad=border, dtype=dtype), size


@pytest.mark.parametrize("border", TORCH_MODES)
@pytest.mark.parametrize("case", SINGLE_IMAGE_CASES)
def test_coord_single_image_second_derivatives_match_concatenation(border, case):
    """Gradients of gradients (input, weight and output gradient) equal those of the formula."""
    layer, size = single_image_layer(border, case)
    x = torch.randn(1, 2, *size, dtype=torch.float64, requires_grad=True)
    results = []
    for forward in (layer, lambda t: formula(layer, t)):
        out = forward(x)
        probe = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        probe.requires_grad_()
        grad_x, grad_w = torch.autograd.grad((out * probe).sum(), [x, layer.weight], create_graph=True)
        mix = (grad_x * torch.cos(x)).sum() + (grad_w * torch.sin(layer.weight)).sum()
        results.append(torch.autograd.grad(mix, [x, layer.weight, probe]))
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("case", SINGLE_IMAGE_CASES)
def test_coord_single_image_without_autograd(case, layout):
    """With and without autograd, unbatched too, in both memory layouts."""
    layer, size = single_image_layer("zeros", case, dtype=torch.float32)
    x = torch.randn(1, 2, *size).to(memory_format=layout)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), formula(layer, x), rtol=1e-4, atol=1e-4)
    with torch.inference_mode():
        torch.testing.assert_close(layer(x[0]), formula(layer, x)[0], rtol=1e-4, atol=1e-4)
    check_values_and_gradients(layer, x, atol=1e-4)


# ---- caches: bounded, keyed by what changes them, outside the state_dict -----------------------


CACHES = {
    "partial ratio": lambda: _partial.ratio_map,
    "coord factors": lambda: _coord.coord_factors,
    "coord image": lambda: _coord.coord_image,
}


@pytest.mark.parametrize("name", list(CACHES))
def test_caches_are_bounded_lru(name):
    cache = CACHES[name]()
    assert cache.cache_info().maxsize is not None


@pytest.mark.parametrize("mode", ["partial", "coord"])
def test_varying_sizes_and_dtypes_never_mix_cached_maps(mode):
    """Many input sizes in a row (more than a cache holds) then the first again: always right."""
    setting = {"kernel": (3, 3), "stride": (2, 1), "dilation": (1, 1), "size": (5, 5), "padding": "same"}
    layer = build(padmods.get(mode), setting)
    sizes = [(h, w) for h in range(3, 12) for w in (4, 9)] * 2
    for h, w in sizes:
        x = torch.randn(1, 2, h, w, dtype=torch.float64)
        torch.testing.assert_close(layer(x), formula(layer, x))
    for dtype in (torch.float32, torch.float64):
        layer = layer.to(dtype)
        x = torch.randn(1, 2, 7, 6, dtype=dtype)
        torch.testing.assert_close(layer(x), formula(layer, x), rtol=1e-4, atol=1e-4)
    for name in CACHES:
        info = CACHES[name]().cache_info()
        assert info.currsize <= info.maxsize


@pytest.mark.parametrize("mode", ["partial", "coord"])
def test_state_dict_holds_only_parameters(mode):
    layer = padmods.create(mode, 2, 3, 3, padding=1)
    layer(torch.randn(1, 2, 8, 8))
    assert set(layer.state_dict()) == {"weight", "bias"}
