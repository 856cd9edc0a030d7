"""The N-d engine of :mod:`padmods.functional` against independent references written in numpy.

Each reference is built from the definitions alone, with numpy and plain Python loops: ``np.pad``
for the four borders, a loop-based cross-correlation with stride, dilation and groups, loop counts
of the kernel taps that land inside the input for the partial-convolution ratio, and
``np.linspace``/``np.meshgrid`` for CoordConv's coordinates. None of them calls padmods, nor
torch's padding or convolutions. Every check runs in 1-D, 2-D and 3-D, in float64.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import padmods.functional as pf

N_AXES = (1, 2, 3)

#: padmods' border modes and the np.pad mode that defines each.
NUMPY_PAD_MODES = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
    "symmetric": "symmetric",
}
TORCH_MODES = tuple(NUMPY_PAD_MODES)
COORD_PADS = (*TORCH_MODES, "partial")

RTOL, ATOL = 1e-10, 1e-12


# ---------------------------------------------------------------- numpy references ----------


def per_axis(value, n_axes: int) -> tuple[int, ...]:
    """An int applies to every axis; a sequence gives one value per axis."""
    if isinstance(value, int):
        return (value,) * n_axes
    assert len(value) == n_axes
    return tuple(value)


def same_padding_pairs(sizes, kernel, stride, dilation) -> tuple[tuple[int, int], ...]:
    """TensorFlow's 'same': ceil(n/s) outputs; total padding split total//2 before, the rest after."""
    pairs = []
    for n, k, s, d in zip(sizes, kernel, stride, dilation, strict=True):
        outputs = -(-n // s)
        total = max((outputs - 1) * s + d * (k - 1) + 1 - n, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def padding_pairs(padding, sizes, kernel, stride=1, dilation=1) -> tuple[tuple[int, int], ...]:
    """The (before, after) pairs of an int, a per-axis tuple, 'valid' or 'same'."""
    n_axes = len(sizes)
    kernel, stride, dilation = (per_axis(v, n_axes) for v in (kernel, stride, dilation))
    if padding == "valid":
        return ((0, 0),) * n_axes
    if padding == "same":
        return same_padding_pairs(sizes, kernel, stride, dilation)
    return tuple((p, p) for p in per_axis(padding, n_axes))


def conv_output_length(padded_length: int, kernel: int, stride: int, dilation: int) -> int:
    return (padded_length - dilation * (kernel - 1) - 1) // stride + 1


def numpy_pad(x: np.ndarray, pairs, mode: str) -> np.ndarray:
    """Pad the last len(pairs) axes of ``x`` with np.pad in the numpy mode that defines ``mode``."""
    widths = [(0, 0)] * (x.ndim - len(pairs)) + [tuple(pair) for pair in pairs]
    if mode == "zeros":
        return np.pad(x, widths, mode="constant", constant_values=0.0)
    return np.pad(x, widths, mode=NUMPY_PAD_MODES[mode])


def loop_cross_correlation(x, weight, bias=None, stride=1, dilation=1, groups=1) -> np.ndarray:
    """Cross-correlation of an already padded ``x`` of shape (N, C_in, *S), one output and tap at a time.

    out[b, o, p] = bias[o] + sum over input channels c of o's group and taps t of
    weight[o, c, t] * x[b, c, p * stride + t * dilation].
    """
    n_axes = weight.ndim - 2
    stride, dilation = per_axis(stride, n_axes), per_axis(dilation, n_axes)
    batch, c_in = x.shape[:2]
    c_out, c_per_group = weight.shape[:2]
    assert c_in == c_per_group * groups
    assert c_out % groups == 0
    kernel = weight.shape[2:]
    out_size = tuple(
        conv_output_length(n, k, s, d) for n, k, s, d in zip(x.shape[2:], kernel, stride, dilation, strict=True)
    )
    out = np.zeros((batch, c_out, *out_size))
    out_per_group = c_out // groups
    for g in range(groups):
        ins = slice(g * c_per_group, (g + 1) * c_per_group)
        outs = slice(g * out_per_group, (g + 1) * out_per_group)
        for position in np.ndindex(*out_size):
            acc = np.zeros((batch, out_per_group))
            for tap in np.ndindex(*kernel):
                source = tuple(p * s + t * d for p, t, s, d in zip(position, tap, stride, dilation, strict=True))
                # (batch, c_per_group) @ (c_per_group, out_per_group): the sum over the group's channels
                acc += x[(slice(None), ins, *source)] @ weight[(outs, slice(None), *tap)].T
            out[(slice(None), outs, *position)] = acc
    if bias is not None:
        out += bias.reshape(1, c_out, *([1] * n_axes))
    return out


def numpy_padded_conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, mode="zeros") -> np.ndarray:
    """np.pad in ``mode``, then the loop cross-correlation; ``x`` is batched."""
    kernel = weight.shape[2:]
    pairs = padding_pairs(padding, x.shape[2:], kernel, stride, dilation)
    return loop_cross_correlation(numpy_pad(x, pairs, mode), weight, bias, stride, dilation, groups)


def loop_partial_ratio(input_size, kernel, stride=1, padding=0, dilation=1) -> np.ndarray:
    """prod(k) / c per output, c counting the taps that land inside the input; 0 where c == 0."""
    n_axes = len(input_size)
    kernel, stride, dilation = (per_axis(v, n_axes) for v in (kernel, stride, dilation))
    pairs = padding_pairs(padding, input_size, kernel, stride, dilation)
    out_size = tuple(
        conv_output_length(n + before + after, k, s, d)
        for n, (before, after), k, s, d in zip(input_size, pairs, kernel, stride, dilation, strict=True)
    )
    window = math.prod(kernel)
    ratio = np.zeros(out_size)
    for position in np.ndindex(*out_size):
        count = 0
        for tap in np.ndindex(*kernel):
            inside = True
            for p, t, n, (before, _), s, d in zip(position, tap, input_size, pairs, stride, dilation, strict=True):
                source = p * s - before + t * d
                if not 0 <= source < n:
                    inside = False
            count += inside
        ratio[position] = window / count if count else 0.0
    return ratio


def numpy_partial_conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """Zero padding and the loop cross-correlation without bias, times the loop ratio, plus bias."""
    out = numpy_padded_conv(x, weight, None, stride, padding, dilation, groups, "zeros")
    out = out * loop_partial_ratio(x.shape[2:], weight.shape[2:], stride, padding, dilation)
    if bias is not None:
        out += bias.reshape(1, -1, *([1] * (weight.ndim - 2)))
    return out


def numpy_coord_channels(sizes, with_r: bool = False) -> np.ndarray:
    """Channel i is linspace(-1, 1) along the i-th axis from the end; with_r adds the scaled radius."""
    grids = np.meshgrid(*(np.linspace(-1.0, 1.0, n) for n in sizes), indexing="ij")
    channels = list(reversed(grids))  # grids[i] varies along axis i; channel 0 along the last
    if with_r:
        channels.append(np.sqrt(sum(c**2 for c in channels)) / np.sqrt(len(sizes)))
    return np.stack(channels)


def numpy_coord_conv(x, weight, bias=None, stride=1, padding=0, dilation=1, with_r=False, pad="zeros"):
    """Concatenate the coordinate channels to ``x`` (batched), then pad and convolve both alike."""
    coords = numpy_coord_channels(x.shape[2:], with_r)
    full = np.concatenate([x, np.broadcast_to(coords, (x.shape[0], *coords.shape))], axis=1)
    if pad == "partial":
        return numpy_partial_conv(full, weight, bias, stride, padding, dilation)
    return numpy_padded_conv(full, weight, bias, stride, padding, dilation, 1, pad)


# ---------------------------------------------------------------- test helpers ----------


def tensor(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(array, dtype=torch.float64, requires_grad=requires_grad)


def assert_matches(actual: torch.Tensor, expected: np.ndarray) -> None:
    assert actual.dtype == torch.float64
    assert tuple(actual.shape) == expected.shape
    np.testing.assert_allclose(actual.detach().numpy(), expected, rtol=RTOL, atol=ATOL)


def conv_operands(rng, n_axes, sizes, kernel, c_in, c_out, groups, bias, batch=2, extra_channels=0):
    """Random float64 (input, weight, bias) as numpy arrays; bias None unless asked for."""
    x = rng.standard_normal((batch, c_in, *sizes))
    weight = rng.standard_normal((c_out, (c_in + extra_channels) // groups, *kernel[:n_axes]))
    b = rng.standard_normal(c_out) if bias else None
    return x, weight, b


def optional_tensor(array):
    return None if array is None else tensor(array)


#: Spatial sizes of the convolution tests; tiny, so that the loop references stay fast.
CONV_SIZES = {1: (7,), 2: (5, 6), 3: (4, 5, 3)}

#: Convolution arguments; kernel, and tuple-valued padding/stride/dilation, are cut to the number of axes.
CONV_CASES = {
    "int_padding_bias": {"kernel": (3, 3, 3), "padding": 1, "stride": 1, "dilation": 1, "groups": 1, "bias": True},
    "same_stride2_groups2": {
        "kernel": (3, 2, 3),
        "padding": "same",
        "stride": 2,
        "dilation": 1,
        "groups": 2,
        "bias": True,
    },
    "per_axis_args_unbatched": {
        "kernel": (2, 3, 2),
        "padding": (2, 1, 0),
        "stride": (1, 2, 1),
        "dilation": (2, 1, 2),
        "groups": 1,
        "bias": False,
        "batched": False,
    },
    "same_stride3_dilation2_groups2": {
        "kernel": (2, 2, 2),
        "padding": "same",
        "stride": 3,
        "dilation": 2,
        "groups": 2,
        "bias": True,
    },
    "same_dilation2": {"kernel": (3, 3, 3), "padding": "same", "stride": 1, "dilation": 2, "groups": 1, "bias": True},
    "valid_stride2": {"kernel": (3, 3, 2), "padding": "valid", "stride": 2, "dilation": 1, "groups": 1, "bias": True},
}


def case_args(case: dict, n_axes: int) -> tuple:
    """(kernel, padding, stride, dilation) of a case, tuples cut to ``n_axes``."""

    def cut(value):
        return value[:n_axes] if isinstance(value, tuple) else value

    return case["kernel"][:n_axes], cut(case["padding"]), cut(case["stride"]), cut(case["dilation"])


# ---------------------------------------------------------------- 1. pad ----------

PAD_SIZES = {1: (5,), 2: (4, 3), 3: (3, 1, 4)}


def torch_limit(mode: str, size: int) -> int:
    """Largest pad torch allows on an axis of ``size``; modes without a limit (symmetric too) get size + 2."""
    return {"reflect": size - 1, "circular": size}.get(mode, size + 2)


def pad_pairs(kind: str, mode: str, sizes) -> tuple[tuple[int, int], ...]:
    limits = [torch_limit(mode, n) for n in sizes]
    if kind == "none":
        return ((0, 0),) * len(sizes)
    if kind == "limit_one_side":  # the limit on one side, zero on the other, alternating by axis
        return tuple((lim, 0) if i % 2 == 0 else (0, lim) for i, lim in enumerate(limits))
    if kind == "limit_both_sides":
        return tuple((lim, lim) for lim in limits)
    asymmetric = [(1, 2), (2, 0), (0, 1)]  # kind == "asymmetric"
    return tuple((min(b, lim), min(a, lim)) for (b, a), lim in zip(asymmetric, limits, strict=False))


@pytest.mark.parametrize("n_axes", N_AXES)
@pytest.mark.parametrize("mode", TORCH_MODES)
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("kind", ["asymmetric", "limit_one_side", "limit_both_sides", "none"])
def test_pad_matches_np_pad(n_axes, mode, batched, kind):
    sizes = PAD_SIZES[n_axes]
    pairs = pad_pairs(kind, mode, sizes)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, *sizes) if batched else (3, *sizes))
    out = pf.pad(tensor(x), pairs, mode)
    assert_matches(out, numpy_pad(x, pairs, mode))


@pytest.mark.parametrize("n_axes", N_AXES)
def test_pad_default_mode_is_zeros(n_axes):
    sizes = PAD_SIZES[n_axes]
    pairs = pad_pairs("asymmetric", "zeros", sizes)
    x = np.random.default_rng(1).standard_normal((1, 2, *sizes))
    assert_matches(pf.pad(tensor(x), pairs), numpy_pad(x, pairs, "zeros"))


# ---------------------------------------------------------------- 2. resolve_padding ----------

SAME_SIZES = {1: (7,), 2: (5, 8), 3: (4, 6, 1)}
SAME_KERNELS = {1: (3,), 2: (4, 1), 3: (3, 2, 5)}


@pytest.mark.parametrize("n_axes", N_AXES)
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
def test_resolve_padding_same_follows_tensorflow(n_axes, stride, dilation):
    sizes, kernel = SAME_SIZES[n_axes], SAME_KERNELS[n_axes]
    strides, dilations = (stride,) * n_axes, (dilation,) * n_axes
    expected = same_padding_pairs(sizes, kernel, strides, dilations)
    assert pf.resolve_padding("same", sizes, kernel, stride, dilation) == expected
    assert pf.resolve_padding("same", list(sizes), kernel, strides, dilations) == expected
    for n, k, (before, after) in zip(sizes, kernel, expected, strict=True):
        assert conv_output_length(n + before + after, k, stride, dilation) == math.ceil(n / stride)


@pytest.mark.parametrize("n_axes", N_AXES)
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
def test_padded_conv_same_gives_ceil_outputs(n_axes, stride, dilation):
    sizes, kernel = SAME_SIZES[n_axes], SAME_KERNELS[n_axes]
    x = torch.zeros(1, 1, *sizes, dtype=torch.float64)
    weight = torch.zeros(1, 1, *kernel, dtype=torch.float64)
    out = pf.padded_conv(x, weight, stride=stride, padding="same", dilation=dilation)
    assert tuple(out.shape[2:]) == tuple(math.ceil(n / stride) for n in sizes)


@pytest.mark.parametrize("n_axes", N_AXES)
def test_resolve_padding_same_with_per_axis_stride_and_dilation(n_axes):
    sizes, kernel = SAME_SIZES[n_axes], SAME_KERNELS[n_axes]
    strides, dilations = (3, 1, 2)[:n_axes], (2, 1, 2)[:n_axes]
    expected = same_padding_pairs(sizes, kernel, strides, dilations)
    assert pf.resolve_padding("same", sizes, kernel, strides, dilations) == expected


@pytest.mark.parametrize("n_axes", N_AXES)
def test_resolve_padding_int_tuple_and_valid(n_axes):
    sizes = SAME_SIZES[n_axes]
    assert pf.resolve_padding(2, sizes, 3) == ((2, 2),) * n_axes
    assert pf.resolve_padding((1, 0, 3)[:n_axes], sizes, 3) == ((1, 1), (0, 0), (3, 3))[:n_axes]
    assert pf.resolve_padding("valid", sizes, (5, 5, 5)[:n_axes], 2, 2) == ((0, 0),) * n_axes
    # kernel 1, stride 3 on 5 pixels: (2 - 1) * 3 + 1 - 5 < 0, clamped to no padding
    assert pf.resolve_padding("same", (5,) * n_axes, 1, 3) == ((0, 0),) * n_axes


# ---------------------------------------------------------------- 3. padded_conv ----------


@pytest.mark.parametrize("n_axes", N_AXES)
@pytest.mark.parametrize("mode", TORCH_MODES)
@pytest.mark.parametrize("case_name", list(CONV_CASES))
def test_padded_conv_matches_numpy(n_axes, mode, case_name):
    case = CONV_CASES[case_name]
    kernel, padding, stride, dilation = case_args(case, n_axes)
    groups, batched = case["groups"], case.get("batched", True)
    rng = np.random.default_rng(2)
    x, w, b = conv_operands(rng, n_axes, CONV_SIZES[n_axes], kernel, 4, 6, groups, case["bias"])
    expected = numpy_padded_conv(x, w, b, stride, padding, dilation, groups, mode)
    x_in = tensor(x) if batched else tensor(x[0])
    out = pf.padded_conv(x_in, tensor(w), optional_tensor(b), stride, padding, dilation, groups, mode)
    assert_matches(out, expected if batched else expected[0])


@pytest.mark.parametrize("n_axes", N_AXES)
def test_padded_conv_default_mode_is_zeros(n_axes):
    kernel, padding, stride, dilation = case_args(CONV_CASES["same_stride2_groups2"], n_axes)
    x, w, b = conv_operands(np.random.default_rng(3), n_axes, CONV_SIZES[n_axes], kernel, 2, 3, 1, True)
    out = pf.padded_conv(tensor(x), tensor(w), tensor(b), stride=stride, padding=padding, dilation=dilation)
    assert_matches(out, numpy_padded_conv(x, w, b, stride, padding, dilation, 1, "zeros"))


#: Small inputs of the gradient checks: a 1-D and a 3-D case with asymmetric 'same' padding.
GRADCHECK_CASES = {
    1: {"sizes": (5,), "kernel": (2,), "stride": 2, "dilation": 1},
    3: {"sizes": (3, 4, 2), "kernel": (2, 2, 2), "stride": (1, 2, 1), "dilation": (1, 1, 2)},
}


@pytest.mark.parametrize("n_axes", [1, 3])
@pytest.mark.parametrize("mode", TORCH_MODES)
def test_padded_conv_gradcheck(n_axes, mode):
    case = GRADCHECK_CASES[n_axes]
    rng = np.random.default_rng(4)
    x, w, b = conv_operands(rng, n_axes, case["sizes"], case["kernel"], 2, 2, 1, True, batch=1)
    inputs = (tensor(x, True), tensor(w, True), tensor(b, True))

    def function(x, w, b):
        return pf.padded_conv(x, w, b, case["stride"], "same", case["dilation"], 1, mode)

    assert torch.autograd.gradcheck(function, inputs)


# ---------------------------------------------------------------- 4. partial_ratio ----------

RATIO_SIZES = {1: (6,), 2: (5, 4), 3: (3, 4, 2)}
RATIO_CASES = {
    "padding1": {"kernel": (3, 3, 3), "padding": 1, "stride": 1, "dilation": 1},
    "stride2_dilation2": {"kernel": (3, 2, 3), "padding": 2, "stride": 2, "dilation": 2},
    "same_stride2": {"kernel": (4, 3, 2), "padding": "same", "stride": 2, "dilation": 1},
    "same_per_axis": {"kernel": (3, 2, 2), "padding": "same", "stride": (1, 3, 2), "dilation": (2, 1, 1)},
    "window_on_padding": {"kernel": (2, 2, 2), "padding": 3, "stride": 1, "dilation": 1},
    "valid": {"kernel": (2, 3, 2), "padding": "valid", "stride": 1, "dilation": 1},
}


@pytest.mark.parametrize("n_axes", N_AXES)
@pytest.mark.parametrize("case_name", list(RATIO_CASES))
def test_partial_ratio_matches_tap_counts(n_axes, case_name):
    kernel, padding, stride, dilation = case_args(RATIO_CASES[case_name], n_axes)
    sizes = RATIO_SIZES[n_axes]
    expected = loop_partial_ratio(sizes, kernel, stride, padding, dilation)
    if case_name == "window_on_padding":
        assert (expected == 0).any()  # some output reads only padding: its ratio is 0
    if case_name == "valid":
        assert (expected == 1).all()
    out = pf.partial_ratio(sizes, kernel, stride, padding, dilation, dtype=torch.float64)
    assert_matches(out, expected)


@pytest.mark.parametrize("n_axes", N_AXES)
def test_partial_ratio_accepts_int_kernel(n_axes):
    sizes = RATIO_SIZES[n_axes]
    out = pf.partial_ratio(sizes, 3, stride=2, padding="same", dilation=1, dtype=torch.float64)
    assert_matches(out, loop_partial_ratio(sizes, 3, 2, "same", 1))


# ---------------------------------------------------------------- 5. partial_conv ----------

PARTIAL_CASES = {
    **{name: CONV_CASES[name] for name in ("int_padding_bias", "same_stride2_groups2", "per_axis_args_unbatched")},
    "same_stride3_dilation2_groups2": CONV_CASES["same_stride3_dilation2_groups2"],
    "window_on_padding": {"kernel": (2, 2, 2), "padding": 3, "stride": 1, "dilation": 1, "groups": 1, "bias": True},
}


@pytest.mark.parametrize("n_axes", N_AXES)
@pytest.mark.parametrize("case_name", list(PARTIAL_CASES))
def test_partial_conv_matches_numpy(n_axes, case_name):
    case = PARTIAL_CASES[case_name]
    kernel, padding, stride, dilation = case_args(case, n_axes)
    groups, batched = case["groups"], case.get("batched", True)
    rng = np.random.default_rng(5)
    x, w, b = conv_operands(rng, n_axes, CONV_SIZES[n_axes], kernel, 4, 6, groups, case["bias"])
    expected = numpy_partial_conv(x, w, b, stride, padding, dilation, groups)
    if case_name == "window_on_padding":  # outputs that read only padding are the bias
        ratio = loop_partial_ratio(x.shape[2:], kernel, stride, padding, dilation)
        assert (ratio == 0).any()
        on_padding = expected[:, :, ratio == 0]  # (batch, c_out, outputs on padding)
        np.testing.assert_array_equal(on_padding, np.broadcast_to(b[None, :, None], on_padding.shape))
    x_in = tensor(x) if batched else tensor(x[0])
    out = pf.partial_conv(x_in, tensor(w), optional_tensor(b), stride, padding, dilation, groups)
    assert_matches(out, expected if batched else expected[0])


# ---------------------------------------------------------------- 6. coord_channels ----------


def test_coord_channels_example():
    expected = np.array([[[-1, 0, 1], [-1, 0, 1]], [[-1, -1, -1], [1, 1, 1]]], dtype=np.float64)
    assert_matches(pf.coord_channels(2, 3, dtype=torch.float64), expected)
    np.testing.assert_array_equal(numpy_coord_channels((2, 3)), expected)


@pytest.mark.parametrize(
    "sizes", [(1,), (5,), (2, 3), (1, 4), (3, 1), (2, 3, 4), (3, 1, 2), (1, 1, 1)], ids=lambda s: "x".join(map(str, s))
)
@pytest.mark.parametrize("with_r", [False, True], ids=["xyz", "with_r"])
def test_coord_channels_matches_numpy(sizes, with_r):
    expected = numpy_coord_channels(sizes, with_r)
    assert expected.shape == (len(sizes) + with_r, *sizes)
    out = pf.coord_channels(*sizes, with_r=with_r, dtype=torch.float64)
    assert_matches(out, expected)
    if with_r and all(n > 1 for n in sizes):
        corners = [(0, n - 1) for n in sizes]
        for corner in itertools.product(*corners):
            assert out[(-1, *corner)].item() == pytest.approx(1.0, rel=1e-12)


# ---------------------------------------------------------------- 7. coord_conv ----------

COORD_CASES = {
    "int_padding_bias": {"kernel": (3, 3, 3), "padding": 1, "stride": 1, "dilation": 1, "bias": True, "with_r": False},
    "same_stride2_with_r": {
        "kernel": (3, 2, 3),
        "padding": "same",
        "stride": 2,
        "dilation": 1,
        "bias": True,
        "with_r": True,
    },
    "same_stride2": {"kernel": (2, 3, 3), "padding": "same", "stride": 2, "dilation": 1, "bias": True, "with_r": False},
    "per_axis_args_with_r_unbatched": {
        "kernel": (2, 3, 2),
        "padding": (2, 1, 0),
        "stride": (1, 2, 1),
        "dilation": (2, 1, 2),
        "bias": False,
        "with_r": True,
        "batched": False,
    },
    "same_dilation2": {
        "kernel": (3, 3, 3),
        "padding": "same",
        "stride": 1,
        "dilation": 2,
        "bias": True,
        "with_r": False,
    },
}


@pytest.mark.parametrize("n_axes", N_AXES)
@pytest.mark.parametrize("pad", COORD_PADS)
@pytest.mark.parametrize("case_name", list(COORD_CASES))
def test_coord_conv_matches_numpy(n_axes, pad, case_name):
    case = COORD_CASES[case_name]
    kernel, padding, stride, dilation = case_args(case, n_axes)
    with_r, batched = case["with_r"], case.get("batched", True)
    extra = n_axes + with_r
    rng = np.random.default_rng(6)
    x, w, b = conv_operands(rng, n_axes, CONV_SIZES[n_axes], kernel, 2, 3, 1, case["bias"], extra_channels=extra)
    expected = numpy_coord_conv(x, w, b, stride, padding, dilation, with_r, pad)
    x_in = tensor(x) if batched else tensor(x[0])
    out = pf.coord_conv(x_in, tensor(w), optional_tensor(b), stride, padding, dilation, 1, with_r=with_r, pad=pad)
    assert_matches(out, expected if batched else expected[0])


@pytest.mark.parametrize("n_axes", N_AXES)
def test_coord_conv_default_pad_is_zeros(n_axes):
    kernel = (3, 3, 3)[:n_axes]
    x, w, b = conv_operands(
        np.random.default_rng(7), n_axes, CONV_SIZES[n_axes], kernel, 1, 2, 1, True, extra_channels=n_axes
    )
    out = pf.coord_conv(tensor(x), tensor(w), tensor(b), padding=1)
    assert_matches(out, numpy_coord_conv(x, w, b, 1, 1, 1, False, "zeros"))


@pytest.mark.parametrize("n_axes", [1, 3])
@pytest.mark.parametrize("pad", COORD_PADS)
def test_coord_conv_gradcheck(n_axes, pad):
    case = GRADCHECK_CASES[n_axes]
    rng = np.random.default_rng(8)
    x, w, b = conv_operands(
        rng, n_axes, case["sizes"], case["kernel"], 1, 2, 1, True, batch=1, extra_channels=n_axes + 1
    )
    inputs = (tensor(x, True), tensor(w, True), tensor(b, True))

    def function(x, w, b):
        return pf.coord_conv(x, w, b, case["stride"], "same", case["dilation"], 1, with_r=True, pad=pad)

    assert torch.autograd.gradcheck(function, inputs)
