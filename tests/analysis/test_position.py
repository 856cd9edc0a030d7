"""Experiment 1: a summed one-layer conv can find the corner through zero padding, never through circular.

Score checks recompute each logit from the trained kernel with numpy's own padding (an oracle
independent of padmods); the circular outcome is checked against the shift-invariance argument.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import padmods
from padmods.analysis import PositionLeakResult, position_leak

pytestmark = pytest.mark.slow

NUMPY_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def numpy_scores(result: PositionLeakResult, numpy_mode: str) -> np.ndarray:
    """Each image's logit: pad the one-hot image with numpy, correlate with the kernel, sum, add bias."""
    n, k = result.size, result.kernel_size
    kernel = result.kernel[0, 0].numpy()
    bias = 0.0 if result.bias is None else float(result.bias[0])
    half = k // 2
    scores = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            image = np.zeros((n, n))
            image[i, j] = 1.0
            padded = np.pad(image, half, mode=numpy_mode)
            total = 0.0
            for row in range(n):
                for col in range(n):
                    total += float(np.sum(padded[row : row + k, col : col + k] * kernel)) + bias
            scores[i, j] = total
    return scores


@pytest.fixture(scope="module")
def zeros_result() -> PositionLeakResult:
    return position_leak("zeros")


@pytest.fixture(scope="module")
def circular_result() -> PositionLeakResult:
    return position_leak("circular")


def test_zero_padding_separates_the_corner(zeros_result: PositionLeakResult) -> None:
    assert zeros_result.balanced_accuracy == 1.0
    assert zeros_result.margin > 0
    assert zeros_result.separated
    scores = zeros_result.scores
    assert scores[0, 0] > 0
    assert torch.all(scores.flatten()[1:] < 0)
    assert zeros_result.loss_history[-1] < 0.1 * zeros_result.loss_history[0]


