"""Open the built docs in headless Chromium: every image loads, the console stays clean, nothing remote.

Run with ``tox -e browser`` after ``tox -e docs``. The pages checked are the landing page, the
gallery index and every gallery example page, found in ``docs/_build/html/auto_examples``.
"""

from __future__ import annotations

import html.parser
import json
import re
from pathlib import Path
from typing import ClassVar

import pytest
from _site import GALLERY_DIR, gallery_pages

pytestmark = pytest.mark.browser

#: Force lazy images to load, then wait (up to 30 s) until every <img> has finished, loaded or broken.
WAIT_FOR_IMAGES = """
const done = arguments[arguments.length - 1];
for (const img of document.images) { img.loading = "eager"; }
const deadline = Date.now() + 30000;
(function poll() {
  const pending = Array.from(document.images).filter((img) => !img.complete);
  if (pending.length === 0 || Date.now() > deadline) {
    done(pending.map((img) => img.currentSrc || img.src));
  } else {
    setTimeout(poll, 100);
  }
})();
"""

#: Every <img> that did not load: not complete, or decoded to nothing.
BROKEN_IMAGES = """
return Array.from(document.images)
  .filter((img) => !(img.complete && img.naturalWidth > 0))
  .map((img) => img.getAttribute("src") + " -> " + (img.currentSrc || img.src));
"""

#: On a page that loads MathJax, wait until it has typeset the page (its fonts loaded too).
WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const script = Array.from(document.scripts).find((s) => /mathjax/i.test(s.src));
if (!script) { done("no math"); return; }
const deadline = Date.now() + 30000;
(function poll() {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    mj.startup.promise.then(() => done("typeset"), (error) => done("MathJax failed: " + error));
  } else if (Date.now() > deadline) {
    done("MathJax did not start within 30 s");
  } else {
    setTimeout(poll, 100);
  }
})();
"""


#: Every resource the page loaded (scripts, styles, images, fonts, fetches), as absolute URLs.
LOADED_RESOURCES = """
return performance.getEntriesByType("resource").map((entry) => entry.name)
  .concat([location.href]);
