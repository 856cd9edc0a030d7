"""padding_neurons and padding_intervention against hand-built border detectors and hand-worked numbers."""

from __future__ import annotations

import json
import math
import sys
import types

import numpy as np
import pytest
import torch
from _models import Conv2dSame, StdConv2d
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import padmods
from padmods.analysis import (
    PaddingNeuron,
    PaddingNeuronReport,
    padding_intervention,
    padding_neurons,
)
from padmods.analysis._border_stats import border_counts


def strict_json(payload):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(json.dumps(payload, allow_nan=False), parse_constant=refuse)


# ---- hand-built models ---------------------------------------------------------------------------
def detector_2d() -> nn.Sequential:
    """Channel 0 answers the zero border above (zero-sum: minus the row above, three times the pixel);
    1 is the identity, 2 is dead (no weights, a bias), 3 a blur (darker on a zero border)."""
    conv = nn.Conv2d(1, 4, 3, padding=1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, 0, 0, :] = -1.0
        conv.weight[0, 0, 1, 1] = 3.0
        conv.weight[1, 0, 1, 1] = 1.0
        conv.bias[2] = 0.5
        conv.weight[3] = 1.0 / 9.0
    return nn.Sequential(conv)


def noisy_images(count: int, *spatial: int, seed: int = 0) -> torch.Tensor:
    """Images of mean 1 with a little Gaussian noise: the interior of a detector's map varies a little."""
    generator = torch.Generator().manual_seed(seed)
    return 1.0 + 0.1 * torch.randn(count, 1, *spatial, generator=generator)


def all_shifts(image: torch.Tensor) -> torch.Tensor:
    """Every circular shift of one ``(1, *spatial)`` image: a periodic data set without a privileged position."""
    spatial = image.shape[1:]
    grids = torch.meshgrid(*(torch.arange(n) for n in spatial), indexing="ij")
    offsets = torch.stack([g.reshape(-1) for g in grids], dim=1)
    dims = tuple(range(1, len(spatial) + 1))
    return torch.stack([torch.roll(image, tuple(int(o) for o in offset), dims) for offset in offsets])


def test_hand_built_detector_is_found_and_identity_dead_and_blur_channels_are_not():
    report = padding_neurons(detector_2d(), noisy_images(16, 10, 10), progress=False)
    assert [(n.layer, n.channel, n.side) for n in report.neurons] == [("0", 0, "top")]
    neuron = report.neurons[0]
    assert neuron.score > 0.95
    row = report.layer("0")
    assert (row.channels, row.neurons, row.share, row.sides) == (4, 1, 0.25, ("top", "bottom", "left", "right"))
    assert report.channels == 4
    assert report.share == 0.25
    scores = row.scores
    assert scores.shape == (4, 4)
    assert scores[1].abs().max() < 0.3  # identity: the same distribution everywhere
    assert scores[2].abs().max() == 0  # dead: a constant
    assert scores[3].max() < 0  # blur: lower on the border, not reported
    # the excess on the top is three times the mean pixel, as the zero row above removes it
    assert neuron.excess == pytest.approx(3.0, abs=0.05)


def test_on_periodic_inputs_the_circular_model_has_none_and_the_zero_model_has_the_detector():
    image = noisy_images(1, 6, 6)[0]
    shifts = all_shifts(image)
    zero = detector_2d()
    assert [(n.channel, n.side) for n in padding_neurons(zero, shifts, progress=False).neurons] == [(0, "top")]
    circular = padmods.convert(zero, "circular")
    report = padding_neurons(circular, shifts, progress=False)
    assert report.neurons == ()
    assert report.layer("0").scores.abs().max() < 1e-3


