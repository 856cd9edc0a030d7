"""Read the built HTML (no browser) for defects a reader sees but Sphinx does not warn about.

Each test stands for a defect that once reached the site: a builtin's docstring shown for a module
constant, a second field list (and a second "Return type") in one entry, an internal type variable
or prose shown as a type, an intro printed twice, a name initial parsed as a lettered list, a link
to an anchor that does not exist, and downloaded notebooks full of reST.
"""

from __future__ import annotations

import itertools
import json
import re
import urllib.parse
from functools import cache
from pathlib import Path

import pytest
from _html import Element, parse

#: The first line of the docstrings of Python's builtin types, which autodoc shows for a constant
#: that has no documentation of its own.
BUILTIN_DOCSTRINGS = tuple(
    line
    for kind in (tuple, list, dict, set, frozenset, float, int, str, bytes, bool, object, complex, range)
    for line in [(kind.__doc__ or "").strip().splitlines()[0]]
    if len(line) > 12
)

#: Names a type annotation may show without a link: Python's, typing's, torch's and numpy's.
#: Any other name without a link (an internal type variable, a private mixin) is a defect.
EXTERNAL_TYPE_NAMES = frozenset(
    """
    None int float str bool bytes complex tuple list dict set frozenset type object slice range
    Any Optional Union Callable Sequence Mapping MutableMapping Iterable Iterator Generator Literal
    ClassVar Self TypeAlias collections abc typing
    torch Tensor Module Parameter Conv1d Conv2d Conv3d Sequential Size dtype device Generator nn
    ndarray numpy np NDArray
    """.split()
)

#: An entry field that holds a type, not prose.
TYPE_FIELDS = ("Type", "Return type")


def _pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


@cache
def _tree(path: Path) -> Element:
    return parse(path)


def _article(tree: Element) -> Element:
    articles = tree.find_all("article")
    return articles[0] if articles else tree


def _entries(tree: Element) -> list[tuple[str, Element]]:
    """Every API entry of a page: (its id or signature text, its description ``dd``)."""
    entries = []
    for dl in tree.find_all("dl"):
        if "py" not in dl.classes or "field-list" in dl.classes:
            continue
        children = dl.elements()
        for dt, dd in itertools.pairwise(children):
            if dt.tag == "dt" and dd.tag == "dd":
                entries.append((dt.attrs.get("id") or dt.text()[:60], dd))
    return entries


def _own_field_lists(dd: Element) -> list[Element]:
    """The field lists of one entry, not those of the entries nested in it (a class's methods)."""
    found: list[Element] = []

    def walk(element: Element) -> None:
        for child in element.elements():
            if child.tag == "dl" and "field-list" in child.classes:
                found.append(child)
            elif not (child.tag == "dl" and "py" in child.classes):
                walk(child)

    walk(dd)
    return found


def _fields(field_list: Element) -> list[tuple[str, Element]]:
    children = field_list.elements()
    return [
        (dt.text().rstrip(":").strip(), dd)
        for dt, dd in itertools.pairwise(children)
        if dt.tag == "dt" and dd.tag == "dd"
    ]


def test_no_builtin_docstrings(site: Path) -> None:
    """No entry shows the docstring of ``tuple``, ``float``... instead of its own."""
    offenders = [
        f"{path.relative_to(site)}: {name}: {line!r}"
        for path in _pages(site)
        for name, dd in _entries(_tree(path))
        for line in BUILTIN_DOCSTRINGS
        if line in dd.text()
    ]
    assert not offenders, f"entries documented by a builtin's docstring: {offenders}"


def test_one_field_list_per_entry(site: Path) -> None:
    """Each entry has one field list, so that no field ("Return type") appears twice."""
    offenders = []
    for path in _pages(site):
        for name, dd in _entries(_tree(path)):
            field_lists = _own_field_lists(dd)
            names = [field for field_list in field_lists for field, _ in _fields(field_list)]
            if len(field_lists) > 1 or len(names) != len(set(names)):
                offenders.append(f"{path.relative_to(site)}: {name}: {names}")
    assert not offenders, f"entries whose fields are split or repeated: {offenders}"


def _unlinked_names(dd: Element) -> list[str]:
    linked = {name for a in dd.find_all("a") for name in re.findall(r"[A-Za-z_]\w*", a.text())}
    return [name for name in re.findall(r"[A-Za-z_]\w*", dd.text()) if name not in linked]


