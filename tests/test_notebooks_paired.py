"""Each notebook in examples/ matches its jupytext pair (the .py is what reviewers read)."""

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PAIRS = sorted(EXAMPLES.glob("*.py"))


def cell_sources(notebook) -> list:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


@pytest.mark.parametrize("script", PAIRS, ids=[p.stem for p in PAIRS])
def test_notebook_matches_its_py_pair(script):
    jupytext = pytest.importorskip("jupytext")  # the docs extra
    notebook = script.with_suffix(".ipynb")
    assert notebook.exists(), f"{notebook.name} missing: run jupytext --sync {script.relative_to(EXAMPLES.parent)}"
    assert cell_sources(jupytext.read(script)) == cell_sources(jupytext.read(notebook)), (
        f"{notebook.name} and {script.name} differ: run jupytext --sync on the one you edited"
    )


def test_there_are_notebooks():
    assert {"quickstart", "paper_figures"} <= {p.stem for p in PAIRS}
