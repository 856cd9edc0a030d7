"""The padding report: what convolutions read, checked against torch's own convolutions and hand-worked sizes."""

from __future__ import annotations

import itertools
import json
import sys

import pytest
import torch
import torch.nn.functional as F
from _models import Conv2dSame, ResNet18, StdConv2d, UNet
from torch import nn

import padmods
from padmods.analysis import padding_report, suggest_sizes
from padmods.analysis.padding_report import axis_padding_use
from padmods.cli import main


def padding_read_by_torch(size, before, after, kernel, stride, dilation):
    """Which padding positions an all-ones conv1d reads: the output moves when only that position is 1."""
    padded = size + before + after
    if padded < dilation * (kernel - 1) + 1:
        return 0, 0
    weight = torch.ones(1, 1, kernel, dtype=torch.float64)

    def read(position):
        one_hot = torch.zeros(1, 1, padded, dtype=torch.float64)
        one_hot[..., position] = 1
        return bool(F.conv1d(one_hot, weight, stride=stride, dilation=dilation).any())

    return sum(map(read, range(before))), sum(map(read, range(size + before, padded)))


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation"),
    [(n, k, s, d) for n, k, s, d in itertools.product((1, 2, 5, 8, 9, 16), (1, 2, 3, 5), (1, 2, 3), (1, 2))],
)
def test_axis_padding_use_matches_what_torch_reads(size, kernel, stride, dilation):
    for before, after in ((0, 0), (1, 1), (2, 1), (0, 3), (4, 4)):
        expected = padding_read_by_torch(size, before, after, kernel, stride, dilation)
        assert axis_padding_use(size, before, after, kernel, stride, dilation) == expected, (before, after)


def resnet() -> nn.Module:
    torch.manual_seed(0)
    return ResNet18(width=2)


def test_resnet_drops_a_row_and_column_at_every_stride_two_stage_at_224_and_none_at_225():
    report = padding_report(resnet(), (1, 3, 224, 224))
    # hand-worked: the 7x7/2 stem (padding 3) at 224 reads 2 of its 3 bottom rows; the 3x3/2
    # max-pool (padding 1) and every 3x3/2 conv (padding 1) at an even size read none of their
    # bottom row; 1x1/2 convolutions have no padding
    dropped = {row.name: (row.input_size, row.unused) for row in report.dropped}
    assert dropped == {
        "conv1": ((224, 224), ((0, 1), (0, 1))),
        "maxpool": ((112, 112), ((0, 1), (0, 1))),
        "layer2.0.conv1": ((56, 56), ((0, 1), (0, 1))),
        "layer3.0.conv1": ((28, 28), ((0, 1), (0, 1))),
        "layer4.0.conv1": ((14, 14), ((0, 1), (0, 1))),
    }
    assert all(row.asymmetric for row in report.dropped)
    assert len(report.layers) == 21  # 20 convolutions and the max-pool
    assert report.unknown == ()
    assert padding_report(resnet(), (1, 3, 225, 225)).dropped == ()
    assert "5 of 21 layer calls drop padding at input 1x3x224x224" in str(report)


def test_suggest_sizes_names_225_for_a_resnet_at_224():
    (height, *_), (width, *_) = suggest_sizes(resnet(), (1, 3, 224, 224), count=1)
    assert height == width == 225
    (tall,), (wide,) = suggest_sizes(resnet(), (1, 3, 225, 96), count=1)
    assert tall == 225
    assert wide == 97


