"""Sphinx glue for the padmods docs: build-time figures, offline MathJax, and gallery resets.

* ``builder-inited``: :mod:`padmods_figures` draws the user guide's pictures into ``docs/_generated``.
* ``build-finished``: :mod:`padmods_figcheck` gathers what it found in each figure into
  ``_static/padmods-figures.json`` for ``browser_tests``, and MathJax 3 is copied from the
  ``django-static-mathjax`` wheel (a plain copy of the MathJax distribution, no Django needed)
  into ``_static/mathjax`` of the HTML output, so the site renders math without reaching any
  CDN. Nothing is downloaded at build time.
* ``autodoc-process-docstring``: the torch-style ``Shape:`` sections are turned into bullet lists
  (``- **Input:** ...``) before napoleon renders them as a generic section; see
  :func:`format_shape_sections`.
* ``.. padmods-examples:: NAME``: inside an API entry, the gallery examples that use ``NAME``
  under an "Examples in the gallery" rubric (a ``minigallery`` without a section heading, so the
  hand-written topic pages keep their outline); nothing at all when no example uses it.
* :func:`reset_seeds` is named in ``sphinx_gallery_conf["reset_modules"]``: it runs before every
  gallery script so that each one starts from the same random state whatever ran before it.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import padmods_figcheck
import padmods_figures
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import inspect as sphinx_inspect
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.typing import stringify_annotation

__all__ = [
    "GALLERY_RC",
    "GENERATED_DIR",
    "GalleryExamples",
    "format_shape_sections",
    "mathjax_source",
    "reset_seeds",
    "setup",
]

logger = logging.getLogger(__name__)

#: Where the build-time figures and transcripts go, relative to the docs source folder.
GENERATED_DIR = "_generated"

#: What of the MathJax distribution the site needs: the ``tex-chtml`` bundle and what it loads lazily.
_MATHJAX_SKIP = ("mml-*.js", "tex-mml-*.js", "tex-svg*.js", "tex-chtml-full*.js", "node-main.js", "svg")


_SHAPE_HEADER = re.compile(r"^(\s*)Shape:\s*$")
_SHAPE_ITEM = re.compile(r"^(?:- )?((?:Input|Output)[^:`]{0,30}):\s*(.*)$")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())


def format_shape_sections(lines: list[str]) -> list[str]:
    """Rewrite each ``Shape:`` section of a Google docstring as a bullet list, one per Input/Output.

    Docstrings write these sections as torch does, either ``Input: ...`` lines or ``- Input: ...``
    bullets, sometimes followed by continuation lines, a ``.. math::`` block and prose. Each
    ``Input``/``Output`` line becomes ``- **Input:** ...`` and everything after it in the section is
    indented into that bullet; text before the first one (e.g. "Same as ...") is left alone.
    """
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        out.append(line)
        index += 1
        header = _SHAPE_HEADER.match(line)
        if not header:
            continue
        header_indent = len(header.group(1))
        body_indent: int | None = None
        in_item = False
        while index < len(lines):
            line = lines[index]
            if line.strip() and _indent_of(line) <= header_indent:
                break  # the section is over
            if not line.strip():
                out.append(line)
                index += 1
                continue
            if body_indent is None:
                body_indent = _indent_of(line)
            item = _SHAPE_ITEM.match(line[body_indent:]) if _indent_of(line) == body_indent else None
            if item:
                out.append(f"{' ' * body_indent}- **{item.group(1)}:** {item.group(2)}".rstrip())
                in_item = True
            elif in_item:
                out.append("  " + line)
            else:
                out.append(line)
            index += 1
    return out


#: Google sections that napoleon turns into fields of an entry's one field list.
_FIELD_SECTIONS = frozenset(
    ("Args", "Arguments", "Parameters", "Keyword Args", "Keyword Arguments", "Other Parameters", "Returns",
     "Return", "Yields", "Yield", "Raises", "Raise", "Warns", "Attributes", "Methods")
)  # fmt: skip

_SECTION_HEADER = re.compile(r"^(\s*)([A-Z][A-Za-z ]*):\s*$")


def move_shape_after_fields(lines: list[str]) -> list[str]:
    """Move a ``Shape:`` section after the field sections that follow it (``Returns:``, ``Raises:``...).

    The house order is torch's: ``Args:``, ``Shape:``, ``Attributes:``/``Returns:``, ``Raises:``.
    napoleon renders ``Args:`` and ``Returns:`` as fields but ``Shape:`` as a rubric, so a Shape
    between them splits the entry into two field lists, and autodoc then adds "Return type" to
    each. Moved below the fields, the entry keeps one field list and the Shape text follows it.
    """
    start = next((i for i, line in enumerate(lines) if _SHAPE_HEADER.match(line)), None)
    if start is None:
        return lines
    indent = _indent_of(lines[start])
    end = start + 1
    while end < len(lines) and not (lines[end].strip() and _indent_of(lines[end]) <= indent):
        end += 1
    insert = end
    while insert < len(lines):
        header = _SECTION_HEADER.match(lines[insert])
        if header and len(header.group(1)) == indent and header.group(2) not in _FIELD_SECTIONS:
            break
        insert += 1
    if insert == end:
        return lines
    shape = lines[start:end]
    while shape and not shape[-1].strip():
        shape.pop()
    before, moved, after = lines[:start], lines[end:insert], lines[insert:]
    while moved and not moved[-1].strip():
        moved.pop()
    return [*before, *moved, "", *shape, "", *after]


def _own_attribute_doc(obj: Any, name: str) -> list[str] | None:
    """The ``#:`` comment above the module-level assignment of ``obj``, found in any padmods module.

    A constant re-exported by a package (``padmods.analysis.IMPACT_METHODS``) has its comment in the
    module that defines it, where autodoc does not look, so autodoc falls back on the docstring of
    its type (``tuple``'s "Built-in immutable sequence").
    """
    import sys

    from sphinx.pycode import ModuleAnalyzer, PycodeError

    attribute = name.rsplit(".", 1)[-1]
    for modname, module in sorted(sys.modules.items()):
        if modname.split(".")[0] != name.split(".")[0] or getattr(module, attribute, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except PycodeError:
            continue
        if ("", attribute) in docs:
            return list(docs["", attribute])
    return None


def _process_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    lines[:] = move_shape_after_fields(format_shape_sections(lines))
    if what in ("class", "exception") and isinstance(obj, type):
        _fix_class_typehints(app, name, obj)
    if what == "data" and not isinstance(obj, type):
        type_doc = sphinx_inspect.getdoc(type(obj))
        if type_doc and "\n".join(lines).strip() == type_doc.strip():
            lines[:] = _own_attribute_doc(obj, name) or []
    if what in ("method", "function", "class", "exception"):
        _fix_type_variables(app, name, obj)


#: What napoleon makes of an attribute docstring "Number of channels: one per axis": a type field.
_PROSE_TYPE = re.compile(r"^:type: (.*\b[A-Za-z]+ [A-Za-z]+\b.*)$")


def _undo_prose_types(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Put back the first sentence that napoleon took for a type ("Type: Number of channels").

    napoleon reads the first line of an attribute's docstring as ``type: description`` when it has
    a colon. padmods keeps types in annotations, so words with spaces before the colon are prose:
    they go back in front of the description. Runs after napoleon.
    """
    if what not in ("attribute", "data", "property"):
        return
    for index, line in enumerate(lines):
        match = _PROSE_TYPE.match(line)
        if match is None:
            continue
        del lines[index]
        while index > 0 and index <= len(lines) and not lines[index - 1].strip():
            index -= 1
            del lines[index]
        first = next((i for i, text in enumerate(lines) if text.strip()), None)
        if first is None:
            lines.append(match.group(1) + ".")
        else:
            lines[first] = f"{match.group(1)}: {lines[first].lstrip()}"
        return


def _fix_type_variables(app: Sphinx, name: str, obj: Any) -> None:
    """Show a documented class instead of a type variable or a private base in the annotations.

    ``from_conv`` returns ``SelfLayer`` (a ``TypeVar`` bound to the private ``PaddedConvNd``), i.e.
    an instance of the class it is called on: the entry says so with that class's name. Other type
    variables show their bound, as ``Callable[[type[Module]], type[Module]]`` for ``register``.
    """
    from typing import TypeVar

    annotations = app.env.current_document.autodoc_annotations.get(name)
    function = getattr(obj, "__func__", obj)
    namespace = getattr(function, "__globals__", None)
    if not annotations or namespace is None:
        return
    owner = getattr(obj, "__self__", None)
    owner = owner if isinstance(owner, type) else None
    mode = "smart" if app.config.autodoc_typehints_format == "short" else "fully-qualified"

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        value = namespace.get(word.rsplit(".", 1)[-1].lstrip("~"))
        if isinstance(value, TypeVar):
            if owner is not None:
                return owner.__name__
            bound = value.__bound__
            if bound is None:
                return "Any"
            if hasattr(bound, "__forward_arg__"):
                return str(bound.__forward_arg__)
            return stringify_annotation(bound, mode)
        if owner is not None and isinstance(value, type) and value is not owner and issubclass(owner, value):
            if value.__name__.endswith("Nd") and owner.__module__.split(".")[0] == value.__module__.split(".")[0]:
                return owner.__name__  # a private family mixin (CoordConvNd): the class at hand
        return word

    for key, annotation in list(annotations.items()):
        annotations[key] = re.sub(r"~?[A-Za-z_][\w.]*", replace, annotation)


def _fix_class_typehints(app: Sphinx, name: str, cls: type) -> None:
    """Type a class's constructor arguments by ``__init__``'s own annotations.

    autodoc resolves the string annotations of a class signature (every padmods module uses
    ``from __future__ import annotations``) with ``typing.get_type_hints(cls)``, so the *class*
    attribute annotations that torch declares on ``_ConvNd`` (``bias: Optional[Tensor]``,
    ``stride: tuple[int, ...]``) win over the constructor's (``bias: bool``, ``stride: IntOrPair``).
    This runs after autodoc has recorded them and before they are merged into the description.
    """
    annotations = app.env.current_document.autodoc_annotations.get(name)
    init = getattr(cls, "__init__", None)
    if annotations is None or init is None or init is object.__init__:
        return
    try:
        signature = sphinx_inspect.signature(init, bound_method=True, type_aliases=app.config.autodoc_type_aliases)
    except (TypeError, ValueError):
        return
    mode = "smart" if app.config.autodoc_typehints_format == "short" else "fully-qualified"
    for parameter in signature.parameters.values():
        if parameter.annotation is not parameter.empty:
            annotations[parameter.name] = stringify_annotation(parameter.annotation, mode)


def mathjax_source() -> Path:
    """The folder of MathJax's ``es5`` build inside the installed ``django-static-mathjax`` package."""
    spec = importlib.util.find_spec("mathjax")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "static" / "mathjax" / "es5"
        if (candidate / "tex-chtml.js").is_file():
            return candidate
    raise ExtensionError(
        "MathJax is not installed: the docs render math with a local copy of MathJax 3 from the "
        "'django-static-mathjax' package (part of the 'docs' dependency group; "
        "pip install django-static-mathjax)"
    )


def _write_figures(app: Sphinx) -> None:
    changed, errors, problems = padmods_figures.write_all(Path(app.srcdir) / GENERATED_DIR)
    if changed:
        logger.info("padmods: wrote %d build-time figure(s) and transcript(s)", len(changed))
    for name, error in errors.items():
        logger.warning(
            "padmods: could not make %s/%s (docs/_ext/padmods_figures.py): %s: %s",
            GENERATED_DIR,
            name,
            type(error).__name__,
            error,
        )
    for name, found in problems.items():
        for problem in found:
            logger.warning("padmods: %s/%s (docs/_ext/padmods_figures.py): %s", GENERATED_DIR, name, problem)


def _write_figure_manifest(app: Sphinx, exception: BaseException | None) -> None:
    """Gather the text records of every figure shown into ``_static/padmods-figures.json`` (browser_tests)."""
    if exception is not None or app.builder.format != "html":
        return
    srcdir = Path(app.srcdir)
    sources = [srcdir / GENERATED_DIR, srcdir / app.config.sphinx_gallery_conf["gallery_dirs"]]
    padmods_figcheck.write_manifest(sources, Path(app.outdir))


def _check_mathjax(app: Sphinx) -> None:
    if app.builder.format == "html":
        mathjax_source()  # fail before reading any page, not after the whole build


def _copy_mathjax(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    source = mathjax_source()
    marker = target / "tex-chtml.js"
    if marker.is_file() and marker.stat().st_size == (source / "tex-chtml.js").stat().st_size:
        return
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*_MATHJAX_SKIP), dirs_exist_ok=True)
    logger.info("padmods: copied MathJax into %s", target)


