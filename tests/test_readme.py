"""The README works when its blocks are pasted one by one into a fresh shell or interpreter.

Each Python block runs alone, in a fresh process, so a block that leans on an import or a name
from an earlier block fails here as it fails for a reader. The shell blocks are checked by
``bash -n`` (an unquoted ``module:factory()`` is a syntax error), and those that only call the
``padmods`` command (no installs) run for real, in an empty folder.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"

#: A shell block that installs or builds something: checked for syntax, never run by the tests.
INSTALLS = re.compile(r"\b(?:pip|tox|venv|git|apt|apt-get)\b")


def blocks(language: str) -> list[str]:
    """The fenced code blocks of the README in ``language``, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.DOTALL | re.M)


def fresh_env() -> dict[str, str]:
    """The environment of a new shell with this interpreter's environment (and ``padmods``) on ``PATH``."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0")
    env["PATH"] = os.pathsep.join([str(pathlib.Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("PYTHONPATH", None)
    return env


def run_bash(script: str, cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *args, "-c", script], cwd=cwd, env=fresh_env(), capture_output=True, text=True, timeout=300
    )


def test_readme_has_examples():
    assert len(blocks("python")) >= 4
    assert len(blocks("bash")) >= 3


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_block_runs_alone(index, tmp_path):
    """Each Python block runs by itself in a new interpreter, as when pasted into one."""
    block = blocks("python")[index]
    result = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, env=fresh_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"README Python block {index} fails on its own:\n{block}\n{result.stderr}"


@pytest.mark.parametrize("index", range(len(blocks("bash"))))
def test_shell_block_is_valid_bash(index, tmp_path):
    """Each shell block parses (quoted parentheses, closed heredocs)."""
    result = run_bash(blocks("bash")[index], tmp_path, "-n")
    assert result.returncode == 0, f"README shell block {index} is not valid bash:\n{result.stderr}"


def test_quick_start_comes_first_and_uses_a_virtual_environment():
    """The first two commands build the docs and run the tests, each in a virtual environment, on its own."""
    first = blocks("bash")[0]
    commands = [line.split("#")[0].strip() for line in first.splitlines() if line.split("#")[0].strip()]
    venv = "python3 -m venv .venv && . .venv/bin/activate && python3 -m pip install tox && "
    assert commands[0] == venv + "python3 -m tox -e docs"
    assert commands[1] == venv + "python3 -m tox -e py311"
    assert "python3.11" in first, "say next to the test command that it needs a python3.11 interpreter"
    assert 'pip install -e ".[plot]"' in README.read_text(encoding="utf-8"), "say how to install from the checkout"


def _command_blocks() -> list[str]:
    return [block for block in blocks("bash") if not INSTALLS.search(block)]


def test_some_shell_blocks_run():
    assert len(_command_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(_command_blocks())))
def test_shell_block_runs(index, tmp_path):
    """Each shell block that only uses padmods runs, in an empty folder, with ``set -e``."""
    block = _command_blocks()[index]
    result = run_bash("set -euo pipefail\n" + block, tmp_path)
    assert result.returncode == 0, f"README shell block fails:\n{block}\n{result.stdout}\n{result.stderr}"


def test_impact_example_shows_the_modes_differ(tmp_path):
    """The README's ``padmods impact`` example is one where the padding mode makes a difference."""
    lines = [line.split("#")[0].strip() for block in blocks("bash") for line in block.splitlines()]
    (impact,) = [line for line in lines if line.startswith("padmods impact")]
    result = run_bash(impact + " --json", tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {(entry["corner"], entry["edge_centre"], entry["centre"]) for entry in json.loads(result.stdout)}
    assert len(rows) >= 3, f"{impact!r} prints the same numbers for most modes: {sorted(rows)}"


def test_inline_commands_are_valid_bash(tmp_path):
    """A command quoted inline in the prose (`` `padmods report "m:f()" ...` ``) parses too."""
    inline = re.findall(r"`((?:python3 -m |padmods )[^`]+)`", README.read_text(encoding="utf-8"))
    assert any(command.startswith("padmods report") for command in inline)
    for command in inline:
        result = run_bash(command, tmp_path, "-n")
        assert result.returncode == 0, f"README's inline command {command!r} is not valid bash: {result.stderr}"