@pytest.mark.parametrize("dims", [1, 3])
def test_one_and_three_dimensional_detectors(dims):
    conv = (nn.Conv1d if dims == 1 else nn.Conv3d)(1, 3, 3, padding=1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        # channel 0: minus the taps before along the first axis, plus as much at the centre
        conv.weight[(0, 0, 0)] = -1.0
        centre = (0, 0) + (1,) * dims
        conv.weight[centre] = float(3 ** (dims - 1))
        conv.weight[(1, 0) + (1,) * dims] = 1.0  # identity
        conv.bias[2] = -2.0  # dead
    spatial = (12,) if dims == 1 else (6, 6, 6)
    model = nn.Sequential(conv)
    report = padding_neurons(model, noisy_images(8, *spatial), progress=False)
    first = "start" if dims == 1 else "front"
    assert [(n.channel, n.side) for n in report.neurons] == [(0, first)]
    assert report.layer("0").sides[:2] == (("start", "end") if dims == 1 else ("front", "back"))
    shifts = all_shifts(noisy_images(1, *((6,) if dims == 1 else (4, 4, 4)))[0])
    assert padding_neurons(padmods.convert(model, "circular"), shifts, progress=False).neurons == ()


# ---- the score by hand ---------------------------------------------------------------------------
def left_neighbour(dtype=torch.float64) -> nn.Sequential:
    """y[o] = x[o - 1]: a 1-D convolution that reads the element before."""
    conv = nn.Conv1d(1, 1, 3, padding=1, bias=False).to(dtype)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[1.0, 0.0, 0.0]]]))
    return nn.Sequential(conv)


def test_score_matches_a_hand_computed_example():
    # x1 = 1 2 3 4 gives y1 = 0 1 2 3; x2 = 2 2 2 2 gives y2 = 0 2 2 2.
    # interior (positions 1, 2): 1 2 2 2, mean 7/4, variance 13/4 - 49/16 = 3/16
    # end (position 3): 3 2, mean 5/2, excess 3/4: score 3/4 / sqrt(9/16 + 3/16) = sqrt(3)/2
    # start (position 0): 0 0, excess -7/4: score -7/4 / sqrt(49/16 + 3/16) = -7/sqrt(52)
    inputs = torch.tensor([[[1.0, 2.0, 3.0, 4.0]], [[2.0, 2.0, 2.0, 2.0]]], dtype=torch.float64)
    report = padding_neurons(left_neighbour(), inputs, threshold=0.8, progress=False)
    start, end = report.layer("0").scores[0].tolist()
    assert end == pytest.approx(math.sqrt(3) / 2, rel=1e-6)
    assert start == pytest.approx(-7 / math.sqrt(52), rel=1e-6)
    assert [(n.channel, n.side) for n in report.neurons] == [(0, "end")]
    assert report.neurons[0].excess == pytest.approx(0.75)
    assert padding_neurons(left_neighbour(), inputs, progress=False).neurons == ()  # 0.866 < 0.9


def test_scores_match_a_numpy_reference_on_a_random_model():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 5, (3, 5), padding=(1, 2), stride=(1, 2)).double()
    inputs = torch.rand(6, 2, 9, 11, dtype=torch.float64)
    report = padding_neurons(nn.Sequential(conv), inputs, progress=False)
    with torch.no_grad():
        out = conv(inputs).numpy()
    # which outputs reach the padding, by brute force over the taps
    rows = np.arange(out.shape[2])[:, None] * 1 - 1 + np.arange(3)[None, :]
    cols = np.arange(out.shape[3])[:, None] * 2 - 2 + np.arange(5)[None, :]
    top, bottom = (rows < 0).any(1), (rows >= 9).any(1)
    left, right = (cols < 0).any(1), (cols >= 11).any(1)
    interior = ~(top | bottom)[:, None] & ~(left | right)[None, :]
    masks = [
        np.broadcast_to(top[:, None], interior.shape),
        np.broadcast_to(bottom[:, None], interior.shape),
        np.broadcast_to(left[None, :], interior.shape),
        np.broadcast_to(right[None, :], interior.shape),
    ]
    for channel in range(5):
        values = out[:, channel]
        inner = values[:, interior]
        for side, mask in enumerate(masks):
            excess = values[:, mask].mean() - inner.mean()
            rho2 = np.concatenate([values[:, mask].ravel(), inner.ravel()]).__pow__(2).mean()
            expected = excess / math.sqrt(excess**2 + inner.var() + 1e-8 * rho2)
            assert report.layer("0").scores[channel, side].item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("size", "before", "after", "kernel", "stride", "dilation"),
    [
        (8, 1, 1, 3, 1, 1),
        (8, 1, 1, 3, 2, 1),
        (9, 2, 2, 5, 2, 1),
        (7, 2, 2, 3, 1, 2),
        (3, 3, 3, 7, 1, 1),
        (5, 0, 0, 3, 1, 1),
    ],
)
def test_border_counts_match_the_taps(size, before, after, kernel, stride, dilation):
    outputs = (size + before + after - dilation * (kernel - 1) - 1) // stride + 1
    taps = np.arange(outputs)[:, None] * stride - before + np.arange(kernel)[None, :] * dilation
    expected = (int((taps < 0).any(1).sum()), int((taps >= size).any(1).sum()), outputs)
    assert border_counts(size, before, after, kernel, stride, dilation) == expected