"""

#: Display equations that run past the right edge of the screen without a box that scrolls them.
CUT_OFF_MATH = """
const out = [];
const width = document.documentElement.clientWidth;
for (const math of document.querySelectorAll('mjx-container[display="true"]')) {
  const box = math.getBoundingClientRect();
  let element = math, scroller = null;
  while (element && element !== document.body) {
    const overflow = getComputedStyle(element).overflowX;
    if (overflow === "auto" || overflow === "scroll") { scroller = element; break; }
    if (overflow === "hidden" || overflow === "clip") { break; }
    element = element.parentElement;
  }
  const visible = scroller ? scroller.getBoundingClientRect() : box;
  const inner = math.firstElementChild ? math.firstElementChild.getBoundingClientRect() : box;
  if (visible.left < -1 || visible.right > width + 1 || (!scroller && inner.right > width + 1)) {
    const seen = Math.round(Math.min(visible.right, width));
    out.push(`${math.textContent.slice(0, 60)} (ends at ${Math.round(inner.right)} px, seen to ${seen} of ${width})`);
  }
}
if (document.documentElement.scrollWidth > width + 1) {
  out.push("the page itself scrolls sideways: " + document.documentElement.scrollWidth + " > " + width);
}
return out;
"""

#: A phone's screen, in CSS pixels.
PHONE = (390, 844)


def _severe(entries: list[dict]) -> list[str]:
    return [f"{entry.get('source', '?')}: {entry['message']}" for entry in entries if entry["level"] == "SEVERE"]


def test_site_is_built(site: Path) -> None:
    """The docs were built (the ``site`` fixture fails with "run tox -e docs first" otherwise)."""
    assert (site / "index.html").is_file()


def test_gallery_has_example_pages(site: Path) -> None:
    """The gallery has pages to check, so the per-page checks cannot pass vacuously."""
    pages = gallery_pages(site)
    assert pages, (
        f"no gallery example pages in {site / GALLERY_DIR}: the gallery scripts (gallery/plot_*.py) were "
        "not built, so the browser check would pass vacuously"
    )


def test_page_loads_cleanly(browser, server: str, site: Path, page: str) -> None:
    """Every image of the page loads and the browser console has no SEVERE entry."""
    assert (site / page).is_file(), f"{page} was not built"
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(f"{server}/{page}")
    pending = browser.execute_async_script(WAIT_FOR_IMAGES)
    assert not pending, f"{page}: images still loading after 30 s: {pending}"
    mathjax = browser.execute_async_script(WAIT_FOR_MATHJAX)
    assert mathjax in ("no math", "typeset"), f"{page}: {mathjax}"

    broken = browser.execute_script(BROKEN_IMAGES)
    assert not broken, f"{page}: {len(broken)} image(s) did not load: {broken}"
    severe = _severe(browser.get_log("browser"))
    assert not severe, f"{page}: SEVERE entries in the browser console: {severe}"
    origin = server.rstrip("/")
    remote = [url for url in browser.execute_script(LOADED_RESOURCES) if not url.startswith(origin + "/")]
    assert not remote, f"{page}: loaded resources from outside the local site: {remote}"
    assert browser.title, f"{page}: the page has no title"
    assert "Error response" not in browser.title, f"{page}: the server answered {browser.title!r}"


def test_gallery_index_shows_a_thumbnail_per_example(browser, server: str, site: Path) -> None:
    """The gallery index shows a loaded thumbnail for every example page."""
    examples = gallery_pages(site)
    browser.get(f"{server}/{GALLERY_DIR}/index.html")
    browser.execute_async_script(WAIT_FOR_IMAGES)
    thumbnails = browser.execute_script(
        "return Array.from(document.querySelectorAll('.sphx-glr-thumbcontainer img'))"
        "  .filter((img) => img.complete && img.naturalWidth > 0).length;"
    )
    assert thumbnails >= len(examples), f"{thumbnails} thumbnails loaded for {len(examples)} examples"


class _RemoteReferences(html.parser.HTMLParser):
    """Collects the URLs of resources a page would load (not links a reader may follow)."""

    #: Tags that load a resource, and the attribute holding its URL.
    LOADING: ClassVar[dict[str, str]] = {
        "script": "src",
        "img": "src",
        "iframe": "src",
        "source": "src",
        "embed": "src",
        "object": "data",
    }

    def __init__(self) -> None:
        super().__init__()
        self.remote: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        urls = []
        if tag in self.LOADING:
            urls.append(values.get(self.LOADING[tag]))
        if tag == "link" and (values.get("rel") or "").lower() != "canonical":
            urls.append(values.get("href"))
        for candidate in (values.get("srcset") or "").split(","):
            urls.append(candidate.strip().split(" ")[0])
        self.remote += [url for url in urls if url and _is_remote(url)]


def _is_remote(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url.strip(), re.IGNORECASE))


def test_no_page_loads_remote_resources(site: Path) -> None:
    """No page or stylesheet loads anything from another host: the site works offline."""
    offenders = {}
    for path in sorted(site.rglob("*.html")):
        parser = _RemoteReferences()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        if parser.remote:
            offenders[str(path.relative_to(site))] = sorted(set(parser.remote))
    for path in sorted((site / "_static").rglob("*.css")):
        text = path.read_text(encoding="utf-8", errors="replace")
        remote = re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", text)
        if remote:
            offenders[str(path.relative_to(site))] = sorted(set(remote))
    assert not offenders, f"the site must work offline, but these files load remote resources: {offenders}"


def _pages_with_display_math(site: Path) -> list[str]:
    return sorted(
        path.relative_to(site).as_posix()
        for path in site.rglob("*.html")
        if '<div class="math notranslate nohighlight">' in path.read_text(encoding="utf-8", errors="replace")
    )


def test_display_math_fits_a_phone(browser, server: str, site: Path) -> None:
    """At a phone's width, every display equation fits the screen or scrolls within its own box."""
    pages = _pages_with_display_math(site)
    assert pages, "no page has display math: the check would pass vacuously"
    problems = {}
    browser.set_window_size(*PHONE)
    try:
        for page in pages:
            browser.get(f"{server}/{page}")
            mathjax = browser.execute_async_script(WAIT_FOR_MATHJAX)
            assert mathjax == "typeset", f"{page}: {mathjax}"
            width = browser.execute_script("return document.documentElement.clientWidth;")
            assert width <= PHONE[0], f"the window did not shrink to a phone's width ({width} px)"
            cut = browser.execute_script(CUT_OFF_MATH)
            if cut:
                problems[page] = cut
    finally:
        browser.set_window_size(1280, 900)
    assert not problems, f"display math cut off at {PHONE[0]} px: {problems}"