def test_margin_is_the_corner_minus_the_best_other_score(zeros_result: PositionLeakResult) -> None:
    scores = zeros_result.scores.numpy()
    expected = scores[0, 0] - np.delete(scores.flatten(), 0).max()
    assert zeros_result.margin == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_scores_are_the_models_logits(mode: str) -> None:
    result = position_leak(mode, size=6, steps=30)
    expected = numpy_scores(result, NUMPY_PAD[mode])
    np.testing.assert_allclose(result.scores.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_zero_padding_scores_are_partial_kernel_sums(zeros_result: PositionLeakResult) -> None:
    # a white pixel at (i, j) meets tap (u, v) from output (i + 1 - u, j + 1 - v) if that output exists
    n = zeros_result.size
    kernel = zeros_result.kernel[0, 0].numpy()
    bias = float(zeros_result.bias[0])
    for i, j in [(0, 0), (0, 4), (9, 9), (5, 0), (4, 6)]:
        taps = [kernel[u, v] for u in range(3) for v in range(3) if 0 <= i + 1 - u < n and 0 <= j + 1 - v < n]
        assert float(zeros_result.scores[i, j]) == pytest.approx(sum(taps) + n * n * bias, abs=1e-9)


def test_circular_padding_cannot_separate(circular_result: PositionLeakResult) -> None:
    assert circular_result.balanced_accuracy == 0.5
    assert circular_result.margin == 0.0
    assert not circular_result.separated
    scores = circular_result.scores
    torch.testing.assert_close(scores, torch.full_like(scores, float(scores[0, 0])), rtol=0, atol=1e-12)


def test_circular_scores_are_shift_invariant_by_construction(circular_result: PositionLeakResult) -> None:
    # wrapped around, a white pixel meets every tap of the kernel exactly once, wherever it sits,
    # so every score is sum(kernel) + H * W * bias: no kernel can tell positions apart
    n = circular_result.size
    expected = float(circular_result.kernel.sum()) + n * n * float(circular_result.bias[0])
    np.testing.assert_allclose(circular_result.scores.numpy(), np.full((n, n), expected), rtol=0, atol=1e-12)
    # the balanced loss of a constant score is minimal at 0, where it is log(2): training ends near there
    assert abs(expected) < 0.1
    assert float(circular_result.loss_history[-1]) == pytest.approx(np.log(2), abs=1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_circular_kernel_separates_even_untrained(seed: int) -> None:
    result = position_leak("circular", steps=0, seed=seed)
    assert result.balanced_accuracy == 0.5
    assert result.margin == 0.0
    assert result.loss_history.shape == (0,)


@pytest.mark.parametrize("mode", ["circular", "zeros", "reflect", "partial", "coord"])
def test_without_border_every_mode_is_shift_invariant(mode: str) -> None:
    # a 1x1 kernel needs no padding at all
    result = position_leak(mode, kernel_size=1, steps=20)
    assert result.balanced_accuracy == 0.5
    assert result.margin == 0.0


def test_coordinates_add_only_a_constant_to_the_summed_output() -> None:
    circular_coord = position_leak("coord", pad="circular")
    assert circular_coord.balanced_accuracy == 0.5
    assert circular_coord.margin == 0.0
    assert circular_coord.kernel.shape == (1, 3, 3, 3)
    zeros_coord = position_leak("coord")
    assert zeros_coord.balanced_accuracy == 1.0
    assert zeros_coord.margin > 0


@pytest.mark.parametrize("mode", ["reflect", "replicate", "partial"])
def test_other_modes_report_consistent_results(mode: str) -> None:
    result = position_leak(mode)
    assert result.scores.shape == (10, 10)
    assert result.scores.dtype == torch.float64
    assert 0.5 <= result.balanced_accuracy <= 1.0
    if result.balanced_accuracy == 1.0:
        assert result.margin > 0
    assert result.loss_history[-1] < result.loss_history[0]


def test_same_seed_same_result_bit_for_bit() -> None:
    first = position_leak("partial", seed=7, steps=60)
    second = position_leak("partial", seed=7, steps=60)
    assert torch.equal(first.scores, second.scores)
    assert torch.equal(first.kernel, second.kernel)
    assert torch.equal(first.bias, second.bias)
    assert torch.equal(first.loss_history, second.loss_history)
    assert (first.balanced_accuracy, first.margin) == (second.balanced_accuracy, second.margin)
    other = position_leak("partial", seed=8, steps=60)
    assert not torch.equal(first.kernel, other.kernel)


def test_global_rng_is_left_alone() -> None:
    state = torch.get_rng_state()
    position_leak("zeros", steps=5, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    # and the global RNG does not influence the result
    torch.manual_seed(123)
    a = position_leak("zeros", steps=5, seed=3)
    torch.manual_seed(456)
    b = position_leak("zeros", steps=5, seed=3)
    assert torch.equal(a.kernel, b.kernel)


def test_result_records_its_settings_and_reproduces_itself() -> None:
    result = position_leak("coord", size=5, kernel_size=3, steps=25, lr=0.2, seed=4, pad="replicate", bias=False)
    assert (result.mode, result.size, result.kernel_size, result.steps, result.lr, result.seed) == (
        "coord",
        5,
        3,
        25,
        0.2,
        4,
    )
    assert dict(result.layer_kwargs) == {"pad": "replicate", "bias": False}
    assert result.bias is None
    assert result.loss_history.shape == (25,)
    again = position_leak(**result.settings)
    assert torch.equal(again.scores, result.scores)
    assert torch.equal(again.kernel, result.kernel)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.margin = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.layer_kwargs["pad"] = "zeros"  # type: ignore[index]


def test_accepts_a_layer_class() -> None:
    result = position_leak(padmods.ZeroPadConv2d, steps=5)
    assert result.mode is padmods.ZeroPadConv2d


def test_unknown_mode_lists_the_available_modes() -> None:
    with pytest.raises(ValueError, match=r"unknown padding mode 'mirror'; available modes: circular, coord, partial"):
        position_leak("mirror")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 1}, "size must be an int >= 2, got 1"),
        ({"kernel_size": 0}, "kernel_size must be an int >= 1, got 0"),
        ({"steps": -1}, "steps must be an int >= 0, got -1"),
        ({"lr": 0.0}, "lr must be a finite number > 0, got 0.0"),
        ({"seed": 1.5}, "seed must be an int, got 1.5"),
        ({"padding": "valid"}, "position_leak sets padding itself; got padding='valid'"),
    ],
)
def test_bad_arguments_name_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        position_leak("zeros", **kwargs)
