"""The ``padmods`` command line, called in-process through ``main`` (plus one real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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
def test_modes_lists_each_mode_with_its_dimensions_classes_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "modes")
    assert status == 0
    assert err == ""
    header, *lines = out.splitlines()
    assert header.split() == ["mode", "dimensions", "classes", "summary"]
    names = [line.split()[0] for line in lines]
    assert names == padmods.available()
    assert set(BUILT_IN) <= set(names)
    rows = {line.split()[0]: line for line in lines}
    assert rows["zeros"].split()[1:5] == ["1-D", "2-D", "3-D", "padmods.ZeroPadConv{1,2,3}d"]
    assert "Convolution over a zero border" in rows["zeros"]
    assert rows["spherical"].split()[1:4] == ["2-D", "padmods.SphericalPadConv2d", "Convolution"]
    assert "padmods.CoordConv{1,2,3}d" in rows["coord"]
    assert "coordinate channels" in rows["coord"]


def test_modes_rows_name_every_dimension_and_no_summary_claims_one(capsys: pytest.CaptureFixture[str]) -> None:
    """The summary of a 2-D class starts "2D convolution ..."; the row says the dimensions in their own column."""

    @padmods.register("cli-line-only")
    class LineOnlyConv1d(padmods.ZeroPadConv1d):
        """1D convolution of a mode that has no other dimension."""

    try:
        status, out, _ = run(capsys, "modes")
        dimensions = {name: padmods.registry.dimensions(name) for name in padmods.available()}
    finally:
        padmods.registry.unregister("cli-line-only")
    assert status == 0
    _, *lines = out.splitlines()
    for line in lines:
        name = line.split()[0]
        dims = " ".join(f"{dim}-D" for dim in dimensions[name])
        assert line[len(name) :].strip().startswith(dims), line
        summary = line.rsplit("  ", 1)[-1]
        assert not summary[:3].rstrip().endswith("D"), line
    line_only = next(line for line in lines if line.startswith("cli-line-only"))
    assert line_only.split()[1:3] == ["1-D", f"{__name__}.{LineOnlyConv1d.__qualname__}"]
    assert line_only.endswith("Convolution of a mode that has no other dimension.")


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
    assert line.split()[1] == "2-D"
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
    assert "padmods.PartialConv{1,2,3}d" in completed.stdout


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


# ---- strict JSON and no silent overflow (issue 15) ---------------------------------------------
def strict_loads(text: str) -> object:
    """json.loads that refuses NaN and Infinity, which Python's json writes by default but JSON lacks."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def path_counts_1d(size: int, layers: int, kernel: int) -> list[int]:
    """Exact paths from each input position to all outputs of 'same' zero-padded all-ones 1-D layers."""
    weights = [1] * size  # the summed output: paths from each position of the last layer
    half = kernel // 2
    for _ in range(layers):
        weights = [sum(weights[j] for j in range(i - half, i + half + 1) if 0 <= j < size) for i in range(size)]
    return weights


def test_path_counts_1d_by_hand() -> None:
    assert path_counts_1d(4, 1, 3) == [2, 3, 3, 2]
    assert path_counts_1d(28, 5, 3)[0] == 96  # the 1-D corner count of test_impact_table_with_the_default_experiment


def test_impact_past_float32_is_exact_strict_json(capsys: pytest.CaptureFixture[str]) -> None:
    """The repro of issue 15: 81^40 paths at the centre overflowed float32 and printed Infinity."""
    status, out, err = run(
        capsys, "impact", "--size", "9", "--layers", "40", "--kernel-size", "9", "--modes", "zeros,circular", "--json"
    )
    assert status == 0, err
    entries = {entry["mode"]: entry for entry in strict_loads(out)}
    assert entries["circular"]["centre"] == pytest.approx(81**40, rel=1e-13)
    assert entries["circular"]["corner"] == pytest.approx(81**40, rel=1e-13)
    counts = path_counts_1d(9, 40, 9)
    assert entries["zeros"]["corner"] == pytest.approx(counts[0] ** 2, rel=1e-13)
    assert entries["zeros"]["edge_centre"] == pytest.approx(counts[0] * counts[4], rel=1e-13)
    assert entries["zeros"]["centre"] == pytest.approx(counts[4] ** 2, rel=1e-13)
    exact = torch.tensor([[float(a * b) for b in counts] for a in counts], dtype=torch.float64)
    torch.testing.assert_close(torch.tensor(entries["zeros"]["map"], dtype=torch.float64), exact, rtol=1e-13, atol=0)


