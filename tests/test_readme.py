"""The README's Python examples run as written."""

from __future__ import annotations

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_examples():
    assert len(python_blocks()) >= 3


@pytest.mark.parametrize("index", range(3))
def test_readme_example_runs(index, clean_registry):
    namespace: dict = {}
    for block in python_blocks()[: index + 1]:  # later blocks build on earlier ones
        exec(compile(block, f"README.md block {index}", "exec"), namespace)