def test_suggested_sizes_are_the_nearest_clean_ones():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.Conv2d(1, 1, 5, stride=3, padding=2))

    def clean(n):
        # hand-worked: the 3x3/2 conv reads its bottom padding iff n is odd, and gives m = (n + 1) // 2
        # rows; the 5x5/3 conv then reads both bottom rows of its padding iff (m - 1) % 3 == 0
        return n % 2 == 1 and ((n + 1) // 2 - 1) % 3 == 0

    expected = sorted((n for n in range(1, 120) if clean(n)), key=lambda n: (abs(n - 40), n))[:3]
    height, width = suggest_sizes(model, (1, 1, 40, 41), count=3)
    assert list(height) == expected == [37, 43, 31]
    assert width[0] == 43
    assert clean(43)


def test_report_covers_1d_3d_padmods_layers_tf_same_and_names_unknown_layers():
    model = nn.Sequential(
        nn.Conv2d(1, 1, 3, padding="same"),
        padmods.ReflectPadConv2d(1, 1, 3, stride=2, padding="same"),
        Conv2dSame(1, 1, 3, stride=2),
        StdConv2d(1, 1, 3, padding=1),
    )
    report = padding_report(model, (1, 1, 10, 9))
    rows = {row.name: row for row in report.layers}
    assert rows["0"].padding == ((1, 1), (1, 1))
    assert not rows["0"].drops_padding
    assert rows["1"].padding == ((0, 1), (1, 1))
    assert rows["1"].input_size == (10, 9)
    assert rows["2"].padding == ((1, 1), (1, 1))
    assert rows["2"].input_size == (5, 5)
    assert report.unknown == ("3",)
    line = nn.Sequential(nn.Conv1d(1, 1, 3, stride=2, padding=1))
    assert padding_report(line, (1, 1, 8)).layers[0].unused == ((0, 1),)
    volume = nn.Sequential(padmods.CircularPadConv3d(1, 1, 3, stride=2, padding=1))
    assert padding_report(volume, (1, 1, 4, 5, 6)).layers[0].unused == ((0, 1), (0, 0), (0, 1))


def test_report_restores_training_flags_and_removes_its_hooks():
    model = UNet().train()
    report = padding_report(model, torch.zeros(1, 1, 16, 16))
    assert len(report.layers) == 5
    assert all(module.training for module in model.modules())
    assert all(not module._forward_pre_hooks for module in model.modules())
    shared = nn.Conv2d(1, 1, 3, padding=1)
    twice = padding_report(nn.Sequential(shared, nn.MaxPool2d(2), shared), (1, 1, 8, 8))
    assert [(row.name, row.input_size) for row in twice.layers] == [("0", (8, 8)), ("0", (4, 4))]


def test_report_errors_name_the_argument():
    with pytest.raises(TypeError, match="padding_report expects an nn.Module, got str"):
        padding_report("resnet", (1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"input_shape is \(N, C, \*spatial\).*got \(3, 8\)"):
        padding_report(resnet(), (3, 8))
    with pytest.raises(ValueError, match="every size of input_shape must be an int >= 1, got 0"):
        padding_report(resnet(), (1, 3, 0, 8))
    with pytest.raises(ValueError, match="count must be a positive int, got 0"):
        suggest_sizes(resnet(), (1, 3, 8, 8), count=0)


@pytest.fixture
def model_module(tmp_path, monkeypatch):
    (tmp_path / "stage_models.py").write_text(
        "from torch import nn\n"
        "stage = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1))\n"
        "def make():\n    return stage\n"
        "not_a_model = 3\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    sys.modules.pop("stage_models", None)


@pytest.mark.usefixtures("model_module")
def test_cli_report_json_and_suggestions(capsys):
    assert main(["report", "stage_models:make()", "--input-shape", "1,3,224,224", "--suggest", "2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [row["unused"] for row in payload["layers"]] == [[[0, 1], [0, 1]], [[0, 1], [0, 1]]]
    assert payload["suggested_sizes"] == [[225, 221], [225, 221]]
    assert main(["report", "stage_models:stage", "--input-shape", "1,3,225,225"]) == 0
    assert "0 of 2 layer calls drop padding" in capsys.readouterr().out


@pytest.mark.usefixtures("model_module")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stage_models:stage", "--input-shape", "1,3"], "expected N,C and at least one spatial size"),
        (["stage_models:stage", "--input-shape", "a,b,c"], "expected comma-separated sizes"),
        (["stage_models", "--input-shape", "1,3,8,8"], "MODEL is module:attribute, module:factory(), or path"),
        (["no_such_module:x", "--input-shape", "1,3,8,8"], "cannot import the module of MODEL 'no_such_module:x'"),
        (["stage_models:missing", "--input-shape", "1,3,8,8"], "has no attribute 'missing'"),
        (["stage_models:not_a_model", "--input-shape", "1,3,8,8"], "is a int, not an nn.Module"),
        (["stage_models:stage", "--input-shape", "1,3,8,8", "--suggest", "0"], "expected a positive integer, got '0'"),
        (["stage_models:stage", "--input-shape", "1,5,8,8"], "failed on an input of shape 1,5,8,8"),
    ],
)
def test_cli_report_bad_arguments(capsys, argv, message):
    assert main(["report", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