def test_impact_counts_are_exact_integers_below_2_to_the_53(capsys: pytest.CaptureFixture[str]) -> None:
    """float32 rounds counts above 2^24 (every pixel here); up to 9^12 = 2.8e11 paths come out exact in float64."""
    status, out, _ = run(capsys, "impact", "--size", "20", "--layers", "12", "--modes", "zeros", "--json")
    assert status == 0
    (entry,) = strict_loads(out)
    counts = path_counts_1d(20, 12, 3)
    assert entry["map"] == [[float(a * b) for b in counts] for a in counts]


@pytest.mark.parametrize("extra", [[], ["--json"], ["--method", "gradient"]])
def test_impact_beyond_float64_is_an_error_not_infinity(capsys: pytest.CaptureFixture[str], extra: list[str]) -> None:
    status, out, err = run(
        capsys, "impact", "--size", "9", "--layers", "200", "--kernel-size", "9", "--modes", "zeros", *extra
    )
    assert status == 2
    assert out == ""
    assert err.strip() == (
        "padmods impact: error: the impact map of 'zeros' overflows float64 (largest value 1.8e+308): 200 layers "
        "of kernel 9 count up to 9^400 paths per pixel; use fewer --layers or a smaller --kernel-size"
    )


def test_json_output_refuses_non_finite_numbers_and_says_where() -> None:
    from padmods.cli_args import UsageError as _UsageError
    from padmods.cli_output import strict_json as _strict_json

    assert strict_loads(_strict_json([{"a": 1.0, "b": [2.0]}], "padmods x", "hint")) == [{"a": 1.0, "b": [2.0]}]
    for value, text in ((float("nan"), "nan"), (float("inf"), "inf"), (float("-inf"), "-inf")):
        with pytest.raises(
            _UsageError, match=rf"padmods x: error: the result holds {text} at \[0\]\.b\[1\], which JSON"
        ):
            _strict_json([{"a": 1.0, "b": [2.0, value]}], "padmods x", "hint")


@pytest.mark.slow
def test_position_json_is_strict_even_when_training_diverges(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from padmods.analysis.position import position_leak

    def diverging(*args: object, **kwargs: object) -> object:
        result = position_leak(*args, **kwargs)
        result.scores[0, 0] = float("nan")
        return result

    monkeypatch.setattr("padmods.cli_position.position_leak", diverging)
    status, out, err = run(capsys, "position", "--modes", "zeros", "--steps", "2", "--size", "4", "--json")
    assert status == 2
    assert out == ""
    assert "the result holds nan at [0].scores[0][0], which JSON cannot represent; the training diverged" in err


# ---- --plot: checked before any work (issue 15) ------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n"
QUICK = {
    "impact": ["impact", "--modes", "zeros", "--size", "4", "--layers", "1"],
    "position": ["position", "--modes", "zeros", "--size", "3", "--steps", "1"],
}


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any experiment that starts fails the test: a bad --plot must be found first."""

    def work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the experiment ran before --plot was checked")

    for name in ("cli_impact.impact_map", "cli_position.position_leak", "cli_impact.conv_stack"):
        monkeypatch.setattr(f"padmods.{name}", work)
    for module in ("cli_impact", "cli_position"):
        monkeypatch.setattr(f"padmods.{module}.default_modes", work)


@pytest.mark.parametrize("command", QUICK)
def test_plot_into_a_directory_writes_a_named_file_inside(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    status, _, err = run(capsys, *QUICK[command], "--plot", str(tmp_path))
    assert status == 0, err
    target = tmp_path / f"padmods-{command}.png"
    assert target.read_bytes()[:8] == PNG
    assert err.strip() == f"padmods {command}: saved the figure to {str(target)!r}"
    assert not tmp_path.with_name(tmp_path.name + ".png").exists()  # matplotlib's own choice, DIR.png


@pytest.mark.parametrize(("name", "magic"), [("figure", PNG), ("figure.PDF", b"%PDF"), ("figure.svg", b"<?xml")])
def test_plot_suffix_picks_the_format_and_the_name_is_kept(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, magic: bytes
) -> None:
    status, _, err = run(capsys, *QUICK["impact"], "--plot", str(tmp_path / name))
    assert status == 0, err
    assert err == ""
    assert (tmp_path / name).read_bytes()[: len(magic)] == magic
    assert [path.name for path in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("command", QUICK)
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "argument --plot: expected a file name, got ''"),
        ("\t", "argument --plot: expected a file name, got '\\t'"),
        (
            "{tmp}/missing/figure.png",
            "argument --plot: cannot write '{tmp}/missing/figure.png': No such file or directory",
        ),
        ("{tmp}/file.txt/figure.png", "argument --plot: cannot write '{tmp}/file.txt/figure.png': Not a directory"),
        ("{tmp}/figure.xyz", "argument --plot: cannot save a figure as '.xyz' ('{tmp}/figure.xyz'); use one of "),
    ],
)
def test_bad_plot_target_exits_2_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_work: None, command: str, target: str, message: str
) -> None:
    (tmp_path / "file.txt").write_text("not a directory")
    before = sorted(tmp_path.rglob("*"))
    status, out, err = run(capsys, *QUICK[command], "--plot", target.format(tmp=tmp_path))
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"padmods {command}: error: " + message.format(tmp=tmp_path)), err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, nothing left behind


def test_plot_unwritable_file_exits_2_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_work: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")
    real_open = Path.open

    def refuse_target(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        # file permissions do not bind root, whom CI may run as: refuse the write the way the OS would
        if self == target and mode != "rb" and mode != "r":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse_target)
    status, _, err = run(capsys, *QUICK["impact"], "--plot", str(target))
    assert status == 2
    assert "Permission denied" in err
    assert target.read_bytes() == b"old"


def test_plot_onto_an_existing_file_keeps_it_until_the_figure_is_saved(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")
    status, _, err = run(capsys, *QUICK["impact"], "--plot", str(target))
    assert status == 0, err
    assert target.read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    "argv",
    [["position", "--modes", "zeros", "--size", "5000"], ["impact", "--modes", "zeros", "--size", "10000000"]],
    ids=["position", "impact"],
)
def test_a_size_too_large_for_memory_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Petabytes of one-hot images: torch's allocator refuses at once, and the command says so in one line."""
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"padmods {argv[0]}: error: not enough memory for these settings (--size {argv[-1]}, ")
    assert "you tried to allocate" in err
    assert err.strip().endswith("; use smaller sizes")


