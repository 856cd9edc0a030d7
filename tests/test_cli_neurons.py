"""``padmods neurons``: a model named on the command line, samples from a file saved with torch.save."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from padmods.cli import main

MODELS = '''
import torch
from torch import nn

def detector():
    """Channel 0 answers the zero border above; channel 1 is the identity."""
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, :] = -1.0
        conv.weight[0, 0, 1, 1] = 3.0
        conv.weight[1, 0, 1, 1] = 1.0
    return nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten())

dense = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
'''


def refuse(constant: str) -> None:
    raise ValueError(f"not strict JSON: {constant}")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "neuron_models.py").write_text(MODELS)
    generator = torch.Generator().manual_seed(0)
    torch.save(1.0 + 0.1 * torch.randn(10, 1, 6, 6, generator=generator), tmp_path / "images.pt")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setitem(sys.modules, "tqdm", None)  # no progress bar on stderr, installed or not
    yield tmp_path
    sys.modules.pop("neuron_models", None)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["neurons", *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.usefixtures("workdir")
def test_reads_a_saved_tensor_and_writes_strict_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "neuron_models:detector()", "--inputs", "images.pt", "--batch-size", "3", "--json")
    assert (status, err) == (0, "")
    payload = json.loads(out, parse_constant=refuse)
    assert payload["samples"] == 10
    assert [(n["layer"], n["channel"], n["side"]) for n in payload["neurons"]] == [("0", 0, "top")]
    assert payload["layers"][0]["channels"] == 2
    assert payload["intervention"] is None


def test_model_may_be_a_file_path(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    by_module = run(capsys, "neuron_models:detector()", "--inputs", "images.pt", "--json")
    by_file = run(capsys, f"{workdir}/neuron_models.py:detector()", "--inputs", "images.pt", "--json")
    assert by_module[0] == by_file[0] == 0
    assert json.loads(by_file[1], parse_constant=refuse) == json.loads(by_module[1], parse_constant=refuse)


@pytest.mark.usefixtures("workdir")
def test_table_threshold_and_intervention(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "neuron_models:detector()", "--inputs", "images.pt")
    assert status == 0
    assert out.startswith("1 padding-aware neuron in 2 channels (50.0%) of 1 convolution, score >= 0.9, 10 samples")
    status, out, _ = run(capsys, "neuron_models:detector()", "--inputs", "images.pt", "--intervene", "--json")
    assert status == 0
    intervention = json.loads(out, parse_constant=refuse)["intervention"]
    assert intervention["mode"] == "circular"
    assert intervention["neurons"][0]["drop"] == pytest.approx(1.0, abs=0.1)
    assert intervention["prediction_changes"] is not None  # the output is (N, 2)
    status, out, _ = run(
        capsys, "neuron_models:detector()", "--inputs", "images.pt", "--intervene", "reflect", "--threshold", "0.999"
    )
    assert status == 0
    assert "score >= 0.999" in out
    assert "to 'reflect'" in out


def test_reads_a_saved_list_of_batches(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    images = torch.load(workdir / "images.pt")
    torch.save(list(images.split(4)), workdir / "batches.pt")
    status, out, _ = run(capsys, "neuron_models:detector()", "--inputs", "batches.pt", "--json")
    assert status == 0
    assert json.loads(out, parse_constant=refuse)["samples"] == 10


def test_model_without_convolutions_gives_an_empty_report(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    status, out, _ = run(capsys, "neuron_models:dense", "--inputs", "images.pt", "--json")
    assert status == 0
    payload = json.loads(out, parse_constant=refuse)
    assert (payload["count"], payload["layers"], payload["neurons"]) == (0, [], [])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["neuron_models:detector()"], "the following arguments are required: --inputs"),
        (["neuron_models:detector()", "--inputs", "missing.pt"], "cannot read --inputs 'missing.pt'"),
        (
            ["neuron_models:detector()", "--inputs", "models.txt"],
            "--inputs 'models.txt' is not a file saved with torch.save",
        ),
        (["neuron_models:detector()", "--inputs", "dict.pt"], "--inputs 'dict.pt' holds a dict; expected a tensor"),
        (["neuron_models:detector()", "--inputs", "empty.pt"], "--inputs 'empty.pt' holds an empty list"),
        (["neuron_models:detector()", "--inputs", "wrong.pt"], "the model failed on inputs of shape 10x3x6x6"),
        (
            ["neuron_models:detector()", "--inputs", "images.pt", "--threshold", "1"],
            "expected a number in (0, 1), got '1'",
        ),
        (
            ["neuron_models:detector()", "--inputs", "images.pt", "--threshold", "x"],
            "expected a number in (0, 1), got 'x'",
        ),
        (["neuron_models:detector()", "--inputs", "images.pt", "--batch-size", "0"], "expected a positive integer"),
        (["neuron_models:detector()", "--inputs", "images.pt", "--intervene", "nope"], "nope"),
        (["neuron_models", "--inputs", "images.pt"], "MODEL is module:attribute, module:factory(), or path"),
        (["no_such_module:x", "--inputs", "images.pt"], "cannot import the module of MODEL 'no_such_module:x'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], workdir: Path, argv: list[str], message: str
) -> None:
    (workdir / "models.txt").write_text("not a tensor file")
    torch.save({"images": torch.zeros(1)}, workdir / "dict.pt")
    torch.save([], workdir / "empty.pt")
    torch.save(torch.zeros(10, 3, 6, 6), workdir / "wrong.pt")
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.startswith("padmods neurons: error: ")
    assert message in err
    assert err.count("\n") == 1
