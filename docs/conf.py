"""Sphinx configuration: the pylibssh documentation site (``./dev docs`` builds it into
docs/_build/html, warnings as errors)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "_ext"))

import pylibssh  # noqa: E402

project = "pylibssh"
author = "pylibssh developers"
copyright = "pylibssh developers"
release = version = pylibssh.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "pylibssh_api",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# Markdown pages: ```{directive} blocks, heading anchors for links like page.md#section
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# the API reference: signatures carry the annotations, shown in the description
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True}
# no intersphinx: the build needs no network, so Python's own names are left unlinked

html_theme = "furo"
html_title = f"pylibssh {release}"
html_show_sourcelink = False