def test_other_runtime_errors_are_not_taken_for_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("padmods.cli_impact.impact_map", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["impact", "--modes", "zeros", "--size", "4"])


# ---- figures: every text inside the figure, however many modes (issue 23) -----------------------
def edge_pixels_drawn(path: Path) -> list[str]:
    """The edges of a saved figure that are not all white: something drawn there is cut off by the edge."""
    from matplotlib.image import imread

    pixels = imread(path)[..., :3]
    edges = {"top": pixels[0], "bottom": pixels[-1], "left": pixels[:, 0], "right": pixels[:, -1]}
    return [name for name, edge in edges.items() if not bool((edge == 1.0).all())]


@pytest.mark.parametrize("command", ["position", "impact"])
@pytest.mark.parametrize("modes", ["zeros", "zeros,circular", ",".join(BUILT_IN)])
def test_nothing_in_a_figure_is_cut_off_for_any_number_of_modes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, modes: str
) -> None:
    """A title, a label or a colorbar's ticks that run past the figure leave ink on its edge."""
    target = tmp_path / "figure.png"
    argv = [*QUICK[command][:1], "--modes", modes, *QUICK[command][3:]]
    status, _, err = run(capsys, *argv, "--size", "4", "--plot", str(target))
    assert status == 0, err
    assert edge_pixels_drawn(target) == []


# ---- --plot naming a directory that is not there (issue 23) -----------------------------------
@pytest.mark.parametrize("command", QUICK)
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{tmp}/missing/", "argument --plot: the directory '{tmp}/missing/' does not exist; create it first, or name"),
        ("{tmp}/missing//", "argument --plot: the directory '{tmp}/missing//' does not exist"),
        ("{tmp}/file.txt/", "argument --plot: the directory '{tmp}/file.txt/' is not a directory"),
    ],
)
def test_plot_with_a_trailing_slash_names_a_directory_that_must_exist(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_work: None, command: str, target: str, message: str
) -> None:
    (tmp_path / "file.txt").write_text("not a directory")
    before = sorted(tmp_path.rglob("*"))
    status, out, err = run(capsys, *QUICK[command], "--plot", target.format(tmp=tmp_path))
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"padmods {command}: error: " + message.format(tmp=tmp_path)), err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("command", QUICK)
def test_plot_into_an_existing_directory_named_with_a_trailing_slash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    status, _, err = run(capsys, *QUICK[command], "--plot", f"{tmp_path}/")
    assert status == 0, err
    assert (tmp_path / f"padmods-{command}.png").read_bytes()[:8] == PNG