def test_types_are_types(site: Path) -> None:
    """A "Type" or "Return type" field holds a type: no prose, no internal names without a page."""
    offenders = []
    for path in _pages(site):
        for name, dd in _entries(_tree(path)):
            for field_list in _own_field_lists(dd):
                for field, value in _fields(field_list):
                    if field not in TYPE_FIELDS:
                        continue
                    text = value.text()
                    prose = re.search(r"[A-Za-z_]\w*\s+[A-Za-z_]\w*", text)
                    unknown = sorted(set(_unlinked_names(value)) - EXTERNAL_TYPE_NAMES)
                    if prose or unknown:
                        offenders.append(f"{path.relative_to(site)}: {name}: {field}: {text!r}")
    assert not offenders, f"type fields that do not show a documented type: {offenders}"


def test_no_paragraph_twice_on_a_page(site: Path) -> None:
    """No page says the same paragraph twice (a module docstring beside a hand-written intro).

    Paragraphs in API entries, tables, lists and gallery thumbnails are left out: a parameter's
    description or an example's summary rightly recurs there.
    """
    offenders = []
    for path in _pages(site):
        seen: set[str] = set()
        for paragraph in _article(_tree(path)).find_all("p"):
            if _in_repeated_block(paragraph):
                continue
            text = paragraph.text()
            if len(text) < 60:
                continue
            if text in seen:
                offenders.append(f"{path.relative_to(site)}: {text[:80]!r}")
            seen.add(text)
    assert not offenders, f"paragraphs repeated on one page: {offenders}"


def _in_repeated_block(element: Element) -> bool:
    """Whether an element sits where repeats are expected: API entries, tables, lists, thumbnails."""
    node = element.parent
    while node is not None:
        if node.tag in ("dl", "table", "li") or any(cls.startswith("sphx-glr") for cls in node.classes):
            return True
        node = node.parent
    return False


def test_no_lettered_lists(site: Path) -> None:
    """No text was parsed as a lettered or Roman-numbered list ("H. Scheidl" loses its initial)."""
    styles = {"loweralpha", "upperalpha", "lowerroman", "upperroman"}
    offenders = [
        f"{path.relative_to(site)}: {ol.text()[:60]!r}"
        for path in _pages(site)
        for ol in _article(_tree(path)).find_all("ol")
        if ol.classes & styles
    ]
    assert not offenders, f"lettered lists (escape an initial such as 'H\\. Scheidl'): {offenders}"


@cache
def _anchors(path: Path) -> frozenset[str]:
    return frozenset(
        value for element in _tree(path).iter() for key, value in element.attrs.items() if key in ("id", "name")
    )


def test_internal_links_resolve(site: Path) -> None:
    """Every link within the site reaches a file that exists and, with a ``#fragment``, an anchor on it."""
    broken = []
    for path in _pages(site):
        for a in _tree(path).find_all("a"):
            href = a.attrs.get("href", "")
            if not href or re.match(r"^[a-z][a-z0-9+.-]*:|^//", href, re.IGNORECASE):
                continue  # a remote link, mailto:, javascript:
            target, _, fragment = href.partition("#")
            target_path = (path.parent / urllib.parse.unquote(target)).resolve() if target else path
            if target_path.is_dir():
                target_path = target_path / "index.html"
            if not target_path.is_file():
                broken.append(f"{path.relative_to(site)}: {href} (no such file)")
            elif fragment and target_path.suffix == ".html":
                if urllib.parse.unquote(fragment) not in _anchors(target_path):
                    broken.append(f"{path.relative_to(site)}: {href} (no such anchor)")
    assert not broken, f"{len(broken)} internal link(s) lead nowhere: {broken}"


#: reST that a notebook's Markdown cells must not show: roles and directives.
REST_MARKUP = re.compile(
    r":(?:[a-z]+:)?(?:func|class|meth|mod|doc|ref|attr|data|math|term|py:\w+):`"  # roles
    r"|^\s*\.\. [a-z-]+::",  # directives
    re.M,
)


def test_notebooks_are_markdown(site: Path) -> None:
    """The downloadable notebooks have Markdown text cells, without reST roles or directives."""
    notebooks = sorted(site.glob("_downloads/**/*.ipynb"))
    if not notebooks:
        pytest.fail("no notebook in _downloads: the gallery was not built (tox -e docs)", pytrace=False)
    offenders = []
    for path in notebooks:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            source = "".join(cell["source"])
            for match in REST_MARKUP.finditer(source):
                offenders.append(f"{path.name}: {source[max(0, match.start() - 30) : match.end() + 30]!r}")
    assert not offenders, f"reST left in notebook text cells: {offenders[:20]}"


#: Pages that are not prose: generated indexes and the highlighted source of each module.
NOT_PROSE = ("genindex.html", "search.html", "py-modindex.html")


