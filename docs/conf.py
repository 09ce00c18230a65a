"""Sphinx configuration: the API reference (autodoc + napoleon) and the markdown guides (MyST).

Build with ``make docs`` (warnings are errors); the HTML lands in ``docs/_build/html``.
"""

from importlib.metadata import version as _version

project = "pathdyn"
author = "the pathdyn authors"
release = _version("pathdyn")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # numpydoc-style sections, no extra dependency
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",  # the guides are markdown, shared with readers of the repository
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

# numpydoc-style docstrings; only the numpy convention is used in this code base.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autoclass_content = "class"

# Headings in the guides get anchors so pages can link to sections (theory.md#modes).
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

html_theme = "alabaster"
html_static_path = []