# ---- output into a closed pipe: `padmods ... | head` (issue 23) --------------------------------
class ClosedPipe:
    """A stdout whose reader has gone: every write and flush fails as a closed pipe does."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        raise OSError("no file descriptor")


@pytest.fixture
def report_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A module ``cli_models`` in the current directory: models, and names that fail to give one."""
    (tmp_path / "cli_models.py").write_text(
        "from torch import nn\n"
        "stage = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1))\n"
        "def make():\n    return stage\n"
        "def needs_width(width):\n    return stage\n"
        "def broken():\n    raise RuntimeError('weights missing')\n"
        "def quits():\n    raise SystemExit(3)\n"
        "def asserts():\n    assert False, 'unfinished'\n"
        "not_a_model = 3\n"
        "Stage = nn.Sequential\n"
        "class Picky(nn.Module):\n"
        "    def forward(self, x):\n        raise TypeError('Picky wants two inputs')\n"
        "picky = Picky()\n"
        "class Asserting(nn.Module):\n"
        "    def forward(self, x):\n        assert x.shape[-1] == 7, 'width must be 7'\n"
        "asserting = Asserting()\n"
        "def __getattr__(name):\n"
        "    if name == 'lazy':\n        raise KeyError('lazy models are not built yet')\n"
        "    raise AttributeError(name)\n"
    )
    (tmp_path / "cli_broken_import.py").write_text("raise RuntimeError('needs a GPU')\n")
    (tmp_path / "cli_syntax_error.py").write_text("def f(:\n")
    (tmp_path / "cli_exits.py").write_text("import sys\nsys.exit('usage: train.py DATA')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name in ("cli_models", "cli_broken_import", "cli_syntax_error", "cli_exits"):
        sys.modules.pop(name, None)


WRITERS = {
    "modes": ["modes"],
    "position": ["position", "--modes", "zeros", "--size", "3", "--steps", "1"],
    "position --json": ["position", "--modes", "zeros", "--size", "3", "--steps", "1", "--json"],
    "impact": QUICK["impact"],
    "impact --json": [*QUICK["impact"], "--json"],
    "report": ["report", "cli_models:stage", "--input-shape", "1,3,8,8", "--suggest", "1"],
    "report --json": ["report", "cli_models:stage", "--input-shape", "1,3,8,8", "--json"],
    "--help": ["--help"],
    "--version": ["--version"],
    "impact --help": ["impact", "--help"],
}


@pytest.mark.usefixtures("report_model")
@pytest.mark.parametrize("argv", WRITERS.values(), ids=WRITERS.keys())
def test_every_command_that_writes_exits_quietly_into_a_closed_pipe(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    status = main(argv)
    monkeypatch.undo()
    _, err = capsys.readouterr()
    assert status == 1
    assert err == ""


def test_piped_into_a_reader_that_has_gone_the_process_exits_quietly() -> None:
    """The real thing: the pipe's reader closes before padmods writes, as `head` does after its lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "padmods", "impact", "--modes", "zeros", "--size", "4", "--layers", "1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert err.decode() == ""
    assert process.returncode == 1


# ---- numbers too large for torch (issue 23) ---------------------------------------------------
from padmods.cli_args import MAX_INT  # noqa: E402

INT_OPTIONS = [
    ("impact", "--size", ["--modes", "zeros"]),
    ("impact", "--layers", ["--modes", "zeros", "--size", "4"]),
    ("impact", "--kernel-size", ["--modes", "zeros", "--size", "4"]),
    ("position", "--size", ["--modes", "zeros", "--steps", "1"]),
    ("position", "--kernel-size", ["--modes", "zeros", "--steps", "1"]),
    ("position", "--steps", ["--modes", "zeros", "--size", "3"]),
]


@pytest.mark.parametrize(("command", "option", "rest"), INT_OPTIONS)
@pytest.mark.parametrize("value", [MAX_INT + 1, 99999999999, 10**20, 2**64])
def test_an_int_option_past_what_torch_counts_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], command: str, option: str, rest: list[str], value: int
) -> None:
    status, out, err = run(capsys, command, *rest, option, str(value))
    assert status == 2
    assert out == ""
    assert err == (
        f"padmods {command}: error: argument {option}: expected a positive integer of at most {MAX_INT}, "
        f"got '{value}'\n"
    )


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_a_seed_past_64_bits_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: int) -> None:
    status, out, err = run(capsys, "position", "--modes", "zeros", "--size", "3", "--steps", "1", "--seed", str(value))
    assert status == 2
    assert out == ""
    assert err == (
        f"padmods position: error: argument --seed: expected an integer from {-(2**63)} to {2**64 - 1} "
        f"(a 64-bit seed), got '{value}'\n"
    )


@pytest.mark.parametrize("value", [2**64 - 1, -(2**63)])
def test_seeds_at_the_ends_of_64_bits_run(capsys: pytest.CaptureFixture[str], value: int) -> None:
    status, out, err = run(capsys, "position", "--modes", "zeros", "--size", "3", "--steps", "1", "--seed", str(value))
    assert status == 0, err
    assert out.startswith("mode")


@pytest.mark.usefixtures("report_model")
@pytest.mark.parametrize(
    ("argv", "settings"),
    [
        (["impact", "--modes", "zeros", "--size", str(MAX_INT)], f"--size {MAX_INT}, --layers 5, --kernel-size 3"),
        (["impact", "--size", str(MAX_INT)], f"--size {MAX_INT}, --layers 5, --kernel-size 3"),
        (
            ["position", "--modes", "zeros", "--size", "4", "--kernel-size", str(MAX_INT)],
            f"--size 4, --kernel-size {MAX_INT}, --steps 150",
        ),
        (
            ["report", "cli_models:stage", "--input-shape", f"1,3,{MAX_INT},{MAX_INT}"],
            f"--input-shape 1,3,{MAX_INT},{MAX_INT}",
        ),
    ],
)
def test_sizes_whose_tensors_cannot_exist_exit_2_naming_the_settings(
    capsys: pytest.CaptureFixture[str], argv: list[str], settings: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"padmods {argv[0]}: error: not enough memory for these settings ({settings}): "), err
    assert err.rstrip().endswith("; use smaller sizes")
    assert "Exception raised from" not in err


# ---- report: every way MODULE:NAME can fail to give a model (issue 23) -----------------------
@pytest.mark.usefixtures("report_model")
@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("cli_models:stage()", "'stage' is a model (Sequential), not a factory; drop the () to use it as it is: "),
        ("cli_models:not_a_model()", "'not_a_model' is a int, which cannot be called; name a factory, or drop the ()"),
        ("cli_models:broken()", "broken() raised RuntimeError: weights missing; MODEL calls the factory with no"),
        ("cli_models:needs_width()", "needs_width() raised TypeError: needs_width() missing 1 required positional"),
        ("cli_models:quits()", "quits() raised SystemExit(3)"),
        ("cli_models:asserts()", "asserts() raised AssertionError: unfinished"),
        ("cli_models:Stage", "is a type, not an nn.Module; add () to call it"),
        ("cli_models:make", "is a function, not an nn.Module; add () to call it"),
        ("cli_models:lazy", "MODEL 'cli_models:lazy': reading 'lazy' raised KeyError: 'lazy models are not built"),
        ("cli_models:lazy()", "reading 'lazy' raised KeyError"),
        (
            "cli_broken_import:model",
            "importing the module of MODEL 'cli_broken_import:model' raised RuntimeError: needs",
        ),
        ("cli_syntax_error:model", "importing the module of MODEL 'cli_syntax_error:model' raised SyntaxError"),
        ("cli_exits:model", "raised SystemExit('usage: train.py DATA')"),
        ("cli_models:picky", "failed on an input of shape 1,3,8,8: TypeError: Picky wants two inputs"),
        ("cli_models:asserting", "failed on an input of shape 1,3,8,8: AssertionError: width must be 7"),
    ],
)
def test_report_model_that_fails_to_give_a_model_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], model: str, message: str
) -> None:
    status, out, err = run(capsys, "report", model, "--input-shape", "1,3,8,8")
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("padmods report: error: ")
    assert message in err, err
    assert "Traceback" not in err


# ---- report: MODEL may name a file, path/to/model.py:attribute ----------------------------------
@pytest.fixture
def model_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A folder ``models`` below the current directory: a model file that imports a sibling, and files that fail."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "cli_file_parts.py").write_text(
        "from torch import nn\n"
        "def stage():\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1))\n"
    )
    (folder / "cli_file_model.py").write_text(
        "from cli_file_parts import stage as _stage\nstage = _stage()\ndef make():\n    return stage\n"
    )
    (folder / "json.py").write_text("from cli_file_parts import stage\nmodel = stage()\n")  # shadows a stdlib name
    (folder / "cli_file_broken.py").write_text("raise RuntimeError('needs a GPU')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    modules = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - modules:
        if name.startswith(("cli_file_", "_padmods_model_")):
            sys.modules.pop(name)


def test_report_takes_a_model_file_as_it_takes_its_module(
    capsys: pytest.CaptureFixture[str], model_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's folder is importable (its sibling import works), relative and absolute paths, factories."""
    expected = str(padmods.analysis.padding_report(stage_reference(), (1, 3, 8, 8)))
    relative = run(capsys, "report", "models/cli_file_model.py:stage", "--input-shape", "1,3,8,8")
    absolute = run(capsys, "report", f"{model_files}/models/cli_file_model.py:make()", "--input-shape", "1,3,8,8")
    monkeypatch.chdir(model_files / "models")
    as_module = run(capsys, "report", "cli_file_model:stage", "--input-shape", "1,3,8,8")
    for status, out, err in (relative, absolute, as_module):
        assert (status, err) == (0, "")
        assert out.rstrip("\n") == expected


@pytest.mark.usefixtures("model_files")
def test_a_model_file_named_like_an_imported_module_does_not_replace_it(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "report", "models/json.py:model", "--input-shape", "1,3,8,8", "--json")
    assert (status, err) == (0, "")
    assert sys.modules["json"] is json
    assert json.loads(out)["layers"][0]["input_size"] == [8, 8]


@pytest.mark.usefixtures("model_files")
@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("models/missing.py:stage", "MODEL 'models/missing.py:stage': there is no file 'models/missing.py' (from "),
        ("models", "MODEL is module:attribute, module:factory(), or path/to/model.py:attribute; got 'models'"),
        (
            "models/cli_file_broken.py:model",
            "importing the module of MODEL 'models/cli_file_broken.py:model' raised RuntimeError: needs a GPU",
        ),
        ("models/cli_file_model.py:nothing", "has no attribute 'nothing'"),
    ],
)
def test_a_model_file_that_gives_no_model_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], model: str, message: str
) -> None:
    status, out, err = run(capsys, "report", model, "--input-shape", "1,3,8,8")
    assert (status, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert message in err, err
    assert not any(name.endswith("cli_file_broken") for name in sys.modules)


def stage_reference() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.nn.Conv2d(4, 4, 3, stride=2, padding=1)
    )


