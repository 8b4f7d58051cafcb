"""Sphinx configuration of fastcorr's documentation site.

Build it from the repository root with the command the README gives::

    pip install ".[docs]" && python -m sphinx -W -b html docs docs/_build/html

``-W`` turns every warning into an error, so a broken reference, a docstring numpydoc cannot
parse or a gallery script that fails stops the build.  The API pages are generated at build
time from each face's ``__all__`` (``_ext/fastcorr_api.py``), so a new public function gets its
page without an edit here; the gallery's scripts run at build time on this machine.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "_ext"))
# The gallery's CNN example trains the network of examples/cnn_digits.py (one copy of it).
sys.path.insert(0, os.path.join(ROOT, "examples"))

import fastcorr  # noqa: E402  (the installed package: the site documents what users import)

project = "fastcorr"
author = "the fastcorr developers"
copyright = "2026, the fastcorr developers"
version = release = fastcorr.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "fastcorr_api",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "gallery/GALLERY_HEADER.rst"]
templates_path = []

# Guides are Markdown (MyST); headings get anchors so pages can link to a section.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "dollarmath"]

# numpydoc renders the docstrings; its validation turns a parameter missing from (or unknown
# to) a docstring, or a public function without an example, into a warning, which -W fails.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "PR10", "RT01", "EX01", "SS01"}
autodoc_default_options = {"members": False}
# The signatures shown are the functions' own: no type hints to render.
autodoc_typehints = "none"

sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    # Examples fail the build (not a warning in the rendered page) when they raise.
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "min_reported_time": 0,
}

html_theme = "pydata_sphinx_theme"
html_title = f"fastcorr {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_static_path = []
html_show_sourcelink = False