def _prose_pages(site: Path) -> list[str]:
    """Every page a reader reads: not the generated indexes, search, or the source of each module."""
    skip = ("genindex.html", "search.html", "py-modindex.html")
    return sorted(
        path.relative_to(site).as_posix()
        for path in site.rglob("*.html")
        if path.name not in skip and "_modules" not in path.parts
    )


#: Each table of the article that is wider than its column: what shows it, and how it scrolls.
WIDE_TABLES = """
const out = [];
const article = document.querySelector("article");
for (const table of article.querySelectorAll("table")) {
  let scroller = null;
  for (let el = table.parentElement; el && el !== article.parentElement; el = el.parentElement) {
    const overflow = getComputedStyle(el).overflowX;
    if (overflow === "auto" || overflow === "scroll") { scroller = el; break; }
  }
  const room = scroller ? scroller.clientWidth : article.clientWidth;
  const width = table.getBoundingClientRect().width;
  if (width <= room + 1) { continue; }
  const caption = table.querySelector("caption");
  const first = table.querySelector("th, td");
  const name = (caption ? caption.textContent : "table starting " + (first ? first.textContent : "")).trim();
  let scrollbar = "none";
  if (scroller) {
    const thumb = getComputedStyle(scroller, "::-webkit-scrollbar-thumb").backgroundColor;
    const custom = thumb !== "rgba(0, 0, 0, 0)" && thumb !== "transparent";
    const border = parseFloat(getComputedStyle(scroller).borderBottomWidth);
    const shown = scroller.offsetHeight - scroller.clientHeight - border >= 4;
    scrollbar = custom && shown ? "visible" : (shown ? "the system's (hidden on some systems until scrolled)" : "none");
  }
  out.push({name: name.slice(0, 60), width: Math.round(width), room: Math.round(room),
            classes: table.className, scrollbar: scrollbar, scrolls: !!scroller});
}
return out;
"""


def _wide_tables(browser, server: str, pages: list[str], width: int) -> dict[str, list[dict]]:
    browser.set_window_size(width, 900)
    try:
        found = {}
        for page in pages:
            browser.get(f"{server}/{page}")
            wide = browser.execute_script(WIDE_TABLES)
            if wide:
                found[page] = wide
        return found
    finally:
        browser.set_window_size(1280, 900)


def test_tables_fit_their_column_on_a_desktop(browser, server: str, site: Path) -> None:
    """At 1280 px no table is wider than the page's column: nothing hides behind a scroll bar."""
    wide = _wide_tables(browser, server, _prose_pages(site), 1280)
    assert not wide, f"tables wider than their column at 1280 px: {wide}"


def test_wide_tables_scroll_with_a_visible_scrollbar_on_a_phone(browser, server: str, site: Path) -> None:
    """At a phone's width a table may be wider than the column only inside a box that shows its scroll bar.

    The scroll bar must be drawn by the site's own style (``::-webkit-scrollbar``), which browsers
    show at all times, rather than the system's, which some systems show only while scrolling. The
    table for choosing a mode must fit: its last column is the one a reader needs.
    """
    wide = _wide_tables(browser, server, _prose_pages(site), PHONE[0])
    hidden = {
        page: [table for table in tables if table["scrollbar"] != "visible" or "padmods-choosing" in table["classes"]]
        for page, tables in wide.items()
    }
    hidden = {page: tables for page, tables in hidden.items() if tables}
    assert not hidden, f"tables wider than a {PHONE[0]} px screen without a visible scroll bar: {hidden}"


