"""A pytest plugin that writes the docs' table of what is verified, per mode and deployment path, from test results.

Tests name their path with ``@pytest.mark.deploy("torch.export")`` and their mode with a ``mode``
parameter (and ``dims``, or ``pad`` for CoordConv variants). With ``--deploy-table PATH`` the
plugin collects the outcome of every such test and, at the end of the session, writes an RST
table to ``PATH`` (and the raw outcomes next to it, as ``NAME.json``): a cell lists the numbers of axes
whose tests all passed, says "fails" if any failed, and "torch bug" for a strict xfail that pins a
known bug of torch (docs/export.rst says which, and the workaround). The ``export`` tox env loads it with
``-p tests_export.deploy_table`` and writes ``docs/_tables/deploy.rst.inc``, which is committed
and included by ``docs/export.rst``; the docs build runs nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

#: The order of the table's columns; paths not listed here follow in the order first seen.
PATH_ORDER = [
    "torch.func.grad",
    "torch.func.vmap",
    "torch.func.jvp / jacfwd",
    "forward-mode AD",
    "CPU autocast (bfloat16)",
    "torch.export",
    "torch.compile(dynamic=True), aot_eager",
    "torch.compile(dynamic=True), inductor",
    "torch.jit.trace",
    "torch.fx.symbolic_trace",
    "ONNX",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--deploy-table", default=None, help="write the RST table of verified deployment paths here")


class _Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[tuple[str, str, int], list[str]] = defaultdict(list)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> object:
        outcome = yield
        report = outcome.get_result()
        marker = item.get_closest_marker("deploy")
        callspec = getattr(item, "callspec", None)
        if marker is None or callspec is None:
            return
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            params = callspec.params
            mode = params.get("mode", "coord" if "pad" in params else None)
            if mode is None:
                return
            name = ",".join(mode) if isinstance(mode, tuple) else str(mode)
            outcome = "xfailed" if report.outcome == "skipped" and hasattr(report, "wasxfail") else report.outcome
            self.outcomes[(marker.args[0], name, int(params.get("dims", 2)))].append(outcome)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.outcomes:
            return
        paths = [p for p in PATH_ORDER if any(key[0] == p for key in self.outcomes)]
        paths += sorted({key[0] for key in self.outcomes} - set(paths))
        modes = sorted({key[1] for key in self.outcomes}, key=lambda m: ("," in m, m))
        rows = [["mode", *paths]]
        for mode in modes:
            row = [f"``{mode}``" if "," not in mode else f"``({mode})``"]
            for path in paths:
                dims = sorted(d for (p, m, d) in self.outcomes if p == path and m == mode)
                results = {d: self.outcomes[(path, mode, d)] for d in dims}
                if not dims:
                    row.append("")
                elif any(r == "failed" for rs in results.values() for r in rs):
                    failed = [f"{d}-D" for d, rs in results.items() if "failed" in rs]
                    row.append("fails: " + ", ".join(failed))
                else:
                    passed = [f"{d}-D" for d, rs in results.items() if rs and all(r == "passed" for r in rs)]
                    limited = [f"{d}-D" for d, rs in results.items() if "xfailed" in rs]
                    parts = [", ".join(passed)] + (["torch bug: " + ", ".join(limited)] if limited else [])
                    row.append("; ".join(part for part in parts if part))
            rows.append(row)
        lines = [".. list-table::", "   :header-rows: 1", "   :stub-columns: 1", ""]
        for row in rows:
            lines.append(f"   * - {row[0]}")
            lines.extend(f"     - {cell}" if cell else "     -" for cell in row[1:])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(lines) + "\n")
        raw = {f"{p} | {m} | {d}-D": sorted(set(o)) for (p, m, d), o in sorted(self.outcomes.items())}
        raw_path = self.path.with_name(self.path.name.split(".")[0] + ".json")
        raw_path.write_text(json.dumps(raw, indent=1, sort_keys=True) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--deploy-table")
    if target:
        config.pluginmanager.register(_Recorder(Path(target)), "deploy-table-recorder")