def _prose_pages(site: Path) -> list[Path]:
    return [path for path in _pages(site) if path.name not in NOT_PROSE and "_modules" not in path.parts]


def _reading_text(element: Element) -> str:
    """The text a reader reads: code blocks left out, inline code kept between NUL marks, blocks apart.

    The marks keep a word of prose and the same word in code ("the padding mode ``mode``") from
    counting as a repeated word, while "an ``torch.nn.Conv2d``" still reads as "an torch".
    """
    parts: list[str] = []

    def walk(node: Element) -> None:
        for child in node.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag in ("pre", "script", "style") or any(cls.startswith("highlight") for cls in child.classes):
                parts.append(" \n ")
            elif child.tag == "code":
                parts.append("\0" + child.text() + "\0")
            else:
                block = child.tag in ("p", "li", "td", "th", "dt", "dd", "div", "h1", "h2", "h3", "h4", "caption")
                if block:
                    parts.append(" \n ")
                walk(child)
                if block:
                    parts.append(" \n ")

    walk(element)
    return re.sub(r"[ \t\r\f\v]+", " ", "".join(parts))


#: A word written twice ("the The padding modes page"), within one block of text.
REPEATED_WORD = re.compile(r"\b([A-Za-z]+) \1\b", re.IGNORECASE)
#: "an" before a word that starts with a consonant sound ("an torch.nn.Conv2d"). Letters whose name
#: starts with a vowel (f, h, l, m, n, r, s, x: "an nn.Conv2d", "an x coordinate") are left out.
AN_BEFORE_CONSONANT = re.compile(r"\b[Aa]n \0?(?=[bcdgjkpqtvwyz])\w+")
#: A method shown with empty parentheses and then its arguments in code: "pad() (input, pairs)".
DOUBLED_PARENTHESES = re.compile(r"\w\(\)\0 ?\0\(")
#: Inline code, between the NUL marks of :func:`_reading_text`.
INLINE_CODE = re.compile(r"\0[^\0]*\0")


def test_no_repeated_words_or_wrong_articles(site: Path) -> None:
    """No rendered page says a word twice, "an" before a consonant, or "name() (arguments)"."""
    offenders = []
    for path in _prose_pages(site):
        text = _reading_text(_article(_tree(path)))
        prose = INLINE_CODE.sub("\0\0", text)  # "[a a | a b]" in code repeats words on purpose
        for pattern, searched in ((REPEATED_WORD, prose), (AN_BEFORE_CONSONANT, text), (DOUBLED_PARENTHESES, text)):
            for match in pattern.finditer(searched):
                context = searched[max(0, match.start() - 40) : match.end() + 30].replace("\0", "`")
                offenders.append(f"{path.relative_to(site)}: {' '.join(context.split())!r}")
    assert not offenders, f"{len(offenders)} typo(s) on the rendered pages: {offenders}"


#: The repr of a matplotlib object that a gallery cell printed because it ended with a plotting call.
MATPLOTLIB_REPR = re.compile(r"^\s*(?:\[?<matplotlib\.|<Figure size|\[?Text\(|\[?Line2D\(|<BarContainer)", re.M)


def test_no_matplotlib_reprs_in_gallery_output(site: Path) -> None:
    """No output box of the gallery shows ``Text(0.5, 0.98, '...')`` or ``<matplotlib... at 0x...>``."""
    pages = [path for path in _pages(site) if "auto_examples" in path.parts]
    assert pages, "no gallery pages: build the docs with the gallery (tox -e docs)"
    offenders = [
        f"{path.relative_to(site)}: {box.text()[:80]!r}"
        for path in pages
        for box in _tree(path).find_all(cls="sphx-glr-script-out")
        if MATPLOTLIB_REPR.search("".join(_raw_text(box)))
    ]
    assert not offenders, f"matplotlib reprs printed in gallery output: {offenders}"


def _raw_text(element: Element) -> list[str]:
    """The text below an element with its line breaks, as a ``<pre>`` shows it."""
    return [child if isinstance(child, str) else "".join(_raw_text(child)) for child in element.children]


#: The pages whose tables hold measurements: each table must say what version measured it.
MEASURED_PAGES = ("performance.html", "guide/choosing.html", "export.html")
#: How a table (its caption, or the paragraph just before it) names what it measured.
MEASURED_WITH = re.compile(r"\bcommit\W+[0-9a-f]{7,40}\b")


