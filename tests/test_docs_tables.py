"""The numbers of the Performance and "Choosing a padding mode" pages say what they are and where from.

The docs build reads the benchmark tables stored in ``docs/_tables`` through
``docs/_ext/padmods_choosing.py``; these tests check the stored tables and what the pages make
of them, without building the docs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
import padmods_choosing  # noqa: E402

import padmods  # noqa: E402

#: A short or full git commit hash.
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


def stored_tables() -> list[Path]:
    return sorted(padmods_choosing.TABLES.glob("perf_*.rst.inc"))


def test_there_are_stored_tables():
    assert padmods_choosing.LAYERS_TABLE in stored_tables()


@pytest.mark.parametrize("path", stored_tables(), ids=lambda path: path.name)
def test_every_stored_table_says_where_and_at_which_commit(path):
    """Each benchmark table has its provenance: machine, torch and padmods versions, and the commit."""
    entry = padmods_choosing.provenance(path)
    assert COMMIT.match(entry["commit"]), f"{path.name}: commit {entry['commit']!r} is not a git hash"
    assert re.match(r"^\d+\.\d+", entry["padmods"]), f"{path.name}: padmods version {entry['padmods']!r}"
    assert entry.get("torch"), f"{path.name}: say which torch measured it"
    assert entry.get("machine"), f"{path.name}: say on which machine"
    for line in padmods_choosing.reader_table(path).splitlines():
        if line.startswith(".. list-table::"):
            assert f"commit ``{entry['commit']}``" in line, f"{path.name}: a table title without its commit: {line}"


def test_provenance_names_only_stored_tables():
    import json

    names = set(json.loads(padmods_choosing.PROVENANCE.read_text(encoding="utf-8")))
    assert names <= {path.name for path in stored_tables()}, "provenance.json names tables that are not stored"


def test_a_table_without_provenance_fails(tmp_path):
    table = tmp_path / "perf_new.rst.inc"
    table.write_text(".. list-table:: Ratio\n")
    with pytest.raises(ValueError, match="commit"):
        padmods_choosing.reader_table(table)


def test_performance_prose_quotes_no_hand_written_ratios():
    """The performance page's prose takes its ratios from the tables (``|partial-cost|``), never by hand.

    A hand-written "0.79-0.94" once contradicted the "0.80-0.94" of the table above it.
    """
    text = (DOCS / "performance.rst").read_text(encoding="utf-8")
    prose = "\n".join(line for line in text.splitlines() if not line.startswith(("    ", "..", "   :")))
    ratios = [ratio for ratio in re.findall(r"(?<![\d.])[0-2]\.\d\d(?![\d.])", prose) if ratio != "1.00"]
    assert not ratios, f"ratios written by hand in docs/performance.rst (use the substitutions): {ratios}"
    numbers = padmods_choosing.performance_numbers()
    used = set(re.findall(r"\|([\w-]+)\|", prose))
    defined = set(re.findall(r"^\.\. \|([\w-]+)\| replace::", numbers, re.M))
    assert used <= defined, f"substitutions the page uses but padmods_choosing does not define: {used - defined}"


def test_whole_model_tables_are_read(tmp_path):
    """The cost column reads the whole-model suite's table in the format its docstring gives."""
    table = tmp_path / "perf_models_cpu.rst.inc"
    table.write_text(
        ".. list-table:: Whole models, CPU, float32 (train): time over the same model with nn.Conv2d\n"
        "   :header-rows: 1\n\n"
        "   * - mode\n     - ResNet-18-shaped\n     - U-Net-shaped\n"
        "   * - ``reflect``\n     - 1.15\u20131.22\n     - 1.17\n"
        "   * - ``partial``\n     - 1.02\n     - 1.04\n"
        "   * - torch reflect\n     - 1.20\n     - 1.18\n\n"
        ".. list-table:: Whole models, CPU, float32 (infer): time over the same model with nn.Conv2d\n"
        "   :header-rows: 1\n\n"
        "   * - mode\n     - ResNet-18-shaped\n"
        "   * - ``reflect``\n     - 9.99\n"
    )
    assert padmods_choosing.model_costs(table) == {"reflect": [1.15, 1.22, 1.17], "partial": [1.02, 1.04]}
    assert padmods_choosing.model_costs(table, "infer") == {"reflect": [9.99]}


def test_per_layer_costs_are_padmods_own_layers():
    """Without whole-model numbers, reflect's cost is padmods' layer over zeros, not over torch's reflect."""
    costs = padmods_choosing.cost_over_conv2d()
    text = padmods_choosing.LAYERS_TABLE.read_text(encoding="utf-8")
    over_zeros = dict(
        (row[0].strip("`"), row[1:])
        for title, rows in padmods_choosing.list_tables(text)
        if title.startswith("Torch modes over") and "(float32, padding=int)" in title
        for row in rows[1:]
    )
    assert costs["reflect"][0] == float(over_zeros["reflect"][0].split()[0])


def test_every_builtin_mode_has_a_cost():
    """The choosing table shows a cost for every built-in mode, none "not measured"."""
    costs, _, _ = padmods_choosing.costs_for_choosing()
    builtin = [name for name in padmods.available(dim=2) if padmods.get(name).__module__.split(".")[0] == "padmods"]
    assert len(builtin) >= 8
    missing = [name for name in builtin if not costs.get(name)]
    assert not missing, f"built-in modes without a measured cost: {missing}"