# ---- the intervention by hand --------------------------------------------------------------------
def difference_filter() -> nn.Sequential:
    """y[o] = x[o] - x[o - 1], a zero-sum 1-D filter."""
    conv = nn.Conv1d(1, 1, 3, padding=1, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[-1.0, 1.0, 0.0]]]))
    return nn.Sequential(conv)


def test_intervention_gives_the_hand_worked_drop():
    # x = 3 1 1 1 2. Zero padding: y = 3 -2 0 0 1; interior (1..3) -2 0 0, mean -2/3, variance 8/9.
    # start: 3, excess 11/3, score 11/sqrt(129) = 0.968; end: 1, excess 5/3, score 5/sqrt(33) = 0.870.
    # Circular: y[0] = x[0] - x[4] = 1, excess 5/3: the switch removes 1 - 5/11 = 6/11 of it.
    # The output differs in y[0] only, by 2: RMS change sqrt(4/5) against an RMS of sqrt(14/5).
    model = difference_filter()
    inputs = torch.tensor([[[3.0, 1.0, 1.0, 1.0, 2.0]]], dtype=torch.float64)
    report = padding_neurons(model, inputs, intervene=True, progress=False)
    assert [(n.channel, n.side) for n in report.neurons] == [(0, "start")]
    assert report.neurons[0].score == pytest.approx(11 / math.sqrt(129), rel=1e-6)
    result = report.intervention
    assert result is not None
    assert result.mode == "circular"
    assert result.layers == ("0",)
    (change,) = result.neurons
    assert change.excess_before == pytest.approx(11 / 3)
    assert change.excess_after == pytest.approx(5 / 3)
    assert change.drop == pytest.approx(6 / 11)
    assert change.score_after == pytest.approx(5 / math.sqrt(25 + 8), rel=1e-6)
    assert result.output_change == pytest.approx(math.sqrt(4 / 14))
    assert result.prediction_changes is None  # a (1, 1, 5) output has no classes
    assert type(model[0]) is nn.Conv1d
    strict_json(report.to_dict())


def test_intervention_counts_changed_predictions_and_takes_another_mode():
    detector = detector_2d()
    model = nn.Sequential(detector, nn.AdaptiveAvgPool2d(1), nn.Flatten())  # 4 "classes", one per channel
    images = noisy_images(12, 6, 6)
    report = padding_neurons(model, images, progress=False)
    assert [(n.layer, n.channel) for n in report.neurons] == [("0.0", 0)]
    result = padding_intervention(model, images, report, mode="replicate", progress=False)
    assert result.mode == "replicate"
    # replicate copies the top row into the padding: the detector sees a constant-free difference again
    assert result.neurons[0].drop == pytest.approx(1.0, abs=0.15)
    with torch.no_grad():
        before = model(images)
        after = padmods.convert(model, "replicate")(images)
    expected = int((before.argmax(1) != after.argmax(1)).sum())
    assert result.prediction_changes == expected
    assert result.prediction_change == expected / 12
    assert result.output_change == pytest.approx(float((after - before).norm() / before.norm()), rel=1e-6)
    text = str(result)
    assert "'replicate'" in text
    assert "0.0" in text


