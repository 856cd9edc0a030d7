"""The ``padmods`` command line, called in-process through ``main`` (plus one real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import padmods
from padmods.cli import main

BUILT_IN = ["circular", "coord", "partial", "reflect", "replicate", "spherical", "symmetric", "zeros"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# ---- modes ---------------------------------------------------------------------------------------
def test_modes_lists_each_mode_with_class_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "modes")
    assert status == 0
    assert err == ""
    lines = out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == padmods.available()
    assert set(BUILT_IN) <= set(names)
    zeros = lines[names.index("zeros")]
    assert zeros.split()[1] == "padmods.ZeroPadConv2d"
    assert "2D convolution over a zero border" in zeros
    coord = lines[names.index("coord")]
    assert "padmods.CoordConv2d" in coord
    assert "coordinate channels" in coord


def test_modes_lists_a_mode_registered_at_run_time(capsys: pytest.CaptureFixture[str]) -> None:
    @padmods.register("cli-test-mode")
    class CliTestConv2d(padmods.ZeroPadConv2d):
        """A mode that exists only in this test."""

    try:
        status, out, _ = run(capsys, "modes")
    finally:
        padmods.registry.unregister("cli-test-mode")
    assert status == 0
    line = next(line for line in out.splitlines() if line.startswith("cli-test-mode"))
    assert "CliTestConv2d" in line
    assert line.endswith("A mode that exists only in this test.")


def test_python_dash_m_padmods_modes() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "padmods", "modes"], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    for name in BUILT_IN:
        assert any(line.split()[0] == name for line in completed.stdout.splitlines())
    assert "padmods.PartialConv2d" in completed.stdout


# ---- position ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_position_json_reports_zero_separated_and_circular_not(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "position", "--modes", "zeros,circular", "--json")
    assert status == 0
    assert err == ""
    results = {entry["mode"]: entry for entry in json.loads(out)}
    assert set(results) == {"zeros", "circular"}
    assert results["zeros"]["balanced_accuracy"] == 1.0
    assert results["zeros"]["margin"] > 0
    assert results["circular"]["balanced_accuracy"] == 0.5
    assert results["circular"]["margin"] == 0.0
    settings = results["zeros"]["settings"]
    assert (settings["size"], settings["seed"], settings["kernel_size"]) == (10, 0, 3)
    scores = torch.tensor(results["circular"]["scores"])
    assert scores.shape == (10, 10)
    torch.testing.assert_close(scores, torch.full_like(scores, float(scores[0, 0])), rtol=0, atol=1e-12)


@pytest.mark.slow
def test_position_table(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "position", "--modes", "circular,zeros", "--size", "6", "--seed", "2")
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split() == ["mode", "balanced", "accuracy", "margin"]
    table = {row.split()[0]: row.split()[1:] for row in rows}
    assert list(table) == ["circular", "zeros"]
    assert table["circular"] == ["0.500", "0.0000"]
    assert table["zeros"][0] == "1.000"
    assert float(table["zeros"][1]) > 0


@pytest.mark.slow
def test_position_plot_writes_a_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "position.png"
    status, _, err = run(capsys, "position", "--modes", "zeros,circular", "--steps", "5", "--plot", str(target))
    assert status == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- impact --------------------------------------------------------------------------------------
def test_impact_json_one_same_layer_on_10x10(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "impact", "--modes", "zeros", "--size", "10", "--layers", "1", "--json")
    assert status == 0
    (entry,) = json.loads(out)
    # corner 2 x 2 outputs, edge centre 2 x 3, centre 3 x 3; nothing is under 0.9
    assert (entry["corner"], entry["edge_centre"], entry["centre"]) == (4.0, 6.0, 9.0)
    assert entry["share_below_10pct"] == 0.0
    assert entry["settings"] == {"size": 10, "layers": 1, "kernel_size": 3, "padding": "same", "method": "exact"}
    assert len(entry["map"]) == 10
    assert entry["map"][0][:3] == [4.0, 6.0, 6.0]


def test_impact_json_valid_layers_on_10x10(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["impact", "--modes", "zeros,circular", "--size", "10", "--layers", "1", "--padding", "valid", "--json"]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    for entry in json.loads(out):
        # per-axis window counts 1,2,3,...,3,2,1: corner 1, (0, 5) 1 x 3, centre 9; nothing is under 0.9
        assert (entry["corner"], entry["edge_centre"], entry["centre"]) == (1.0, 3.0, 9.0)
        assert entry["share_below_10pct"] == 0.0
    status, out, _ = run(capsys, *argv[:6], "2", *argv[7:])  # --layers 2
    (entry, _) = json.loads(out)
    # two layers: per-axis counts 1,3,6,8,9,9,8,6,3,1, centre 81; products under 8.1 are
    # 1 x {1,3,6,8} (16 pixels), and 3 x 1, 6 x 1, 8 x 1 with the 1 on the other axis (12 more)
    assert (entry["corner"], entry["edge_centre"], entry["centre"]) == (1.0, 9.0, 81.0)
    assert entry["share_below_10pct"] == pytest.approx(0.28, abs=1e-12)


def test_impact_table_with_the_default_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "impact", "--modes", "zeros,circular")
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["mode", "corner", "edge", "centre"]
    table = {row.split()[0]: row.split()[1:] for row in rows}
    # five 'same' 3x3 layers on 28x28: interior 9^5 paths; zero-padded corner 96^2 (96 = 1-D corner count)
    assert table["zeros"][0] == "9216"
    assert table["zeros"][2] == "59049"
    assert table["circular"] == ["59049", "59049", "59049", "0.0%"]


def test_impact_gradient_method_gives_the_same_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["impact", "--modes", "reflect", "--size", "12", "--layers", "2", "--json"]
    _, exact, _ = run(capsys, *base)
    _, gradient, _ = run(capsys, *base, "--method", "gradient")
    exact_entry, gradient_entry = json.loads(exact)[0], json.loads(gradient)[0]
    for key in ("corner", "edge_centre", "centre", "share_below_10pct"):
        assert gradient_entry[key] == pytest.approx(exact_entry[key], rel=1e-6)


def test_impact_plot_writes_a_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "impact.png"
    status, _, err = run(capsys, "impact", "--modes", "zeros,reflect", "--size", "8", "--plot", str(target))
    assert status == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- errors: exit status 2 and one line ---------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["position", "--modes", "zeros,mirror"], "unknown mode 'mirror'; available modes: circular, coord"),
        (["impact", "--modes", "bogus"], "unknown mode 'bogus'"),
        (["impact", "--modes", ","], "expected comma-separated mode names"),
        (["impact", "--size", "10", "--layers", "5", "--padding", "valid"], "--size 10 is too small for 5 'valid'"),
        (["impact", "--size", "2"], "--size must be at least the kernel size (3), got 2"),
        (["impact", "--size", "0"], "argument --size: expected a positive integer, got '0'"),
        (["impact", "--layers", "-1"], "argument --layers: expected a positive integer, got '-1'"),
        (["impact", "--padding", "full"], "argument --padding: invalid choice"),
        (["position", "--size", "1"], "--size must be at least 2, got 1"),
        (["position", "--steps", "0"], "argument --steps: expected a positive integer, got '0'"),
        (["position", "--lr", "-0.1"], "argument --lr: expected a positive number, got '-0.1'"),
        (["position", "--lr", "nan"], "argument --lr: expected a positive number, got 'nan'"),
        (["position", "--seed", "x"], "argument --seed: expected an integer, got 'x'"),
        (["position", "--modes", "reflect", "--size", "2", "--kernel-size", "5"], "reflect padding of (2, 2)"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("padmods")
    assert "error: " in err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["position", "impact"])
def test_plot_without_matplotlib_exits_2_before_any_work(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib...` raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    status, out, err = run(capsys, command, "--modes", "zeros", "--plot", str(tmp_path / "x.png"))
    assert status == 2
    assert out == ""
    assert (
        err.strip()
        == f"padmods {command}: error: --plot needs matplotlib; install it with: pip install 'padmods[plot]'"
    )
    assert not (tmp_path / "x.png").exists()


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--help")
    assert status == 0
    assert "position" in out
    assert "impact" in out
    status, out, _ = run(capsys, "--version")
    assert status == 0
    assert out.strip() == f"padmods {padmods.__version__}"


def test_main_restores_torch_thread_count(capsys: pytest.CaptureFixture[str]) -> None:
    threads = torch.get_num_threads()
    run(capsys, "impact", "--modes", "zeros", "--size", "5", "--layers", "1")
    assert torch.get_num_threads() == threads


def test_default_modes_leave_out_what_cannot_pad_the_size(capsys: pytest.CaptureFixture[str]) -> None:
    """An odd size has no opposite meridian: the default list runs every other mode and says why."""
    status, out, err = run(capsys, "impact", "--size", "9", "--layers", "2", "--json")
    assert status == 0
    assert sorted(entry["mode"] for entry in json.loads(out)) == sorted(set(BUILT_IN) - {"spherical"})
    assert "leaving out 'spherical' at size 9" in err
    assert "needs an even width" in err
    status, out, err = run(capsys, "impact", "--size", "10", "--layers", "2", "--json")
    assert "spherical" in [entry["mode"] for entry in json.loads(out)]
    assert err == ""
    status, out, err = run(capsys, "impact", "--size", "9", "--modes", "spherical")  # asked for by name
    assert status != 0
    assert out == ""
    assert "needs an even width" in err