def _table_label(table: Element) -> str:
    """A table's caption and the paragraphs between it and the heading or table before it."""
    captions = table.find_all("caption")
    texts = [captions[0].text()] if captions else []
    node = table
    while node.parent is not None and node.parent.tag == "div" and "table-wrapper" in node.parent.classes:
        node = node.parent
    parent = node.parent
    if parent is not None:
        siblings = parent.elements()
        for sibling in reversed(siblings[: siblings.index(node)]):
            if sibling.tag in ("h1", "h2", "h3", "h4", "section") or sibling.find_all("table"):
                break
            if sibling.tag == "p":
                texts.append(sibling.text())
    return " ".join(texts)


def test_tables_of_measurements_name_their_version(site: Path) -> None:
    """Every table of the performance, choosing and export pages names the padmods commit it measured."""
    unlabelled = []
    for page in MEASURED_PAGES:
        path = site / page
        assert path.is_file(), f"{page} was not built"
        tables = _article(_tree(path)).find_all("table")
        assert tables, f"{page} has no tables"
        for table in tables:
            if not MEASURED_WITH.search(_table_label(table)):
                first = table.find_all("th") or table.find_all("td")
                unlabelled.append(f"{page}: table starting {first[0].text()[:40]!r}" if first else page)
    assert not unlabelled, f"tables that do not say which version (commit) they measured: {unlabelled}"


#: The modes padmods registers itself: the choosing table must show a measured cost for each.
BUILTIN_MODES = ("zeros", "reflect", "replicate", "circular", "symmetric", "spherical", "partial", "coord")


def test_no_builtin_mode_is_not_measured(site: Path) -> None:
    """The choosing table has no "not measured" cell in the row of a built-in mode."""
    table = _article(_tree(site / "guide" / "choosing.html")).find_all("table", cls="padmods-choosing")
    assert table, "no choosing table on guide/choosing.html"
    rows = [row for row in table[0].find_all("tr") if row.find_all("td")]
    assert rows, "the choosing table has no rows"
    missing = [
        row.text()[:20]
        for row in rows
        if "not measured" in row.text() and row.text().strip(" '").split("'")[0] in BUILTIN_MODES
    ]
    assert not missing, f"built-in modes without a measured cost: {missing}"


def _notebooks(site: Path) -> list[Path]:
    notebooks = sorted(site.glob("_downloads/**/*.ipynb"))
    if not notebooks:
        pytest.fail("no notebook in _downloads: the gallery was not built (tox -e docs)", pytrace=False)
    return notebooks


def _markdown_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


def test_notebook_headings_sit_under_the_title(site: Path) -> None:
    """A notebook has one level-1 heading, its title in the first text cell; its sections are below it."""
    offenders = []
    for path in _notebooks(site):
        cells = _markdown_cells(path)
        titles = [(i, line) for i, cell in enumerate(cells) for line in cell.splitlines() if line.startswith("# ")]
        if len(titles) != 1 or titles[0][0] != 0:
            offenders.append(f"{path.name}: level-1 headings {titles}")
    assert not offenders, f"notebooks whose sections are at the title's level: {offenders}"


def test_notebook_text_has_no_escaped_apostrophes(site: Path) -> None:
    """The Markdown of a notebook reads as written: ``kernel's``, not ``kernel`` backslash ``'s``."""
    escaped = "\\'"
    offenders = [
        f"{path.name}: {cell[max(0, cell.index(escaped) - 30) : cell.index(escaped) + 10]!r}"
        for path in _notebooks(site)
        for cell in _markdown_cells(path)
        if escaped in cell
    ]
    assert not offenders, f"escaped apostrophes in notebook text: {offenders}"


#: A cross-reference in a gallery script's text: ``:ref:`Title <label>``` or ``:doc:`/page```.
CROSS_REFERENCE = re.compile(r":(?:ref|doc):`(?:([^`<]+?)\s*<([^>]+)>|([^`<]+))`")


def test_notebook_references_are_links(site: Path) -> None:
    """Every ``:ref:``/``:doc:`` of a gallery script is a Markdown link in its notebook, not bare italics."""
    gallery = Path(__file__).resolve().parents[1] / "gallery"
    offenders = []
    for path in _notebooks(site):
        scripts = list(gallery.rglob(path.with_suffix(".py").name))
        assert scripts, f"{path.name}: no gallery script of that name"
        text = " ".join(" ".join(_markdown_cells(path)).split())
        for match in CROSS_REFERENCE.finditer(scripts[0].read_text(encoding="utf-8")):
            title, _, target = match.groups()
            if title is not None:  # [Title](https://...)
                found = f"[{' '.join(title.split())}](http" in text
            else:  # [Its title](https://.../target...)
                found = re.search(r"\]\(https?://[^)]*" + re.escape(target.strip("/")), text) is not None
            if not found:
                offenders.append(f"{path.name}: {match.group(0)}")
    assert not offenders, f"cross-references that are not links in the notebooks: {offenders}"
