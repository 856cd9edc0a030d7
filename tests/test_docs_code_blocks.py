"""Every ``.. code-block:: python`` of the documentation runs on its own, in a fresh interpreter.

A reader copies one block (the copy button copies one block), not the page, so a block that uses
an import or a name from an earlier block fails with a ``NameError`` for the reader. Two checks:

* every block names only what it imports or assigns itself (or a builtin), checked statically,
  for every block including those this environment cannot run;
* every block runs alone in a new process, here, except the blocks that export to ONNX: they need
  ``onnx`` and ``onnxscript``, which only ``tox -e export`` installs, and run there
  (``tests_export/test_docs_onnx.py``), and the blocks about timm's layers, which import timm
  and with it torchvision, a download of several GB that no environment here makes.

``>>>`` sessions are different: they continue from one block to the next on a page, like a
console session, and ``tests/test_docs_examples.py`` runs them page by page as doctests.
"""

from __future__ import annotations

import pytest
from _docs_blocks import NEEDS_ONNX, NEEDS_TIMM, all_blocks, run_alone, undefined_names

BLOCKS = all_blocks()
#: The blocks this environment runs; a block's files (``layer.onnx``) go to a temporary folder.
RUNNABLE = [(name, code) for name, code in BLOCKS if not (NEEDS_ONNX.search(code) or NEEDS_TIMM.search(code))]


def test_docs_have_python_blocks():
    names = {name.split(":")[0] for name, _ in BLOCKS}
    assert {"export.rst", "guide/converting.rst", "plugins.rst"} <= names
    assert any(NEEDS_ONNX.search(code) for _, code in BLOCKS), "the ONNX block moved: update tests_export"


def test_undefined_names_are_found():
    assert undefined_names("import torch\nx = torch.ones(2)\nprint(dims, x)\n") == {"dims"}
    assert undefined_names("def f():\n    return nn.Conv2d\n") == {"nn"}
    assert undefined_names("from torch import nn\nclass A(nn.Module):\n    def f(self):\n        return A\n") == set()


@pytest.mark.parametrize(("name", "code"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_block_defines_what_it_uses(name, code):
    missing = undefined_names(code)
    assert not missing, f"{name} uses {sorted(missing)} without importing or defining them:\n{code}"


@pytest.mark.parametrize(("name", "code"), RUNNABLE, ids=[name for name, _ in RUNNABLE])
def test_block_runs_alone(name, code, tmp_path):
    result = run_alone(code, tmp_path)
    assert result.returncode == 0, f"{name} fails when run on its own:\n{code}\n{result.stderr[-3000:]}"
