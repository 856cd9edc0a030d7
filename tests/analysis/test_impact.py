"""Experiment 2: impact maps against hand-worked arrays and numpy references written from the math.

No expected value here is computed with padmods: they come from per-axis path counts (the all-ones
3x3 kernel is separable, so a 2-D map is the outer product of two 1-D count vectors).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import padmods
from padmods.analysis import conv_stack, impact_map

BUILT_IN = ("circular", "coord", "partial", "reflect", "replicate", "spherical", "symmetric", "zeros")


def as_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, dtype=np.float32))


# ---- per-axis references, numpy only -------------------------------------------------------------
def same_zero_counts(n: int, layers: int) -> np.ndarray:
    """Paths from each pixel through ``layers`` zero-padded 'same' box filters [1, 1, 1].

    Pixel i's impact is the i-th entry of 1^T A^L with A tridiagonal ones; A is symmetric, so it is
    A^L 1: convolve a ones vector with [1, 1, 1] L times, clipped to the image (zero outside).
    """
    v = np.ones(n)
    for _ in range(layers):
        v = np.convolve(v, np.ones(3), mode="same")
    return v


def valid_counts(n: int, layers: int) -> np.ndarray:
    """Paths through ``layers`` 'valid' box filters: the adjoint of a valid conv is a full conv."""
    v = np.ones(n - 2 * layers)
    for _ in range(layers):
        v = np.convolve(v, np.ones(3), mode="full")
    assert v.shape == (n,)
    return v


def pad_matrix(n: int, mode: str) -> np.ndarray:
    """The (n + 2) x n matrix that pads a length-n signal by one on each side, as ``mode`` does."""
    p = np.zeros((n + 2, n))
    p[1 : n + 1] = np.eye(n)
    if mode == "reflect":  # [a b c] -> [b | a b c | b]
        p[0, 1] = p[n + 1, n - 2] = 1
    elif mode in ("replicate", "symmetric"):  # [a b c] -> [a | a b c | c]: one pixel mirrored is the edge
        p[0, 0] = p[n + 1, n - 1] = 1
    elif mode == "circular":  # [a b c] -> [c | a b c | a]
        p[0, n - 1] = p[n + 1, 0] = 1
    return p


def layer_matrix(n: int, mode: str) -> np.ndarray:
    """One 'same' layer of the ones kernel along one axis: box filter after the padding."""
    box = np.zeros((n, n + 2))
    for o in range(n):
        box[o, o : o + 3] = 1
    if mode == "partial":  # rescale each output by 3 / (taps inside the image): 3/2 at both ends
        inside = np.full(n, 3.0)
        inside[[0, -1]] = 2.0
        return np.diag(3.0 / inside) @ box @ pad_matrix(n, "zeros")
    return box @ pad_matrix(n, mode)


def matrix_counts(n: int, layers: int, mode: str) -> np.ndarray:
    """1^T L^layers: how much each input position adds to the summed output, along one axis."""
    return np.ones(n) @ np.linalg.matrix_power(layer_matrix(n, mode), layers)


# ---- the article's reference values --------------------------------------------------------------
def test_one_valid_layer_on_10x10_is_the_outer_product_of_window_counts() -> None:
    counts = np.array([1, 2, 3, 3, 3, 3, 3, 3, 2, 1])  # how many 3-wide valid windows hold pixel i
    expected = np.outer(counts, counts)
    got = impact_map(conv_stack("zeros", padding="valid"), (1, 10, 10))
    assert torch.equal(got, as_tensor(expected))
    # a few entries worked out by hand
    assert got[0, 0] == 1  # a corner is in the top-left window only
    assert got[0, 1] == 2  # windows starting at columns 0 and 1
    assert got[1, 1] == 4  # 2 row windows x 2 column windows
    assert got[0, 5] == 3
    assert got[4, 6] == 9  # interior: every tap of the kernel sees it once
    border = torch.cat([got[0, 1:-1], got[-1, 1:-1], got[1:-1, 0], got[1:-1, -1]])
    assert set(border.tolist()) == {2.0, 3.0}
    assert torch.equal(got[[0, 0, -1, -1], [0, -1, 0, -1]], torch.ones(4))
    assert torch.all(got[2:-2, 2:-2] == 9)


def test_one_zero_same_layer_on_10x10_gives_corners_4_edges_6_interior_9() -> None:
    counts = np.array([2, 3, 3, 3, 3, 3, 3, 3, 3, 2])  # taps of the outputs around pixel i inside the image
    got = impact_map(conv_stack("zeros", padding="same"), (1, 10, 10))
    assert torch.equal(got, as_tensor(np.outer(counts, counts)))
    assert torch.equal(got[[0, 0, -1, -1], [0, -1, 0, -1]], torch.full((4,), 4.0))
    edges = torch.cat([got[0, 1:-1], got[-1, 1:-1], got[1:-1, 0], got[1:-1, -1]])
    assert torch.all(edges == 6)
    assert torch.all(got[1:-1, 1:-1] == 9)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_five_layers_on_28x28_match_the_path_count_reference(padding: str) -> None:
    counts = same_zero_counts(28, 5) if padding == "same" else valid_counts(28, 5)
    got = impact_map(conv_stack("zeros", layers=5, padding=padding), (1, 28, 28))
    assert torch.equal(got, as_tensor(np.outer(counts, counts)))
    centre = 3.0**10  # an interior pixel has 9^5 paths to the outputs
    if padding == "same":
        assert got[14, 14] == centre
        assert got[0, 0] == 96**2  # 1-D corner count: 2, 5, 13, 35, 96 (hand-iterated box filter)
    else:
        assert got[0, 0] == 1
        assert got[14, 14] == centre


def test_path_count_references_agree_with_each_other() -> None:
    # the banded-matrix reference and the clipped-convolution reference are two ways to count paths
    np.testing.assert_array_equal(matrix_counts(28, 5, "zeros"), same_zero_counts(28, 5))


# ---- every built-in mode against an independent matrix reference ---------------------------------
@pytest.mark.parametrize("mode", BUILT_IN)
def test_same_stacks_of_each_mode_match_the_padding_matrix_reference(mode: str) -> None:
    border = "zeros" if mode == "coord" else mode  # coordinate taps are 0 in a ones stack
    if mode == "spherical":
        # the rows past a pole are the edge row shifted half way round: a ones kernel sums whole
        # rows of a wrapped width, so the counts are those of symmetric rows and circular columns
        rows, columns = matrix_counts(20, 4, "symmetric"), matrix_counts(20, 4, "circular")
    else:
        rows = columns = matrix_counts(20, 4, border)
    got = impact_map(conv_stack(mode, layers=4), (1, 20, 20))
    torch.testing.assert_close(got, as_tensor(np.outer(rows, columns)), rtol=1e-6, atol=0)


def test_valid_stacks_do_not_depend_on_the_mode() -> None:
    counts = valid_counts(14, 3)
    for mode in BUILT_IN:
        got = impact_map(conv_stack(mode, layers=3, padding="valid"), (1, 14, 14))
        assert torch.equal(got, as_tensor(np.outer(counts, counts))), mode


def test_circular_stack_reaches_every_pixel_equally() -> None:
    got = impact_map(conv_stack("circular", layers=3), (1, 9, 9))
    assert torch.equal(got, torch.full((9, 9), 729.0))


def test_coord_stack_with_circular_border_is_the_circular_stack() -> None:
    got = impact_map(conv_stack("coord", layers=2, pad="circular"), (1, 8, 8))
    assert torch.equal(got, torch.full((8, 8), 81.0))


def test_channels_multiply_the_map_by_in_times_out_channels_per_layer() -> None:
    # one-hot in both channels; each output channel adds both input channels: 2 x 2 per layer
    counts = np.array([2, 3, 3, 3, 3, 2])
    got = impact_map(conv_stack("zeros", channels=2), (2, 6, 6))
    assert torch.equal(got, as_tensor(4 * np.outer(counts, counts)))


# ---- exact versus gradient -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", BUILT_IN)
@pytest.mark.parametrize(("layers", "padding"), [(1, "same"), (3, "same"), (2, "valid")])
def test_gradient_equals_exact_on_every_ones_stack(mode: str, layers: int, padding: str) -> None:
    stack = conv_stack(mode, layers=layers, padding=padding)
    size = (1, 11, 10) if mode == "spherical" else (1, 11, 9)  # spherical needs an even width
    exact = impact_map(stack, size)
    gradient = impact_map(stack, size, method="gradient")
    torch.testing.assert_close(gradient, exact, rtol=1e-6, atol=1e-6)


def test_gradient_equals_exact_on_an_affine_model_with_bias_and_coordinates() -> None:
    generator = torch.Generator().manual_seed(1)
    # float64: 'exact' subtracts two sums that share a large bias and coordinate term, which in
    # float32 leaves rounding of about 1e-5 that depends on the torch version's conv kernels
    model = nn.Sequential(padmods.CoordConv2d(2, 3, 3, padding="same"), padmods.PartialConv2d(3, 1, 3, padding=1))
    model = model.double()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    exact = impact_map(model, (2, 7, 8))
    torch.testing.assert_close(impact_map(model, (2, 7, 8), method="gradient"), exact, rtol=1e-5, atol=1e-5)


def nonlinear_model() -> nn.Module:
    generator = torch.Generator().manual_seed(0)
    model = nn.Sequential(
        padmods.ReflectPadConv2d(2, 4, 3, padding="same"),
        nn.ReLU(),
        padmods.ZeroPadConv2d(4, 3, 3, padding="same"),
        nn.Tanh(),
    ).double()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return model


def loop_impact(model: nn.Module, channels: int, height: int, width: int) -> torch.Tensor:
    """The definition, one image at a time."""
    expected = torch.empty(height, width, dtype=torch.float64)
    with torch.no_grad():
        zero = torch.zeros(1, channels, height, width, dtype=torch.float64)
        base = model(zero).sum()
        for i in range(height):
            for j in range(width):
                image = zero.clone()
                image[0, :, i, j] = 1.0
                expected[i, j] = model(image).sum() - base
    return expected


def test_exact_evaluates_the_definition_on_a_nonlinear_model() -> None:
    model = nonlinear_model()
    got = impact_map(model, (2, 6, 7), batch_size=5)
    expected = loop_impact(model, 2, 6, 7)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    # the model really is nonlinear: its gradient at 0 is not its impact map
    gradient = impact_map(model, (2, 6, 7), method="gradient")
    assert not torch.allclose(gradient, expected, atol=1e-3)


class BatchRecorder(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.batches: list[int] = []

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self.batches.append(input.shape[0])
        return self.inner(input)


def test_exact_never_holds_more_than_batch_size_images() -> None:
    model = BatchRecorder(conv_stack("zeros"))
    got = impact_map(model, (1, 5, 5), batch_size=7)
    assert max(model.batches) == 7
    assert sorted(model.batches) == [1, 4, 7, 7, 7]  # the all-zero baseline, then 25 = 7 + 7 + 7 + 4
    counts = np.array([2, 3, 3, 3, 2])
    assert torch.equal(got, as_tensor(np.outer(counts, counts)))


def test_default_batch_is_smaller_than_all_one_hot_images() -> None:
    model = BatchRecorder(conv_stack("zeros"))
    impact_map(model, (1, 28, 28))
    assert 1 < max(model.batches) < 28 * 28
    assert sum(model.batches) == 28 * 28 + 1


def test_gradient_takes_one_forward_pass_and_leaves_parameter_grads_alone() -> None:
    model = BatchRecorder(conv_stack("reflect", layers=2))
    impact_map(model, (1, 6, 6), method="gradient")
    assert model.batches == [1]
    assert all(parameter.grad is None for parameter in model.parameters())


@pytest.mark.parametrize("method", ["exact", "gradient"])
def test_runs_in_eval_mode_and_restores_every_training_flag(method: str) -> None:
    model = nn.Sequential(
        padmods.ZeroPadConv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.Dropout(0.5), nn.Conv2d(2, 1, 1)
    )
    model.train()
    model[3].eval()  # mixed flags must come back as they were
    seen: list[bool] = []
    model[2].register_forward_pre_hook(lambda module, _: seen.append(module.training))
    running_mean = model[1].running_mean.clone()
    first = impact_map(model, (1, 5, 5), method=method)
    second = impact_map(model, (1, 5, 5), method=method)
    assert seen
    assert not any(seen)
    assert torch.equal(first, second)  # no dropout noise, no batch statistics
    assert torch.equal(model[1].running_mean, running_mean)
    assert [m.training for m in model] == [True, True, True, False]
    assert model.training


def test_gradient_works_under_no_grad_and_inference_mode() -> None:
    stack = conv_stack("zeros")
    expected = impact_map(stack, (1, 4, 4))
    with torch.no_grad():
        assert torch.equal(impact_map(stack, (1, 4, 4), method="gradient"), expected)
    with torch.inference_mode():
        assert torch.equal(impact_map(stack, (1, 4, 4), method="gradient"), expected)


def test_map_follows_the_model_dtype() -> None:
    stack = conv_stack("zeros").double()
    assert impact_map(stack, (1, 4, 4)).dtype == torch.float64
    assert impact_map(stack, (1, 4, 4), method="gradient").dtype == torch.float64


def test_a_model_that_ignores_its_input_has_zero_impact() -> None:
    class Constant(nn.Module):
        def forward(self, input: torch.Tensor) -> torch.Tensor:
            return torch.ones(input.shape[0], 3)

    for method in ("exact", "gradient"):
        assert torch.equal(impact_map(Constant(), (1, 3, 4), method=method), torch.zeros(3, 4))


# ---- conv_stack ----------------------------------------------------------------------------------
def test_conv_stack_builds_ones_layers_of_the_mode() -> None:
    stack = conv_stack("partial", layers=3, kernel_size=5, channels=2)
    assert isinstance(stack, nn.Sequential)
    assert len(stack) == 3
    for layer in stack:
        assert type(layer) is padmods.PartialConv2d
        assert layer.kernel_size == (5, 5)
        assert layer.padding == "same"
        assert torch.equal(layer.weight, torch.ones(2, 2, 5, 5))
        assert torch.equal(layer.bias, torch.zeros(2))


def test_coord_ones_stack_has_zero_coordinate_taps_and_maps_zero_to_zero() -> None:
    stack = conv_stack("coord", layers=2, with_r=True)
    for layer in stack:
        assert torch.equal(layer.weight[:, :1], torch.ones(1, 1, 3, 3))
        assert torch.equal(layer.weight[:, 1:], torch.zeros(1, 3, 3, 3))
    assert torch.equal(stack(torch.zeros(1, 1, 6, 6)), torch.zeros(1, 1, 6, 6))


def test_conv_stack_without_ones_keeps_the_layers_initialisation() -> None:
    stack = conv_stack("zeros", ones=False)
    assert not torch.all(stack[0].weight == 1)


# ---- errors --------------------------------------------------------------------------------------
def test_unknown_mode_lists_the_available_modes() -> None:
    with pytest.raises(ValueError, match=r"unknown padding mode 'nope'.*circular, coord, partial, reflect"):
        conv_stack("nope")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "finite"}, r"method must be one of \('exact', 'gradient'\), got 'finite'"),
        ({"batch_size": 0}, "batch_size must be an int >= 1, got 0"),
        ({"input_shape": (4, 4)}, r"input_shape must be three positive ints \(C, H, W\), got \(4, 4\)"),
        ({"input_shape": (1, 0, 4)}, "input_shape must be three positive ints"),
    ],
)
def test_bad_arguments_name_the_value(kwargs: dict, message: str) -> None:
    arguments = {"input_shape": (1, 4, 4), **kwargs}
    with pytest.raises(ValueError, match=message):
        impact_map(conv_stack("zeros"), **arguments)


@pytest.mark.parametrize("kwargs", [{"layers": 0}, {"kernel_size": -1}, {"channels": 0}])
def test_conv_stack_rejects_non_positive_counts(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must be an int >= 1"):
        conv_stack("zeros", **kwargs)


def test_a_model_without_batch_axis_is_refused() -> None:
    class Flat(nn.Module):
        def forward(self, input: torch.Tensor) -> torch.Tensor:
            return input.sum()

    with pytest.raises(ValueError, match="batch axis first"):
        impact_map(Flat(), (1, 3, 3))


# ---- overflow is said, not silent (issue 15) ---------------------------------------------------
@pytest.mark.parametrize("method", ["exact", "gradient"])
@pytest.mark.parametrize(("mode", "layers"), [("zeros", 50), ("circular", 41)])
def test_float32_overflow_warns_and_float64_holds_the_counts(mode: str, layers: int, method: str) -> None:
    """41 circular layers of 3x3 count 9^41 = 1.3e39 paths, past float32's 3.4e38; zero borders need more."""
    with pytest.warns(
        padmods.analysis.ImpactOverflowWarning,
        match=r"impact_map: the map holds \d+ non-finite values? \(inf( and NaN)?\): the model's torch.float32 "
        r"arithmetic overflowed \(its largest finite value is 3.4e\+38\); run the model in a wider dtype",
    ) as record:
        impact_map(conv_stack(mode, layers=layers), (1, 5, 5), method=method)
    assert record[0].filename == __file__
    wide = impact_map(conv_stack(mode, layers=layers, dtype=torch.float64), (1, 5, 5), method=method)
    assert wide.dtype == torch.float64
    assert bool(torch.isfinite(wide).all())
    if mode == "circular":
        torch.testing.assert_close(wide, torch.full((5, 5), float(9**41), dtype=torch.float64), rtol=1e-13, atol=0)
    else:
        counts = same_zero_counts(5, layers)
        torch.testing.assert_close(wide, torch.from_numpy(np.outer(counts, counts)), rtol=1e-13, atol=0)


def test_no_warning_below_the_limit() -> None:
    impact = impact_map(conv_stack("zeros", layers=40), (1, 5, 5))  # 9^40 = 1.5e38 still fits float32
    assert bool(torch.isfinite(impact).all())


@pytest.mark.parametrize(("mode", "kwargs"), [("coord", {"with_r": True}), ("coord", {}), ("zeros", {"groups": 2})])
def test_ones_stack_sets_the_input_taps_to_one_and_added_channels_to_zero(mode: str, kwargs: dict) -> None:
    """Found from the weight's shape, not the layer's class: taps past ``in_channels // groups`` are added channels."""
    (layer,) = conv_stack(mode, channels=2, **kwargs)
    taps = 2 // layer.groups
    assert bool((layer.weight[:, :taps] == 1).all())
    assert bool((layer.weight[:, taps:] == 0).all())
    assert layer.weight.shape[1] == taps + getattr(layer, "coord_channels", 0)
