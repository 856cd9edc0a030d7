"""Sphinx configuration of the padmods documentation.

Build with ``tox -e docs`` (runs the gallery) or ``tox -e docs-fast`` (``-D plot_gallery=0``). The
site is fully offline: no intersphinx inventories, MathJax served from a local copy, no remote
fonts or scripts.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent.resolve()
sys.path.insert(0, str(HERE / "_ext"))  # padmods_sphinx, padmods_figures

import padmods_notebook_links

import padmods

# -- Project ---------------------------------------------------------------------------------------
project = "padmods"
author = "The padmods developers"
copyright = "2025, The padmods developers"
release = padmods.__version__
version = ".".join(release.split(".")[:2])

# -- General ---------------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
    "padmods_sphinx",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "_ext", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
root_doc = "index"

# -- autodoc, autosummary, napoleon ----------------------------------------------------------------
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
autodoc_class_signature = "mixed"
autoclass_content = "class"
add_module_names = False
python_use_unqualified_type_names = True
autosummary_generate = False  # the API pages are written by hand; autosummary only draws the tables

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True
# Off: napoleon would otherwise type each "Args:" entry of a layer with torch's class-level
# attribute annotations (bias: Optional[Tensor], stride: tuple[int, ...]) instead of the
# constructor's own annotations, which autodoc_typehints = "description" puts there.
napoleon_attr_annotations = False
# torch-style "Shape:" blocks mix "Input: ..." lines, bullets and prose, so they render as a
# generic section (a "Shape" rubric followed by the text as written) rather than as a field list.
napoleon_custom_sections = ["Shape"]

# -- Math: MathJax 3 from a local copy (see _ext/padmods_sphinx.py), never a CDN --------------------
mathjax_path = "mathjax/tex-chtml.js"

# -- HTML ------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"padmods {release}"
html_static_path = ["_static"]
html_css_files = ["padmods.css"]
html_show_sphinx = False
html_logo = "_static/padmods-logo.svg"
html_favicon = "_static/padmods-logo.svg"
#: The repository, from pyproject.toml's [project.urls] (one place to change it; no tomllib on 3.10).
_PYPROJECT = (HERE.parent / "pyproject.toml").read_text(encoding="utf-8")
_URLS = re.search(r"^\[project\.urls\]$(.*?)^\[", _PYPROJECT, re.M | re.S)
REPOSITORY = re.search(r'^Source\s*=\s*"([^"]+)"', _URLS.group(1) if _URLS else "", re.M).group(1)
DOCUMENTATION = re.search(r'^Documentation\s*=\s*"([^"]+)"', _URLS.group(1) if _URLS else "", re.M).group(1)
html_context = {"padmods_repository": REPOSITORY}
rst_epilog = f"""
.. |repository| replace:: the padmods repository
.. _repository: {REPOSITORY}
"""
# the brand, then a link to the repository (_templates/sidebar/repository.html), then the rest
html_sidebars = {
    "**": [
        "sidebar/brand.html",
        "sidebar/repository.html",
        "sidebar/search.html",
        "sidebar/scroll-start.html",
        "sidebar/navigation.html",
        "sidebar/scroll-end.html",
    ]
}
html_theme_options = {
    "sidebar_hide_name": False,
    "navigation_with_keys": True,
    "footer_icons": [
        {
            "name": "GitHub",
            "url": REPOSITORY,
            # GitHub's mark, inline: the site loads nothing from another host
            "html": (
                '<svg stroke="currentColor" fill="currentColor" stroke-width="0" viewBox="0 0 16 16">'
                '<path fill-rule="evenodd" d="M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17'
                ".55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23-.48-.94-.82-1.13-.28-.15-.68"
                "-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28-.87.51-1.07-1.78-.2-3.64"
                "-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64-.18 1.32-.27"
                " 2-.27.68 0 1.36.09 2 .27 1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51.56.82 1.27.82 2.15"
                " 0 3.07-1.87 3.75-3.65 3.95.29.25.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 0 .21.15.46.55.38A8.013"
                ' 8.013 0 0016 8c0-4.42-3.58-8-8-8z"></path></svg>'
            ),
            "class": "",
        },
    ],
}

# -- sphinx-copybutton: copy the code, not the prompts or the output ------------------------------
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True


# -- Sphinx-Gallery --------------------------------------------------------------------------------
def _pypandoc() -> dict | bool:
    """sphinx-gallery's ``pypandoc`` option: Markdown notebooks through pandoc, when it is there.

    The ``docs`` dependency group installs ``pypandoc_binary``, a wheel that bundles pandoc, so
    ``tox -e docs`` needs nothing but Python. Without pandoc (an install of Sphinx by hand) the
    build still works, with sphinx-gallery's own, rougher reST-to-Markdown conversion.
    """
    try:
        import pypandoc

        pypandoc.get_pandoc_version()
    except (ImportError, OSError, RuntimeError):  # no pypandoc, or no pandoc for it to run
        return False
    # where the notebooks' cross-references lead (the paper, or the page on the published docs),
    # for the filter, which reads the file named by this variable
    links = padmods_notebook_links.write_links(
        HERE / "_generated" / "notebook_links.json", HERE, HERE.parent / "gallery", "auto_examples", DOCUMENTATION
    )
    os.environ["PADMODS_NOTEBOOK_LINKS"] = str(links)
    return {
        # pandoc's Markdown, filtered (docs/_ext/notebook_markdown.lua): Sphinx roles become code or
        # links, admonitions a bold title, sections one level below the title; --to after
        # sphinx-gallery's own "md", which pandoc 3 lacks, and without "smart", whose writer would
        # escape every apostrophe (kernel\'s)
        "extra_args": [
            "--to=markdown-smart",
            "--wrap=preserve",
            f"--lua-filter={HERE / '_ext' / 'notebook_markdown.lua'}",
        ],
    }


sphinx_gallery_conf = {
    "examples_dirs": "../gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|/_",
    "within_subsection_order": "FileNameSortKey",
    # two sections, each a folder with its GALLERY_HEADER.rst: the article first, then the rest
    "subsection_order": ["../gallery/article", "../gallery/further"],
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("padmods",),
    # no "reference_url": sphinx-gallery >= 0.20 ignores it (with a notice) and links the code of
    # the examples to this documentation by itself
    # a function of ours (docs/_ext/padmods_sphinx.py): re-seed random, numpy and torch, close figures
    "reset_modules": ("matplotlib", "padmods_sphinx.reset_seeds"),
    "reset_modules_order": "before",
    "matplotlib_animations": False,
    # matplotlib's scraper, with every figure checked first: text cut off at the edge or lying on
    # other text warns (docs/_ext/padmods_figcheck.py), and its smallest text is recorded
    "image_scrapers": ("padmods_figcheck.matplotlib_scraper",),
    "remove_config_comments": True,
    # a cell that ends with ax.set_title(...) or fig.suptitle(...) would print "Text(0.5, 0.98, '...')"
    # under its figure: matplotlib's return values are never the point of a cell
    "ignore_repr_types": r"^<class 'matplotlib\.",
    "download_all_examples": True,
    "pypandoc": _pypandoc(),
    # every figure also at twice the resolution, for high-density screens
    "image_srcset": ["2x"],
    "show_memory": False,
    # the execution-times pages load jQuery and DataTables from CDNs: the site must stay offline
    "write_computation_times": False,
    "min_reported_time": 0,
}