class GalleryExamples(SphinxDirective):
    """``.. padmods-examples:: padmods.get [more names]``: a rubric and thumbnails, or nothing."""

    required_arguments = 1
    final_argument_whitespace = True
    has_content = False

    def run(self) -> list[nodes.Node]:
        """Parse a rubric and a ``minigallery`` of the names, if any example uses one of them."""
        names = self.arguments[0].split()
        gallery_conf = self.config.sphinx_gallery_conf
        path = Path(self.env.srcdir, gallery_conf["backreferences_dir"], "backreferences_all.json")
        self.env.note_dependency(str(path))
        uses = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        if not any(uses.get(name) for name in names):
            return []
        lines = [".. rubric:: Examples in the gallery", "", f".. minigallery:: {' '.join(names)}", ""]
        container = nodes.container(classes=["padmods-examples"])
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), self.content_offset, container)
        return [container]


#: matplotlib settings of every gallery script, applied after matplotlib's defaults are restored. A
#: page shows a figure at its own width (100 pixels per inch) or narrower: on a 390-pixel phone,
#: 343 pixels. So no text is smaller than 11 points, and figures are at most 6.4 inches wide, and
#: their smallest text stays above 8 pixels on a phone (browser_tests checks it).
GALLERY_RC = {
    "font.size": 11,
    "axes.titlesize": 11.5,
    "axes.labelsize": 11,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.title_fontsize": 11,
    "figure.titlesize": 12,
}


