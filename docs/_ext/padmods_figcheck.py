"""Checks that a figure reads well on the page: no text cut off, no text on text, its smallest text.

Every figure of the site goes through :func:`inspect_figure`: the gallery's through
:func:`matplotlib_scraper` (named in ``sphinx_gallery_conf["image_scrapers"]``), the user guide's
build-time pictures through :mod:`padmods_figures`. A figure whose text runs past its edge (a
title or a colour bar's tick labels cut off) or lies on other text (two subplot titles that run
into each other) makes the build warn, and so fail under ``-W``.

How large the text looks depends on how wide the page shows the image, which only a browser
knows. So each image also gets a small JSON record next to it (``NAME.png.text.json``): its width
in pixels at 1x and the height of its smallest text. After the build, :func:`write_manifest`
gathers them into ``_static/padmods-figures.json``, and ``browser_tests`` checks, at a phone's
width, that the smallest text of every image on a page is still readable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "MANIFEST",
    "figure_texts",
    "inspect_figure",
    "matplotlib_scraper",
    "record",
    "write_manifest",
]

#: Where the gathered records go in the built site, relative to its root.
MANIFEST = "_static/padmods-figures.json"
#: The suffix of the record written next to each image.
SUFFIX = ".text.json"
#: How far (in pixels at the figure's dpi) text may reach past the edge before it counts as cut off.
EDGE_TOLERANCE = 1.0
#: Two texts whose boxes share more than this many square pixels overlap.
OVERLAP_TOLERANCE = 4.0


def _axis_texts(axis: Any) -> Iterator[Any]:
    if not axis.get_visible():
        return
    yield axis.label
    yield axis.get_offset_text()
    try:
        ticks = axis._update_ticks()  # the ticks matplotlib draws: inside the view limits
    except AttributeError:  # pragma: no cover - a matplotlib without it: every tick label
        ticks = axis.get_major_ticks() + axis.get_minor_ticks()
    for tick in ticks:
        if tick.get_visible():
            yield tick.label1
            yield tick.label2


def _legend_texts(legend: Any) -> Iterator[Any]:
    if legend is not None and legend.get_visible():
        yield legend.get_title()
        yield from legend.get_texts()


def figure_texts(fig: Any) -> list[tuple[Any, Any]]:
    """Every text artist that drawing ``fig`` shows, with the axes it belongs to (``None``: the figure's).

    Titles, axis labels, the tick labels matplotlib draws, legends and annotations.
    """
    texts: list[tuple[Any, Any]] = [(text, None) for text in fig.texts]
    for legend in fig.legends:
        texts += [(text, None) for text in _legend_texts(legend)]
    for subfigure in getattr(fig, "subfigs", []):
        texts += figure_texts(subfigure)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        own = [ax.title, ax._left_title, ax._right_title, *ax.texts, *_legend_texts(ax.get_legend())]
        if ax.axison:
            own += [*_axis_texts(ax.xaxis), *_axis_texts(ax.yaxis)]
        texts += [(text, ax) for text in own]
    return [(text, ax) for text, ax in texts if text.get_visible() and text.get_text().strip()]


def _overlap(box: Any, other: Any) -> float:
    dx = min(box.x1, other.x1) - max(box.x0, other.x0)
    dy = min(box.y1, other.y1) - max(box.y0, other.y0)
    return dx * dy if dx > 0 and dy > 0 else 0.0


def _describe(text: Any) -> str:
    return repr(" ".join(text.get_text().split())[:50])


def inspect_figure(fig: Any, dpi: float | None = None) -> dict[str, Any]:
    """Draw ``fig`` and say what a reader would trip on, for an image saved at ``dpi`` (default: the figure's).

    Returns:
        ``width_px`` (the width of the image at 1x, in pixels), ``min_text_px`` (the font size of
        its smallest text in those pixels), ``smallest`` (that text) and ``problems`` (text cut
        off at the figure's edge, or text on other text), each a sentence.
    """
    canvas = fig.canvas
    if not hasattr(canvas, "get_renderer"):  # a bare Figure(), as padmods_figures makes
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    dpi = dpi or fig.dpi
    width, height = fig.bbox.width, fig.bbox.height
    found = figure_texts(fig)
    boxes = [(text, ax, text.get_window_extent(renderer)) for text, ax in found]
    panels = [(ax, ax.get_window_extent(renderer)) for ax in fig.axes if ax.get_visible()]
    problems = []
    for text, owner, box in boxes:
        if box.x0 < -EDGE_TOLERANCE or box.y0 < -EDGE_TOLERANCE:
            problems.append(f"text {_describe(text)} is cut off at the left or bottom edge of the figure")
        if box.x1 > width + EDGE_TOLERANCE or box.y1 > height + EDGE_TOLERANCE:
            problems.append(f"text {_describe(text)} is cut off at the right or top edge of the figure")
        for ax, panel in panels:
            if ax is not owner and _overlap(box, panel) > OVERLAP_TOLERANCE:
                label = ax.get_label() if ax.get_label() and not ax.get_label().startswith("<") else "another panel"
                problems.append(f"text {_describe(text)} runs into {label} (a plot or colour bar)")
    for index, (text, _, box) in enumerate(boxes):
        for other, _, other_box in boxes[index + 1 :]:
            if _overlap(box, other_box) > OVERLAP_TOLERANCE:
                problems.append(f"text {_describe(text)} overlaps text {_describe(other)}")
    smallest = min((text for text, _ in found), key=lambda text: text.get_fontsize(), default=None)
    return {
        "width_px": round(fig.get_figwidth() * dpi, 1),
        "min_text_px": round(smallest.get_fontsize() * dpi / 72, 2) if smallest is not None else None,
        "smallest": " ".join(smallest.get_text().split())[:50] if smallest is not None else None,
        "problems": problems,
    }


def record(image: Path, report: dict[str, Any]) -> None:
    """Write the report of the figure saved as ``image`` next to it, for :func:`write_manifest`."""
    Path(str(image) + SUFFIX).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def matplotlib_scraper(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any], **kwargs: Any) -> str:
    """sphinx-gallery's matplotlib scraper, with each figure inspected (and recorded) before it is saved."""
    import matplotlib.pyplot as plt
    from sphinx.util import logging
    from sphinx_gallery.scrapers import matplotlib_scraper as scrape

    reports = [inspect_figure(plt.figure(number)) for number in plt.get_fignums()]
    paths = block_vars["image_path_iterator"]
    first = len(paths)
    rst = scrape(block, block_vars, gallery_conf, **kwargs)
    logger = logging.getLogger(__name__)
    for image, report in zip(paths.paths[first:], reports, strict=False):
        record(Path(image), report)
        for problem in report["problems"]:
            logger.warning("%s (%s): %s", Path(block_vars["src_file"]).name, Path(image).name, problem)
    return rst


def write_manifest(sources: Iterable[Path], outdir: Path) -> Path:
    """Gather the records of the images in ``outdir/_images`` into ``outdir/MANIFEST``."""
    shown = {path.name for path in (outdir / "_images").glob("*")}
    manifest = {}
    for folder in sources:
        for path in sorted(folder.rglob("*" + SUFFIX)):
            name = path.name[: -len(SUFFIX)]
            if name in shown:
                manifest[name] = json.loads(path.read_text(encoding="utf-8"))
    target = outdir / MANIFEST
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target
