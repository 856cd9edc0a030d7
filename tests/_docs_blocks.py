"""The ``.. code-block:: python`` blocks of the hand-written documentation pages, and how to run one.

Shared by ``tests/test_docs_code_blocks.py`` and ``tests_export/test_docs_onnx.py`` (the blocks
that need the ONNX packages of ``tox -e export``).
"""

from __future__ import annotations

import builtins
import os
import re
import subprocess
import symtable
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: Folders of the docs source that hold no hand-written pages.
GENERATED = ("_build", "_generated", "auto_examples", "gen_modules", "_templates", "_ext", "_tables")
#: A block that needs the ONNX packages of ``tox -e export``.
NEEDS_ONNX = re.compile(r"\btorch\.onnx\b|\bimport onnx")
#: Blocks about timm's layers: timm imports torchvision, a CUDA build of several GB that no tox env
#: installs, so these blocks are only checked statically (they name nothing they do not import).
NEEDS_TIMM = re.compile(r"^\s*(?:import|from) timm\b", re.M)

_DIRECTIVE = re.compile(r"^(\s*)\.\. code-block:: python\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def pages() -> list[Path]:
    """The reST pages written by hand."""
    return sorted(path for path in DOCS.rglob("*.rst") if not set(path.relative_to(DOCS).parts[:-1]) & set(GENERATED))


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ``.. code-block:: python`` blocks of a reST text: (line number, dedented code)."""
    lines = text.splitlines()
    found = []
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        index += 1
        if not match:
            continue
        start = index
        indent = len(match.group(1))
        while index < len(lines) and lines[index].strip().startswith(":"):  # the directive's options
            index += 1
        body: list[str] = []
        while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > indent):
            body.append(lines[index])
            index += 1
        while body and not body[-1].strip():
            body.pop()
        width = min(_indent(line) for line in body if line.strip())
        found.append((start, "\n".join(line[width:] for line in body) + "\n"))
    return found


def all_blocks() -> list[tuple[str, str]]:
    """Every Python block of every page: (``page.rst:line``, code)."""
    return [
        (f"{page.relative_to(DOCS).as_posix()}:{line}", code)
        for page in pages()
        for line, code in python_blocks(page.read_text(encoding="utf-8"))
    ]


def undefined_names(code: str) -> set[str]:
    """Names a block reads but never binds (imports, assignments, defs), builtins aside."""
    top = symtable.symtable(code, "<block>", "exec")
    bound = {symbol.get_name() for symbol in top.get_symbols() if symbol.is_assigned() or symbol.is_imported()}
    used: set[str] = set()

    def walk(table: symtable.SymbolTable) -> None:
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                used.add(symbol.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return used - bound - set(dir(builtins))


def run_alone(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a block in a new interpreter (this one's environment), in ``cwd``, as a reader would."""
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