def reset_seeds(gallery_conf: dict[str, Any], fname: str | None) -> None:
    """Give every gallery script the same fresh start: seeded RNGs, one torch thread, no figures."""
    random.seed(0)
    try:
        import numpy as np

        np.random.seed(0)  # noqa: NPY002 - scripts that still use the legacy global RNG get a fixed one
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(0)
        torch.set_num_threads(1)  # tiny images: threads only add contention, and make builds slower
    except ImportError:
        pass
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
        plt.rcParams.update(GALLERY_RC)
    except ImportError:
        pass


_VIEWCODE_BACK = re.compile(r'(<a class="viewcode-back" href="([^"#]*)#)([^"]+)(")')


def _fix_viewcode_backlinks(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Point each "[docs]" link of a source page at the entry's real anchor.

    viewcode builds every back link of a module from the module name it met first, so when
    ``padmods.get`` and ``padmods.registry.unregister`` (both from ``registry.py``) are documented
    under different module names, half of the links reach anchors that do not exist.
    """
    if not pagename.startswith("_modules/") or "body" not in context:
        return
    objects = app.env.get_domain("py").objects

    def fix(match: re.Match[str]) -> str:
        anchor = match.group(3)
        if anchor in objects:
            return match.group(0)
        short = anchor.rsplit(".", 1)[-1]
        candidates = sorted(key for key in objects if key.endswith("." + short) and key.startswith("padmods"))
        return f"{match.group(1)}{candidates[0]}{match.group(4)}" if len(candidates) == 1 else match.group(0)

    context["body"] = _VIEWCODE_BACK.sub(fix, context["body"])


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the event handlers."""
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)  # before napoleon (500)
    app.connect("autodoc-process-docstring", _undo_prose_types, priority=600)  # after napoleon
    app.connect("builder-inited", _check_mathjax)
    app.connect("builder-inited", _write_figures)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _write_figure_manifest)
    app.connect("html-page-context", _fix_viewcode_backlinks)
    app.add_directive("padmods-examples", GalleryExamples)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
