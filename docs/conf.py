"""Sphinx configuration: the API reference (autodoc + napoleon), the markdown guides and the
notebooks of ``examples/`` (MyST-NB, executed at every build: they store no outputs).

Build with ``make docs`` (warnings are errors); the HTML lands in ``docs/_build/html``.
"""

import shutil
from importlib.metadata import version as _version
from pathlib import Path

project = "pathdyn"
author = "the pathdyn authors"
release = _version("pathdyn")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # numpydoc-style sections, no extra dependency
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",  # the guides are markdown (MyST), the notebooks are read and executed
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

# The notebooks live in examples/ (beside their jupytext pairs); Sphinx reads only its source
# directory, so they are copied into docs/_notebooks (ignored by git) before every build.
_NOTEBOOKS = Path(__file__).resolve().parent / "_notebooks"
shutil.rmtree(_NOTEBOOKS, ignore_errors=True)
_NOTEBOOKS.mkdir()
for _notebook in sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.ipynb")):
    shutil.copy(_notebook, _NOTEBOOKS / _notebook.name)

# Execute every notebook at build time at its small CI settings; a failing cell fails the build.
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True

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
