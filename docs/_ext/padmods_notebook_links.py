"""Where the cross-references of the gallery's notebooks lead: the paper, or the page on the docs site.

A downloaded notebook is read outside this site, so a Sphinx reference (``:ref:`Scheidl (2021)
<ref-scheidl2021>```) must become a link that works anywhere: a reference to the list of sources
(``ref-*`` in ``references.rst``) leads to the source itself (its first link there), any other
label or document to its page on the published documentation (``Documentation`` in
``pyproject.toml``). :func:`write_links` writes ``{label: {"url", "title"}}`` as JSON for the pandoc
filter ``notebook_markdown.lua``, which reads the file named by ``PADMODS_NOTEBOOK_LINKS``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["label_links", "write_links"]

_LABEL = re.compile(r"^\.\. _([\w-]+):\s*$")
_TITLE_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_URL = re.compile(r"<(https?://[^>]+)>`_")
#: Folders of the docs source that hold no hand-written pages.
_SKIP = ("_build", "_generated", "auto_examples", "gen_modules", "_templates", "_ext", "_tables")


def _labels_of(lines: list[str], page: str, site: str) -> dict[str, dict[str, str]]:
    links = {}
    for index, line in enumerate(lines):
        match = _LABEL.match(line.strip().removeprefix('r"""').removeprefix('"""'))
        if not match:
            continue
        label = match.group(1)
        rest = [text for text in lines[index + 1 :] if text.strip()]
        if not rest:
            continue
        title = rest[0].strip()
        body = []
        for text in rest[1:]:
            if _LABEL.match(text.strip()):
                break
            body.append(text)
        url = None
        if label.startswith("ref-"):  # an entry of the list of sources: the source itself
            found = _URL.search(" ".join(part.strip() for part in body))
            url = found.group(1) if found else None
        if url is None:
            url = f"{site}/{page}.html#{label}"
        if len(rest) > 1 and _TITLE_UNDERLINE.match(rest[1].strip()):
            title = rest[0].strip()
        links[label] = {"url": url, "title": title}
    return links


def label_links(docs: Path, gallery: Path, gallery_dir: str, site: str) -> dict[str, dict[str, str]]:
    """Every label of the docs pages and gallery scripts, and every page, with its URL and title."""
    site = site.rstrip("/")
    links: dict[str, dict[str, str]] = {}
    for path in sorted(docs.rglob("*.rst")):
        relative = path.relative_to(docs)
        if set(relative.parts[:-1]) & set(_SKIP):
            continue
        page = relative.with_suffix("").as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        links.update(_labels_of(lines, page, site))
        titles = [lines[i].strip() for i in range(len(lines) - 1) if _TITLE_UNDERLINE.match(lines[i + 1].strip())]
        links["/" + page] = {"url": f"{site}/{page}.html", "title": titles[0] if titles else page}
    for path in sorted(gallery.rglob("plot_*.py")):
        page = f"{gallery_dir}/{path.relative_to(gallery).with_suffix('').as_posix()}"
        links.update(_labels_of(path.read_text(encoding="utf-8").splitlines()[:5], page, site))
    return links


def write_links(target: Path, docs: Path, gallery: Path, gallery_dir: str, site: str) -> Path:
    """Write :func:`label_links` to ``target`` (only when it changed) and return it."""
    text = json.dumps(label_links(docs, gallery, gallery_dir, site), indent=1, sort_keys=True) + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target
