"""A pytest plugin that writes the docs' table of what is verified, per mode and deployment path, from test results.

Tests name their path with ``@pytest.mark.deploy("torch.export")`` and their mode with a ``mode``
parameter (and ``dims``, or ``pad`` for CoordConv variants). With ``--deploy-table PATH`` the
plugin collects the outcome of every such test and, at the end of the session, writes RST to
``PATH`` (and the raw outcomes next to it, as ``NAME.json``): a line naming the versions of
Python, torch, onnx, onnxruntime and onnxscript that ran the tests and the padmods version and
commit they tested, then one table per group of paths (:data:`PATH_GROUPS`), narrow enough for
the page's column. A cell lists the numbers of spatial axes whose tests all passed (``1 2 3``:
1-D, 2-D and 3-D), says "fails" if any failed, and "torch bug" for a strict xfail that pins a
known bug of torch (docs/export.rst says which, and the workaround). The ``export`` tox env
loads the plugin with ``-p tests_export.deploy_table`` and writes ``docs/_tables/deploy.rst.inc``, which is committed
and included by ``docs/export.rst``; the docs build runs nothing.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import subprocess
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
    "torch.jit.trace",
    "torch.fx.symbolic_trace",
    "ONNX",
    "torch.compile(dynamic=True), aot_eager",
    "torch.compile(dynamic=True), inductor",
]


#: The tables of the page: a title and the paths it has, so that each fits the page's column.
PATH_GROUPS = [
    ("Transforms and autocast", PATH_ORDER[:5]),
    ("Export and tracing", PATH_ORDER[5:9]),
    ("torch.compile by backend", PATH_ORDER[9:]),
]


def _header(path: str) -> str:
    """A column's header: the path's name with a break allowed after its dots and before its
    brackets (a zero-width space), so that long names such as torch.fx.symbolic_trace wrap."""
    return path.replace(".", ".\u200b").replace("(", "\u200b(").replace(".\u200b ", ". ")


#: The packages whose versions the page names.
VERSIONED = ("torch", "onnx", "onnxruntime", "onnxscript")


def environment() -> tuple[str, str | None]:
    """One sentence naming the versions that ran the tests and the padmods version and commit they
    tested, and that commit (``None`` outside a git checkout)."""
    versions = [f"Python {platform.python_version()}"]
    for package in VERSIONED:
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    import padmods

    tested = f"padmods {padmods.__version__}"
    commit = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "src"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        tested += f" at commit ``{commit}``" + (" with local changes to ``src``" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return f"Verified with {', '.join(versions)}, on {tested}.", commit


def _cell(dims: list[int], results: dict[int, list[str]]) -> str:
    if not dims:
        return ""
    if any(r == "failed" for rs in results.values() for r in rs):
        return "fails: " + ", ".join(f"{d}-D" for d, rs in results.items() if "failed" in rs)
    passed = " ".join(str(d) for d, rs in results.items() if rs and all(r == "passed" for r in rs))
    limited = " ".join(str(d) for d, rs in results.items() if "xfailed" in rs)
    return "; ".join(part for part in (passed, f"torch bug: {limited}" if limited else "") if part)


def render(outcomes: dict[tuple[str, str, int], list[str]], sentence: str, commit: str | None) -> str:
    """The RST of the page: the versions, then one table per group of paths, each titled with the commit."""
    seen = {key[0] for key in outcomes}
    groups = [(title, [p for p in paths if p in seen]) for title, paths in PATH_GROUPS]
    unknown = sorted(seen - {p for _, paths in PATH_GROUPS for p in paths})
    if unknown:
        groups.append(("Other paths", unknown))
    modes = sorted({key[1] for key in outcomes}, key=lambda m: ("," in m, m))
    lines = [sentence, ""]
    for title, paths in groups:
        if not paths:
            continue
        caption = f"{title}, verified at commit ``{commit}``" if commit else title
        lines += [f".. list-table:: {caption}", "   :header-rows: 1", "   :stub-columns: 1", "", "   * - mode"]
        lines += [f"     - {_header(path)}" for path in paths]
        for mode in modes:
            lines.append(f"   * - ``{mode}``" if "," not in mode else f"   * - ``({mode})``")
            for path in paths:
                dims = sorted(d for (p, m, d) in outcomes if p == path and m == mode)
                cell = _cell(dims, {d: outcomes[(path, mode, d)] for d in dims})
                lines.append(f"     - {cell}" if cell else "     -")
        lines.append("")
    return "\n".join(lines)


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(render(self.outcomes, *environment()))
        raw = {f"{p} | {m} | {d}-D": sorted(set(o)) for (p, m, d), o in sorted(self.outcomes.items())}
        raw_path = self.path.with_name(self.path.name.split(".")[0] + ".json")
        raw_path.write_text(json.dumps(raw, indent=1, sort_keys=True) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--deploy-table")
    if target:
        config.pluginmanager.register(_Recorder(Path(target)), "deploy-table-recorder")
