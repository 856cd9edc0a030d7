"""The documentation's ONNX examples run on their own, with the ONNX packages this env installs.

``tests/test_docs_code_blocks.py`` runs every other Python block of the docs; these need
``onnx`` and ``onnxscript``, so they run here, each in a fresh interpreter.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _docs_blocks import NEEDS_ONNX, all_blocks, run_alone

ONNX_BLOCKS = [(name, code) for name, code in all_blocks() if NEEDS_ONNX.search(code)]


def test_there_are_onnx_blocks():
    assert ONNX_BLOCKS


@pytest.mark.parametrize(("name", "code"), ONNX_BLOCKS, ids=[name for name, _ in ONNX_BLOCKS])
def test_onnx_block_runs_alone(name, code, tmp_path):
    result = run_alone(code, tmp_path)
    assert result.returncode == 0, f"{name} fails when run on its own:\n{code}\n{result.stderr[-3000:]}"
    assert list(tmp_path.glob("*.onnx")), f"{name} wrote no .onnx file"
