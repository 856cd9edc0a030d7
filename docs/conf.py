"""Sphinx configuration of the padmods documentation.

Build with ``tox -e docs`` (runs the gallery) or ``tox -e docs-fast`` (``-D plot_gallery=0``). The
site is fully offline: no intersphinx inventories, MathJax served from a local copy, no remote
fonts or scripts.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent.resolve()
sys.path.insert(0, str(HERE / "_ext"))  # padmods_sphinx, padmods_figures

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
html_theme_options = {
    "sidebar_hide_name": False,
    "navigation_with_keys": True,
}

# -- sphinx-copybutton: copy the code, not the prompts or the output ------------------------------
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True

# -- Sphinx-Gallery --------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|/_",
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("padmods",),
    # no "reference_url": sphinx-gallery >= 0.20 ignores it (with a notice) and links the code of
    # the examples to this documentation by itself
    # a function of ours (docs/_ext/padmods_sphinx.py): re-seed random, numpy and torch, close figures
    "reset_modules": ("matplotlib", "padmods_sphinx.reset_seeds"),
    "reset_modules_order": "before",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    # the execution-times pages load jQuery and DataTables from CDNs: the site must stay offline
    "write_computation_times": False,
    "min_reported_time": 0,
}