#: The row labels (first column) of the article's tables that take more than one line.
WRAPPED_ROW_LABELS = """
const out = [];
for (const cell of document.querySelectorAll("article table th.stub, article table tbody th")) {
  const lines = [];  // [top, bottom] of each line of text; code and prose on one line overlap
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) {
      if (rect.width === 0) { continue; }
      const shared = ([top, bottom]) => Math.min(bottom, rect.bottom) - Math.max(top, rect.top);
      const line = lines.find((known) => shared(known) > 0.5 * rect.height);
      if (!line) { lines.push([rect.top, rect.bottom]); }
    }
  }
  if (lines.length > 1) { out.push(cell.textContent.trim().slice(0, 40)); }
}
return out;
"""


def test_row_labels_of_number_tables_do_not_wrap(browser, server: str, site: Path) -> None:
    """At 1280 px the row labels of the performance, choosing and export tables stay on one line."""
    pages = ["performance.html", "guide/choosing.html", "export.html", "guide/modes.html"]
    wrapped = {}
    for page in pages:
        assert (site / page).is_file(), f"{page} was not built"
        browser.get(f"{server}/{page}")
        labels = browser.execute_script(WRAPPED_ROW_LABELS)
        if labels:
            wrapped[page] = labels
    assert not wrapped, f"row labels that wrap onto a second line: {wrapped}"


#: Every figure image of the article: its file name and how wide the page shows it (CSS pixels).
SHOWN_IMAGES = """
return Array.from(document.querySelectorAll("article img"))
  .map((img) => [decodeURIComponent(img.getAttribute("src").split("/").pop()), img.getBoundingClientRect().width]);
"""

#: The smallest text a figure may show on a phone, in CSS pixels.
MIN_PHONE_TEXT_PX = 8.0


def _figure_records(site: Path) -> dict[str, dict]:
    manifest = site / "_static" / "padmods-figures.json"
    assert manifest.is_file(), f"{manifest} is missing: the docs build writes it (docs/_ext/padmods_figcheck.py)"
    return json.loads(manifest.read_text(encoding="utf-8"))


def _figure_pages(site: Path) -> list[str]:
    return [page for page in _prose_pages(site) if "/_images/" in (site / page).read_text(encoding="utf-8")]


def test_figure_text_is_not_cut_off_or_overlapping(site: Path) -> None:
    """No figure on the site has text cut off at its edge or lying on other text (or on a plot)."""
    records = _figure_records(site)
    assert records, "no figure records: the check would pass vacuously"
    problems = {name: record["problems"] for name, record in records.items() if record["problems"]}
    assert not problems, f"figures with text cut off or overlapping: {problems}"


def test_every_figure_is_recorded(site: Path) -> None:
    """Every figure a page shows (not the gallery's thumbnails) has its text record, so none escapes the checks."""
    records = _figure_records(site)
    shown = {
        name
        for page in _figure_pages(site)
        for name in re.findall(r'src="[^"]*_images/([^"/]+\.png)"', (site / page).read_text(encoding="utf-8"))
        if not name.endswith("_thumb.png")
    }
    assert shown, "no figures found on the pages"
    missing = sorted(shown - set(records))
    assert not missing, f"figures shown without a text record (not drawn through padmods_figcheck): {missing}"


def test_figure_text_is_readable_on_a_phone(browser, server: str, site: Path) -> None:
    """At a phone's width every figure's smallest text is at least 8 CSS pixels high."""
    records = _figure_records(site)
    small = {}
    browser.set_window_size(*PHONE)
    try:
        for page in _figure_pages(site):
            browser.get(f"{server}/{page}")
            for name, shown_width in browser.execute_script(SHOWN_IMAGES):
                record = records.get(name)
                if not record or not record["min_text_px"] or shown_width == 0:
                    continue
                text_px = record["min_text_px"] * shown_width / record["width_px"]
                if text_px < MIN_PHONE_TEXT_PX:
                    small.setdefault(page, []).append(f"{name}: {record['smallest']!r} at {text_px:.1f} px")
    finally:
        browser.set_window_size(1280, 900)
    assert not small, f"figure text smaller than {MIN_PHONE_TEXT_PX} px on a {PHONE[0]} px screen: {small}"
