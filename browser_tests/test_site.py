"""Open the built docs in headless Chromium: every image loads, the console stays clean, nothing remote.

Run with ``tox -e browser`` after ``tox -e docs``. The pages checked are the landing page, the
gallery index and every gallery example page, found in ``docs/_build/html/auto_examples``.
"""

from __future__ import annotations

import html.parser
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