def test_intervention_leaves_the_model_exactly_as_it_was():
    model = nn.Sequential(detector_2d(), nn.BatchNorm2d(4), nn.ReLU()).train()
    model[1].eval()
    state = {key: value.clone() for key, value in model.state_dict().items()}
    parameters = [id(p) for p in model.parameters()]
    flags = [m.training for m in model.modules()]
    padding_neurons(model, noisy_images(4, 8, 8), intervene="reflect", progress=False)
    assert [type(m) for m in model.modules()] == [nn.Sequential, nn.Sequential, nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert [id(p) for p in model.parameters()] == parameters
    assert [m.training for m in model.modules()] == flags
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    assert all(not m._forward_hooks for m in model.modules())


def test_intervention_names_layers_that_convert_leaves_alone():
    conv = nn.Conv2d(2, 2, 3, padding=1, groups=2)
    neuron = PaddingNeuron("0", 0, "top", 0.95, (("top", 0.95), ("bottom", 0.0), ("left", 0.0), ("right", 0.0)), 1.0)
    result = padding_intervention(nn.Sequential(conv), torch.rand(2, 2, 6, 6), [neuron], mode="coord", progress=False)
    assert result.skipped == (("0", "CoordConv2d supports groups=1 only, got groups=2"),)
    assert result.output_change == 0
    assert result.neurons[0].excess_after == result.neurons[0].excess_before
    strict_json(result.to_dict())


# ---- batches -------------------------------------------------------------------------------------
def test_iterable_of_batches_gives_the_report_of_the_concatenated_batch():
    torch.manual_seed(1)
    model = nn.Sequential(detector_2d(), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 3, 3))
    images = noisy_images(10, 9, 7, seed=3)
    whole = padding_neurons(model, images, threshold=0.5, progress=False)
    for inputs in (
        list(images.split([3, 1, 6])),
        DataLoader(TensorDataset(images, torch.zeros(10)), batch_size=4),  # yields [inputs, targets]
    ):
        split = padding_neurons(model, inputs, threshold=0.5, progress=False)
        assert split.samples == whole.samples == 10
        assert [(n.layer, n.channel, n.side) for n in split.neurons] == [
            (n.layer, n.channel, n.side) for n in whole.neurons
        ]
        for a, b in zip(split.layers, whole.layers, strict=True):
            assert a == b
            torch.testing.assert_close(a.scores, b.scores, rtol=1e-5, atol=1e-6)
    assert len(whole.neurons) >= 2  # the detector, and what the later layers make of its border
    assert whole.layer("4").note == "reads no padding"


def test_records_padmods_layers_tf_same_and_names_unknown_layers():
    same = Conv2dSame(1, 1, 3)
    with torch.no_grad():
        same.weight.zero_()
        same.bias.zero_()
        same.weight[0, 0, 2, :] = -1.0  # the row below: a bottom detector
        same.weight[0, 0, 1, 1] = 3.0
    model = nn.Sequential(same, padmods.ReflectPadConv2d(1, 2, 3, padding=1), StdConv2d(2, 2, 3, padding=1))
    report = padding_neurons(model, noisy_images(4, 8, 8), progress=False)
    assert [row.layer for row in report.layers] == ["Conv2dSame", "ReflectPadConv2d"]
    assert report.unknown == ("2",)
    assert [(n.layer, n.channel, n.side) for n in report.neurons if n.layer == "0"] == [("0", 0, "bottom")]
    assert "unknown border" in str(report)


def test_unbatched_input_and_shared_layers():
    conv = nn.Conv1d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[-1.0, 1.0, 0.0]]]))
    twice = nn.Sequential(conv, conv)
    report = padding_neurons(twice, 1.0 + 0.1 * torch.randn(1, 16, generator=torch.Generator().manual_seed(0)))
    assert [row.name for row in report.layers] == ["0"]  # one layer, called twice


# ---- bad input -----------------------------------------------------------------------------------
def test_inputs_that_do_not_fit_give_the_models_error_with_the_shape():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    with pytest.raises(ValueError, match=r"the model failed on inputs of shape 2x1x8x8: .*expected input"):
        padding_neurons(model, torch.zeros(2, 1, 8, 8), progress=False)
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training


def test_a_model_without_convolutions_gives_an_empty_report():
    report = padding_neurons(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), torch.rand(3, 1, 4, 4), progress=False)
    assert (report.neurons, report.layers, report.channels, report.share, report.samples) == ((), (), 0, 0.0, 3)
    assert strict_json(report.to_dict())["count"] == 0
    assert str(report).startswith("0 padding-aware neurons in 0 channels")


@pytest.mark.parametrize("inputs", [[], (), iter([]), DataLoader(TensorDataset(torch.zeros(0, 1, 4, 4)))])
def test_an_empty_iterable_is_an_error(inputs):
    with pytest.raises(ValueError, match=r"padding_neurons: inputs \(a \w+\) yielded no batch"):
        padding_neurons(detector_2d(), inputs, progress=False)