# ---- report --suggest: the slow path says so, and shows progress on a terminal (issue 23) ----------
@pytest.fixture
def value_reading_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "cli_values.py").write_text(
        "from torch import nn\n"
        "class ReadsValues(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(1, 1, 3, stride=2, padding=1)\n"
        "    def forward(self, x):\n        y = self.conv(x)\n        return y if float(y.sum()) >= 0 else -y\n"
        "model = ReadsValues()\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    sys.modules.pop("cli_values", None)


@pytest.mark.usefixtures("value_reading_model")
def test_report_suggest_on_a_model_that_cannot_run_on_meta_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "report", "cli_values:model", "--input-shape", "1,1,40,40", "--suggest", "2")
    assert status == 0
    assert "spatial axis 0: no padding dropped or read on one side only at 39, 41" in out
    assert len(err.splitlines()) == 1, err
    assert err.startswith("padmods report: note: suggest_sizes: ReadsValues cannot run on the meta device (")
    assert "\r" not in err  # stderr is no terminal here: no progress line


class Terminal:
    """A stderr that says it is a terminal and keeps what is written."""

    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.usefixtures("value_reading_model")
def test_report_suggest_shows_its_progress_on_a_terminal_once_it_takes_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter(range(0, 10_000, 1))  # every look at the clock is a second later
    monkeypatch.setattr("padmods.cli_report.time.monotonic", lambda: float(next(clock)))
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(sys, "stdout", Terminal())
    status = main(["report", "cli_values:model", "--input-shape", "1,1,40,40", "--suggest", "2"])
    assert status == 0
    assert "\rpadmods report: probing sizes 1/258 (at most)" in terminal.text
    assert "\rpadmods report: probing sizes 6/258 (at most)" in terminal.text  # 40, 39, 41 on each axis
    assert terminal.text.endswith("\n")  # the note of the slow path comes after the cleared line
    assert "\r\x1b[K" in terminal.text
