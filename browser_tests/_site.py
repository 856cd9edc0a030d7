"""Where the built site is and which of its pages the browser check opens (shared by the tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HTML_DIR = ROOT / "docs" / "_build" / "html"
GALLERY_DIR = "auto_examples"


def html_dir(config: pytest.Config) -> Path:
    """The folder of the built site, as given by ``--html-dir``."""
    return Path(config.getoption("--html-dir")).resolve()


def gallery_pages(site: Path) -> list[str]:
    """The gallery's example pages, relative to the site root, without the index of each section."""
    gallery = site / GALLERY_DIR
    return sorted(page.relative_to(site).as_posix() for page in gallery.rglob("*.html") if page.name != "index.html")


def pages_to_check(site: Path) -> list[str]:
    """The landing page, the gallery index and every gallery example page."""
    return ["index.html", f"{GALLERY_DIR}/index.html", *gallery_pages(site)]