@pytest.mark.parametrize("threshold", [0, 1, 1.5, -0.2, math.nan, math.inf, True, "0.5", None])
def test_a_threshold_out_of_range_is_an_error_that_names_it(threshold):
    with pytest.raises(ValueError, match=r"threshold must be a number in \(0, 1\), got "):
        padding_neurons(detector_2d(), torch.zeros(1, 1, 4, 4), threshold=threshold)


def test_other_bad_arguments():
    with pytest.raises(TypeError, match="padding_neurons expects an nn.Module, got str"):
        padding_neurons("resnet", torch.zeros(1, 1, 4, 4))
    with pytest.raises(TypeError, match="inputs is a tensor or an iterable of batches.*got int"):
        padding_neurons(detector_2d(), 3, progress=False)
    with pytest.raises(TypeError, match=r"batch 1 is a str"):
        padding_neurons(detector_2d(), [torch.zeros(1, 1, 4, 4), "x"], progress=False)
    with pytest.raises(TypeError, match="runs the model on the inputs twice.*generator"):
        padding_neurons(detector_2d(), (x for x in [torch.zeros(1, 1, 4, 4)]), intervene=True)
    with pytest.raises(TypeError, match="intervene is True, False or a padding mode, got 3"):
        padding_neurons(detector_2d(), torch.zeros(1, 1, 4, 4), intervene=3)
    with pytest.raises(ValueError, match="no-such-mode"):
        padding_neurons(detector_2d(), noisy_images(2, 5, 5), intervene="no-such-mode", progress=False)
    with pytest.raises(ValueError, match="no convolution named 'missing' ran"):
        padding_intervention(
            detector_2d(), noisy_images(2, 5, 5), [PaddingNeuron("missing", 0, "top", 1.0, (("top", 1.0),), 1.0)]
        )


# ---- the report ----------------------------------------------------------------------------------
def test_report_is_frozen_strict_json_and_prints_a_table():
    model = nn.Sequential(detector_2d(), nn.Conv2d(4, 2, 3))
    report = padding_neurons(model, noisy_images(4, 7, 7), intervene=True, progress=False)
    assert isinstance(report, PaddingNeuronReport)
    with pytest.raises(AttributeError):
        report.threshold = 0.5  # type: ignore[misc]
    payload = strict_json(report.to_dict())
    assert payload["count"] == 1
    assert payload["neurons"][0]["scores"].keys() == {"top", "bottom", "left", "right"}
    assert payload["layers"][1] == {
        "name": "1",
        "layer": "Conv2d",
        "channels": 2,
        "neurons": 0,
        "share": 0.0,
        "sides": ["top", "bottom", "left", "right"],
        "note": "reads no padding",
    }
    assert payload["intervention"]["neurons"][0]["drop"] == pytest.approx(1.0, abs=0.1)
    lines = str(report).splitlines()
    assert lines[0] == "1 padding-aware neuron in 6 channels (16.7%) of 2 convolutions, score >= 0.9, 4 samples"
    assert lines[1].split() == ["layer", "class", "channels", "neurons", "share"]
    assert lines[2].split() == ["0.0", "Conv2d", "4", "1", "25.0%"]
    assert "switching the padding of 1 layer to 'circular'" in str(report)


def test_non_finite_outputs_give_no_score_and_strict_json():
    conv = nn.Conv2d(1, 1, 3, padding=1)
    with torch.no_grad():
        conv.bias.fill_(math.inf)
    report = padding_neurons(nn.Sequential(conv), torch.rand(2, 1, 5, 5), progress=False)
    assert report.layers[0].note == "non-finite output"
    assert report.neurons == ()
    strict_json(report.to_dict())


# ---- progress bar --------------------------------------------------------------------------------
def test_progress_bar_uses_tqdm_when_installed(monkeypatch):
    calls = []

    def fake_tqdm(iterable, **kwargs):
        calls.append(kwargs)
        return iterable

    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=fake_tqdm))
    batches = [noisy_images(2, 5, 5), noisy_images(2, 5, 5, seed=1)]
    padding_neurons(detector_2d(), batches)
    assert [call["total"] for call in calls] == [2]
    padding_neurons(detector_2d(), batches, progress=False)
    padding_neurons(detector_2d(), batches[0])  # one tensor: no bar
    assert len(calls) == 1


def test_without_tqdm_it_stays_quiet(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    report = padding_neurons(detector_2d(), [noisy_images(2, 5, 5)])
    assert report.samples == 2
    assert capsys.readouterr() == ("", "")
