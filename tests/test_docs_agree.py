"""The docs agree with the code and with each other, where a test can tell.

Each test reads the docs as a reader would and compares with what the code has: the default
suite's cases, the notebooks in examples/, the make targets, the pages of the index, the
README's length. A doc left behind by a change of the code fails here (issue 18.8: the docs
showed 4 default cases where DEFAULT_SUITE has 6, and "both notebooks" where there are three).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pathdyn.validation.sweep.cases import DEFAULT_SUITE

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
NOTEBOOKS = sorted(p.stem for p in (ROOT / "examples").glob("*.ipynb"))
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def _texts() -> dict:
    return {path.name: path.read_text(encoding="utf-8") for path in [ROOT / "README.md", *PAGES]}


def test_the_stored_default_suite_has_the_cases_of_the_code():
    document = json.loads((DOCS / "validate-default.json").read_text())
    assert [case["name"] for case in document["cases"]] == [case.name for case in DEFAULT_SUITE]


def test_the_default_suite_table_has_one_row_per_case():
    text = (DOCS / "validation.md").read_text()
    start = text.index("Default suite, produced by")
    table = text[start:].split("\n\n")[1]
    rows = [line for line in table.splitlines() if line.startswith("|") and not line.startswith("|---")][1:]
    assert len(rows) == len(DEFAULT_SUITE), rows


def test_every_notebook_is_listed_and_rendered_and_counted_right():
    text = (DOCS / "notebooks.md").read_text()
    listed = re.findall(r"^\| `examples/(\w+)\.ipynb` \|", text, flags=re.MULTILINE)
    assert sorted(listed) == NOTEBOOKS
    rendered = re.findall(r"^_notebooks/(\w+)$", text, flags=re.MULTILINE)
    assert sorted(rendered) == NOTEBOOKS
    wrong = [word for count, word in NUMBER_WORDS.items() if count != len(NOTEBOOKS)]
    for name, page in _texts().items():
        for word in wrong + ["both"]:
            assert not re.search(rf"\b{word} notebooks\b", page, flags=re.IGNORECASE), (name, word)


def test_every_make_target_the_docs_name_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w.-]+):", makefile, flags=re.MULTILINE))
    for name, page in _texts().items():
        for target in re.findall(r"`make ([\w./-]+)", page):
            assert target in targets, (name, target)
            assert not target.startswith("."), f"{name}: `make {target}` is an internal stamp, not a command"


def test_every_guide_is_in_the_index():
    index = (DOCS / "index.md").read_text()
    listed = set(re.findall(r"^([\w-]+)$", index, flags=re.MULTILINE))
    assert {page.stem for page in PAGES} - {"index"} <= listed


def test_the_readme_is_a_front_door():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150
