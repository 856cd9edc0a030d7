"""Partial convolution with holes: ``layer(x, mask)`` against a loop written from NVIDIA's definition.

The reference counts, for every output position, the valid mask taps of its window in float64
numpy loops (never calling padmods), then applies ``window / count`` and the bias where the count
is positive and gives 0 elsewhere. Then the equivalences (an all-ones mask is partial padding,
``layer(x)`` is untouched), gradients, half precision, ``.to()`` and the error messages.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

import padmods
from padmods._masked import masked_partial_conv
from padmods._partial import ratio_map
from padmods.layers.partial import PartialConvNd

from _reference import same_pads

CLASSES = {1: padmods.PartialConv1d, 2: padmods.PartialConv2d, 3: padmods.PartialConv3d}

# ---- the reference ---------------------------------------------------------------------------


def pairs_for(padding, sizes, kernel, stride, dilation):
    """One (before, after) per axis for an int per axis or 'same' (TensorFlow's rule)."""
    if padding == "same":
        return [same_pads(*args) for args in zip(sizes, kernel, stride, dilation, strict=True)]
    return [(p, p) for p in padding]


def reference(x, mask, weight, bias, stride, pairs, dilation, groups):
    """(output, updated mask) of a batched input by loops over outputs, channels and taps, in float64.

    A one-channel mask is shared by the input channels and counts each tap once; a mask with one
    channel per input channel counts the valid (channel, tap) pairs of the output's group.
    """
    x = np.asarray(x, dtype=np.float64)
    mask = np.asarray(mask, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    b = None if bias is None else np.asarray(bias, dtype=np.float64)
    n, _, *sizes = x.shape
    c_out, c_group, *kernel = w.shape
    per_channel = mask.shape[1] != 1
    outs = [
        (size + before + after - d * (k - 1) - 1) // s + 1
        for size, k, s, d, (before, after) in zip(sizes, kernel, stride, dilation, pairs, strict=True)
    ]
    out = np.zeros((n, c_out, *outs))
    updated = np.zeros((n, c_out if per_channel else 1, *outs))
    per_group = c_out // groups
    for batch, o in itertools.product(range(n), range(c_out)):
        group = o // per_group
        for position in itertools.product(*map(range, outs)):
            total, count, window = 0.0, 0.0, 0
            for tap in itertools.product(*map(range, kernel)):
                source = tuple(
                    p * s - before + t * d
                    for p, t, s, d, (before, _) in zip(position, tap, stride, dilation, pairs, strict=True)
                )
                inside = all(0 <= i < size for i, size in zip(source, sizes, strict=True))
                for j in range(c_group):
                    channel = group * c_group + j
                    counted = per_channel or j == 0  # a shared mask counts each tap once
                    window += counted
                    if not inside:
                        continue
                    m = mask[(batch, channel if per_channel else 0, *source)]
                    count += m if counted else 0.0
                    total += w[(o, j, *tap)] * x[(batch, channel, *source)] * m
            if count > 0:
                out[(batch, o, *position)] = total * window / count + (0.0 if b is None else b[o])
            updated[(batch, o if per_channel else 0, *position)] = float(count > 0)
    return out, updated


def random_mask(rng, shape, kernel, stride, dilation):
    """Random 0s and 1s with a box hole in every channel, large enough that some window sees only holes."""
    mask = (rng.random(shape) < 0.75).astype(np.float64)
    box = tuple(
        slice(1, 1 + d * (k - 1) + s) for k, s, d in zip(kernel, stride, dilation, strict=True)
    )  # the span of a window plus stride - 1: some window starts inside it
    mask[(slice(None), slice(None), *box)] = 0.0
    return mask


def build(dims, c_in, c_out, kernel, stride, dilation, padding, groups, bias, seed=0):
    torch.manual_seed(seed)
    layer = CLASSES[dims](
        c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias
    ).double()
    with torch.no_grad():
        layer.weight.normal_()
        if bias:
            layer.bias.normal_()
    return layer


def parameters(layer):
    return layer.weight.detach().numpy(), None if layer.bias is None else layer.bias.detach().numpy()


# ---- against the reference ---------------------------------------------------------------------

CASES = [
    # dims, sizes, c_in, c_out, kernel, stride, dilation, padding, groups, per_channel, bias, batched
    pytest.param(1, (11,), 2, 3, (3,), (1,), (1,), (1,), 1, False, True, True, id="1d-single"),
    pytest.param(1, (12,), 2, 3, (3,), (2,), (1,), (1,), 1, True, True, True, id="1d-per-channel-stride2"),
    pytest.param(1, (12,), 2, 2, (3,), (1,), (2,), "same", 1, True, False, False, id="1d-dilation2-same-unbatched"),
    pytest.param(2, (7, 8), 2, 3, (3, 3), (1, 1), (1, 1), (1, 1), 1, False, True, True, id="2d-single"),
    pytest.param(2, (7, 8), 3, 2, (3, 3), (1, 1), (1, 1), (1, 1), 1, True, True, True, id="2d-per-channel"),
    pytest.param(2, (8, 9), 2, 3, (3, 2), (2, 2), (1, 1), "same", 1, False, True, True, id="2d-stride2-same"),
    pytest.param(2, (8, 8), 2, 2, (3, 3), (1, 1), (2, 2), (2, 2), 1, True, False, True, id="2d-dilation2"),
    pytest.param(2, (7, 8), 2, 3, (4, 2), (1, 1), (1, 1), "same", 1, True, True, True, id="2d-same-asymmetric"),
    pytest.param(2, (7, 8), 2, 3, (3, 3), (1, 2), (1, 1), (0, 2), 1, False, True, True, id="2d-padding-per-axis"),
    pytest.param(2, (7, 7), 4, 4, (3, 3), (1, 1), (1, 1), (1, 1), 2, True, True, True, id="2d-groups2-per-channel"),
    pytest.param(2, (7, 7), 4, 2, (3, 3), (1, 1), (1, 1), (1, 1), 2, False, True, True, id="2d-groups2-single"),
    pytest.param(2, (7, 8), 2, 2, (3, 3), (1, 1), (1, 1), "same", 1, True, True, False, id="2d-unbatched"),
    pytest.param(3, (5, 6, 5), 2, 2, (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), 1, False, True, True, id="3d-single"),
    pytest.param(
        3, (6, 5, 6), 2, 2, (2, 3, 2), (2, 1, 2), (1, 1, 1), "same", 1, True, True, True, id="3d-per-channel-stride2"
    ),
    pytest.param(
        3, (5, 5, 6), 2, 2, (2, 2, 2), (1, 1, 1), (2, 1, 2), (1, 0, 1), 2, True, False, False, id="3d-dil2-groups2"
    ),
]


@pytest.mark.parametrize(
    (
        "dims",
        "sizes",
        "c_in",
        "c_out",
        "kernel",
        "stride",
        "dilation",
        "padding",
        "groups",
        "per_channel",
        "bias",
        "batched",
    ),
    CASES,
)
def test_layer_equals_loop_reference(
    dims, sizes, c_in, c_out, kernel, stride, dilation, padding, groups, per_channel, bias, batched
):
    rng = np.random.default_rng(dims * 100 + c_in)
    layer = build(dims, c_in, c_out, kernel, stride, dilation, padding, groups, bias)
    batch = 2 if batched else 1
    x = rng.standard_normal((batch, c_in, *sizes))
    mask = random_mask(rng, (batch, c_in if per_channel else 1, *sizes), kernel, stride, dilation)
    pairs = pairs_for(padding, sizes, kernel, stride, dilation)
    want, want_mask = reference(x, mask, *parameters(layer), stride, pairs, dilation, groups)
    assert 0 < want_mask.mean() < 1  # the case has outputs that saw only holes, and outputs that did not

    x_t, mask_t = torch.from_numpy(x), torch.from_numpy(mask)
    if batched:
        out, new_mask = layer(x_t, mask_t)
    else:
        out, new_mask = layer(x_t[0], mask_t[0])
        out, new_mask = out.unsqueeze(0), new_mask.unsqueeze(0)
    torch.testing.assert_close(out.detach(), torch.from_numpy(want), rtol=1e-10, atol=1e-10)
    assert new_mask.dtype == mask_t.dtype
    assert torch.equal(new_mask, torch.from_numpy(want_mask))


@pytest.mark.parametrize("per_channel", [False, True])
def test_engine_with_asymmetric_pairs_equals_loop_reference(per_channel):
    rng = np.random.default_rng(1)
    pairs, stride, dilation = ((0, 2), (2, 1)), (1, 2), (1, 1)
    x = rng.standard_normal((2, 2, 6, 7))
    mask = random_mask(rng, (2, 2 if per_channel else 1, 6, 7), (3, 3), stride, dilation)
    weight, bias = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    out, new_mask = masked_partial_conv(
        *map(torch.from_numpy, (x, mask, weight, bias)), stride, pairs, dilation, groups=1
    )
    want, want_mask = reference(x, mask, weight, bias, stride, pairs, dilation, 1)
    torch.testing.assert_close(out, torch.from_numpy(want), rtol=1e-10, atol=1e-10)
    assert torch.equal(new_mask, torch.from_numpy(want_mask))


def test_per_channel_groups_mark_each_group_separately():
    """Group 0 sees only holes on the left half, group 1 sees everything: the updated mask says so per channel."""
    layer = padmods.PartialConv2d(4, 6, 3, padding=1, groups=2, bias=False)
    mask = torch.ones(1, 4, 6, 6)
    mask[:, :2, :, :3] = 0
    out, new_mask = layer(torch.ones(1, 4, 6, 6), mask)
    assert new_mask.shape == (1, 6, 6, 6)
    assert torch.equal(new_mask[:, 3:], torch.ones(1, 3, 6, 6))
    assert torch.equal(new_mask[:, :3, :, :2], torch.zeros(1, 3, 6, 2))
    assert torch.equal(new_mask[:, :3, :, 2:], torch.ones(1, 3, 6, 4))
    assert torch.equal(out[:, :3, :, :2], torch.zeros(1, 3, 6, 2))


# ---- equivalences ------------------------------------------------------------------------------


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize(
    ("stride", "dilation", "padding", "groups"),
    [(1, 1, 1, 1), (2, 1, "same", 1), (1, 2, 2, 2), (1, 1, 0, 1)],
)
def test_all_ones_mask_is_partial_padding(dims, per_channel, stride, dilation, padding, groups):
    torch.manual_seed(0)
    layer = CLASSES[dims](4, 4, 3, stride=stride, padding=padding, dilation=dilation, groups=groups)
    x = torch.randn(2, 4, *(9, 7, 6)[:dims])
    mask = torch.ones(2, 4 if per_channel else 1, *x.shape[2:])
    out, new_mask = layer(x, mask)
    torch.testing.assert_close(out, layer(x), rtol=1e-6, atol=1e-6)
    assert torch.equal(new_mask, torch.ones(2, 4 if per_channel else 1, *out.shape[2:]))


def test_all_ones_mask_window_on_padding_only_is_zero_not_bias():
    """Padding 3 > kernel span: the corner windows see no pixel; padding gives the bias there, holes 0."""
    torch.manual_seed(0)
    layer = padmods.PartialConv2d(2, 3, 3, padding=3).double()
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    out, new_mask = layer(x, torch.ones(1, 1, 5, 5, dtype=torch.float64))
    inside = padmods.functional.partial_ratio((5, 5), 3, padding=3, dtype=torch.float64) > 0
    assert torch.equal(new_mask[0, 0], inside.double())
    assert not inside.all()
    torch.testing.assert_close(out[..., inside], layer(x)[..., inside], rtol=1e-12, atol=1e-12)
    assert torch.equal(out[..., ~inside], torch.zeros_like(out[..., ~inside]))
    torch.testing.assert_close(layer(x)[..., ~inside], layer.bias.view(1, 3, 1).expand(1, 3, int((~inside).sum())))


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_one_tensor_call_is_unchanged(dims):
    torch.manual_seed(0)
    layer = CLASSES[dims](2, 3, 3, stride=2, padding="same")
    x = torch.randn(2, 2, *(9, 7, 6)[:dims])
    want = padmods.functional.partial_conv(x, layer.weight, layer.bias, stride=2, padding="same")
    assert torch.equal(layer(x), want)
    assert torch.equal(layer(x, None), want)
    assert torch.equal(layer(x[0]), padmods.functional.partial_conv(x[0], layer.weight, layer.bias, 2, "same"))


def test_sequential_still_works():
    torch.manual_seed(0)
    first, second = padmods.PartialConv2d(3, 4, 3, padding=1), padmods.PartialConv2d(4, 2, 3, padding=1)
    model = nn.Sequential(first, nn.ReLU(), second)
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(model(x), second(torch.relu(first(x))))


def test_updated_mask_feeds_the_next_layer():
    torch.manual_seed(0)
    first, second = padmods.PartialConv2d(3, 4, 3, padding=1), padmods.PartialConv2d(4, 2, 3, padding=1)
    x, mask = torch.randn(2, 3, 8, 8), torch.ones(2, 3, 8, 8)
    mask[:, :, 2:7, 2:7] = 0
    hidden, mask1 = first(x, mask)
    assert mask1.shape == (2, 4, 8, 8)
    out, mask2 = second(hidden, mask1)
    assert out.shape == (2, 2, 8, 8)
    assert mask2.shape == (2, 2, 8, 8)
    assert torch.equal(mask1, mask1[:, :1].expand_as(mask1))  # groups=1: one count for every output channel
    holes = [(1 - m[:, 0]).sum().item() for m in (mask, mask1, mask2)]
    assert holes[0] > holes[1] > holes[2] > 0  # each layer shrinks the hole


@pytest.mark.parametrize("mask_dtype", [torch.bool, torch.float16, torch.float64])
def test_mask_dtype_is_kept_and_does_not_change_the_output(mask_dtype):
    torch.manual_seed(0)
    layer = padmods.PartialConv2d(2, 3, 3, padding=1)
    x, mask = torch.randn(2, 2, 6, 6), (torch.rand(2, 1, 6, 6) < 0.5).float()
    want, want_mask = layer(x, mask)
    out, new_mask = layer(x, mask.to(mask_dtype))
    assert out.dtype == x.dtype
    assert new_mask.dtype == mask_dtype
    assert torch.equal(out, want)
    assert torch.equal(new_mask, want_mask.to(mask_dtype))


def test_pixels_in_holes_are_never_read():
    torch.manual_seed(0)
    layer = padmods.PartialConv2d(2, 3, 3, padding=1)
    mask = torch.ones(1, 1, 7, 7)
    mask[..., 2:6, 1:5] = 0
    x = torch.randn(1, 2, 7, 7)
    garbage = x.masked_fill(mask == 0, float("nan"))
    garbage[..., 3, 2] = float("inf")
    out, _ = layer(garbage, mask)
    assert torch.equal(out, layer(x * mask, mask)[0])


# ---- gradients ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("per_channel", [False, True])
def test_gradcheck_float64(dims, per_channel):
    layer = build(dims, 2, 2, 3, 1, 1, "same", 1, True)
    sizes = (6, 5, 4)[:dims] if dims < 3 else (4, 4, 3)
    x = torch.randn(1, 2, *sizes, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(1, 2 if per_channel else 1, *sizes, dtype=torch.float64)
    mask[(..., *[slice(0, 3)] * dims)] = 0  # some windows see only holes
    mask[(..., *[slice(3, 4)] * dims)] = 0

    def f(input, weight, bias):
        return torch.func.functional_call(layer, {"weight": weight, "bias": bias}, (input, mask))[0]

    assert torch.autograd.gradcheck(f, (x, layer.weight, layer.bias))
    grad = torch.autograd.grad(f(x, layer.weight, layer.bias).sum(), x)[0]
    assert torch.equal(grad * (mask == 0), torch.zeros_like(grad))  # holes get no gradient


# ---- dtypes, devices, state --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("per_channel", [False, True])
def test_half_precision_hole_larger_than_kernel(dtype, per_channel):
    torch.manual_seed(0)
    layer = padmods.PartialConv2d(3, 4, 3, padding=1).to(dtype)
    x = torch.randn(2, 3, 12, 12, dtype=dtype)
    mask = torch.ones(2, 3 if per_channel else 1, 12, 12, dtype=dtype)
    mask[..., 3:9, 2:10] = 0  # 6x8 hole: the 4x6 outputs inside it see no valid pixel
    out, new_mask = layer(x, mask)
    assert out.dtype == dtype
    assert new_mask.dtype == dtype
    assert torch.isfinite(out).all()
    assert torch.equal(out[..., 4:8, 3:9], torch.zeros(2, 4, 4, 6, dtype=dtype))
    assert torch.equal(new_mask[..., 4:8, 3:9], torch.zeros(2, new_mask.shape[1], 4, 6, dtype=dtype))
    assert new_mask.sum() == new_mask.shape[0] * new_mask.shape[1] * (144 - 24)
    want, _ = reference(
        x.double().numpy(), mask.double().numpy(), *parameters(layer.double()), (1, 1), ((1, 1), (1, 1)), (1, 1), 1
    )
    torch.testing.assert_close(out.double(), torch.from_numpy(want), rtol=5e-2, atol=5e-2)


def test_to_between_calls_just_works():
    torch.manual_seed(0)
    layer = padmods.PartialConv2d(2, 3, 3, padding=1)
    state = set(layer.__dict__), [name for name, _ in layer.named_buffers()]
    mask = torch.ones(1, 1, 6, 6)
    mask[..., 1:5, 1:4] = 0
    x = torch.randn(1, 2, 6, 6)
    first, _ = layer(x, mask)
    assert first.dtype == torch.float32
    layer.to(torch.float64)
    out, new_mask = layer(x.double(), mask)  # a float32 mask with a float64 layer
    assert out.dtype == torch.float64
    assert new_mask.dtype == torch.float32
    want, _ = reference(x.numpy(), mask.numpy(), *parameters(layer), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    torch.testing.assert_close(out, torch.from_numpy(want), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out.float(), first, rtol=1e-5, atol=1e-5)
    layer.to(torch.bfloat16)
    out, _ = layer(x.bfloat16(), mask.bool())
    assert out.dtype == torch.bfloat16
    assert torch.isfinite(out).all()
    assert (set(layer.__dict__), [name for name, _ in layer.named_buffers()]) == state  # nothing kept


def test_border_ratio_cache_is_untouched():
    layer = padmods.PartialConv2d(2, 2, 3, padding=1)
    x, mask = torch.randn(1, 2, 13, 11), torch.ones(1, 1, 13, 11)
    before = ratio_map.cache_info()
    layer(x, mask)
    assert ratio_map.cache_info() == before


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_every_partial_layer_is_the_mixin(dims):
    layer = padmods.get("partial", dims)(2, 2, 3)
    assert isinstance(layer, PartialConvNd)
    assert isinstance(layer, nn.Conv1d if dims == 1 else nn.Conv2d if dims == 2 else nn.Conv3d)
    assert layer(torch.ones(1, 2, *[5] * dims), torch.ones(1, 1, *[5] * dims))[1].shape == (1, 1, *[3] * dims)


# ---- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mask_shape", "message"),
    [
        ((2, 2, 6, 6), r"got a mask of shape \(2, 2, 6, 6\)$"),
        ((2, 1, 6, 5), r"got a mask of shape \(2, 1, 6, 5\)$"),
        ((1, 6, 6), r"got a mask of shape \(1, 6, 6\)$"),
        ((3, 1, 6, 6), r"got a mask of shape \(3, 1, 6, 6\); its batch size is 3, the input's 2$"),
        ((1, 3, 6, 6), r"got a mask of shape \(1, 3, 6, 6\); its batch size is 1, the input's 2$"),
    ],
)
def test_wrong_mask_shape_names_expected_and_given(mask_shape, message):
    layer = padmods.PartialConv2d(3, 2, 3)
    expected = (
        r"^PartialConv2d\(3, 2, kernel_size=\(3, 3\), stride=\(1, 1\)\) expects a mask of shape "
        r"\(N, 1, H, W\) or \(N, C, H, W\), i\.e\. \(2, 1, 6, 6\) or \(2, 3, 6, 6\) for its input of shape "
        r"\(2, 3, 6, 6\), "
    )
    with pytest.raises(ValueError, match=expected + message):
        layer(torch.zeros(2, 3, 6, 6), torch.ones(mask_shape))


def test_unbatched_input_takes_an_unbatched_mask():
    layer = padmods.PartialConv1d(3, 2, 3)
    with pytest.raises(ValueError, match=r"mask of shape \(1, L\) or \(C, L\), i.e. \(1, 8\) or \(3, 8\)"):
        layer(torch.zeros(3, 8), torch.ones(1, 1, 8))


@pytest.mark.parametrize("value", [0.5, 2.0, -1.0, float("nan")])
def test_mask_of_other_values_than_0_and_1_is_refused(value):
    layer = padmods.PartialConv2d(2, 2, 3)
    mask = torch.ones(1, 1, 5, 5)
    mask[0, 0, 2, 3] = value
    with pytest.raises(ValueError, match=rf"PartialConv2d\(.*\) expects a mask of 0s and 1s .*got the value {value}"):
        layer(torch.zeros(1, 2, 5, 5), mask)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (
            torch.ones(1, 1, 5, 5, dtype=torch.int64),
            "expects a floating-point or bool mask of 0s and 1s, got dtype torch.int64",
        ),
        (np.ones((1, 1, 5, 5)), "expects the mask to be a torch.Tensor, got ndarray"),
    ],
)
def test_mask_of_other_types_is_refused(mask, message):
    layer = padmods.PartialConv2d(2, 2, 3)
    with pytest.raises(TypeError, match=r"PartialConv2d\(.*\) " + message):
        layer(torch.zeros(1, 2, 5, 5), mask)


def test_mask_on_another_device_is_refused():
    layer = padmods.PartialConv2d(2, 2, 3)
    with pytest.raises(ValueError, match=r"expects the mask on the input's device cpu, got meta"):
        layer(torch.zeros(1, 2, 5, 5), torch.ones(1, 1, 5, 5, device="meta"))


def test_window_size_is_the_kernel_times_channels_per_group():
    """Hand-worked: a per-channel mask with one valid channel of two scales the valid tap by 2 * 9."""
    layer = padmods.PartialConv2d(2, 1, 3, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    mask = torch.zeros(1, 2, 3, 3)
    mask[0, 1, 1, 1] = 1
    out, new_mask = layer(torch.full((1, 2, 3, 3), 2.0), mask)
    assert out.item() == 2.0 * 2 * 9 / 1
    assert new_mask.shape == (1, 1, 1, 1)
    assert math.isclose(new_mask.item(), 1.0)


def test_compiles_without_graph_breaks():
    torch.manual_seed(0)
    layer = padmods.PartialConv2d(3, 4, 3, padding=1)
    x, mask = torch.randn(2, 3, 8, 8), torch.ones(2, 3, 8, 8)
    mask[..., 2:6, 1:7] = 0
    compiled = torch.compile(layer, backend="eager", fullgraph=True)
    for got, want in zip(compiled(x, mask), layer(x, mask), strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("batched", [True, False])
def test_functional_twin_with_a_mask_equals_the_layer(per_channel, batched):
    torch.manual_seed(0)
    layer = padmods.PartialConv2d(3, 4, 3, stride=2, padding="same", dtype=torch.float64)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    mask = (torch.rand(2, 3 if per_channel else 1, 7, 6) > 0.4).double()
    if not batched:
        x, mask = x[0], mask[0]
    got = padmods.functional.partial_conv(x, layer.weight, layer.bias, 2, "same", mask=mask)
    want = layer(x, mask)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=0)
    with pytest.raises(ValueError, match="partial_conv expects a mask of shape"):
        padmods.functional.partial_conv(x, layer.weight, mask=mask[..., :-1])


# ---- jit.trace: the mask's layout is not a constant of the trace ---------------------------------

jit_deprecation = pytest.mark.filterwarnings("ignore:`torch.jit.trace.*` is deprecated:DeprecationWarning")


@jit_deprecation
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize(("traced_with", "run_with"), [("one", "per-channel"), ("per-channel", "one")])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_jit_trace_takes_either_mask_layout(dims, traced_with, run_with, groups, batched):
    """Traced with a one-channel mask and run with a per-channel one (or the other way), the trace equals the loops.

    The output and the updated mask, its shape included (one channel, or one per output channel),
    follow the mask the program gets, as the eager layer's do.
    """
    sizes, kernel, stride, dilation = ((9,), (7, 8), (5, 6, 5))[dims - 1], (3,) * dims, (2,) * dims, (1,) * dims
    layer = build(dims, 4, 6, kernel, stride, dilation, "same", groups, bias=True)
    rng = np.random.default_rng(dims)
    channels = {"one": 1, "per-channel": 4}

    def operands(layout, batch, spatial):
        x = rng.standard_normal((batch, 4, *spatial))
        return x, random_mask(rng, (batch, channels[layout], *spatial), kernel, stride, dilation)

    example = [torch.from_numpy(a) for a in operands(traced_with, 2, sizes)]
    if not batched:
        example = [a[0] for a in example]
    traced = torch.jit.trace(layer, tuple(example))
    for batch, spatial in ((2 if batched else 1, sizes), (3 if batched else 1, tuple(n + 3 for n in sizes))):
        x, mask = operands(run_with, batch, spatial)
        pairs = pairs_for("same", spatial, kernel, stride, dilation)
        want, want_mask = reference(x, mask, *parameters(layer), stride, pairs, dilation, groups)
        x_t, mask_t = torch.from_numpy(x), torch.from_numpy(mask)
        if batched:
            out, new_mask = traced(x_t, mask_t)
        else:
            out, new_mask = traced(x_t[0], mask_t[0])
            out, new_mask = out.unsqueeze(0), new_mask.unsqueeze(0)
        torch.testing.assert_close(out.detach(), torch.from_numpy(want), rtol=1e-10, atol=1e-10)
        assert new_mask.shape == want_mask.shape
        assert torch.equal(new_mask, torch.from_numpy(want_mask))


@jit_deprecation
@pytest.mark.parametrize("traced_with", [1, 4])
def test_jit_trace_refuses_a_mask_of_another_channel_count(traced_with):
    """A mask of 3 channels for 4 input channels is neither layout: the eager layer and the trace refuse it."""
    layer = padmods.PartialConv2d(4, 6, 3, padding=1, groups=2)
    traced = torch.jit.trace(layer, (torch.randn(2, 4, 8, 8), torch.ones(2, traced_with, 8, 8)))
    x, mask = torch.randn(2, 4, 8, 8), torch.ones(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"expects a mask of shape \(N, 1, H, W\) or \(N, C, H, W\)"):
        layer(x, mask)
    with pytest.raises(RuntimeError, match="expanded size"):
        traced(x, mask)
