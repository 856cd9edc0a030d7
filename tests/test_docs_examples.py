"""The ``>>>`` examples of the user guide and the front page run and print what the pages say."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: plugins.rst shows a session with a hypothetical plugin package installed, so it cannot run here
PAGES = sorted(
    path
    for path in [*DOCS.glob("*.rst"), *DOCS.glob("guide/*.rst")]
    if ">>>" in path.read_text(encoding="utf-8") and path.name != "plugins.rst"
)


def test_the_guide_has_examples():
    assert {"converting.rst", "index.rst"} <= {path.name for path in PAGES}


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(DOCS)))
def test_page_examples(page):
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    result = doctest.testfile(str(page), module_relative=False, optionflags=flags, report=False, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {page.name} failed"
