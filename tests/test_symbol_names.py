"""Only ``theory/`` reads symbol names: everything else reads the typed layout.

The meaning of a state variable or parameter (its role, pathway, layer) travels in
:attr:`ModeEquations.layout` / :attr:`ModeEquations.parameter_layout`. This test scans
the syntax tree of every library module outside ``theory/`` for the ways code used to
recover that meaning from names, and the self-test below shows each rule catches the
lines this repository had before the layout existed.

Rules (a *name* is any state or parameter symbol name of the registered models, e.g.
``q_1``, ``s_2_3``, ``M_1_2_12``, ``c_1``, ``lambda``):

1. a regular expression (``re.compile``/``match``/``fullmatch``/``search``/``sub``/
   ``findall``/``split``) whose literal pattern matches a name;
2. a string literal that is a name prefix (``"q_"``, ``"c_"``, ...), alone or followed by
   a formatted value in an f-string (``f"q_{a}"`` builds a name to look it up);
3. ``.split("_")`` (taking a name apart);
4. a name literal compared with something (``==``, ``in``) other than a record's
   ``.role``, or passed to ``.index``, ``.get``, ``.startswith`` or ``.endswith``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "src" / "pathdyn"
LIBRARY = ("numerics", "validation", "cli", "io", "_base")
TOP_LEVEL = ("errors.py", "__init__.py")
REGEX_FUNCTIONS = {"compile", "match", "fullmatch", "search", "sub", "findall", "split", "finditer"}
LOOKUP_METHODS = {"index", "get", "startswith", "endswith"}


def _names() -> set:
    """Every state and parameter name of every registered model on a few architectures."""
    from pathdyn.theory.architecture import Architecture
    from pathdyn.theory.models import MODELS, models_of_kind

    names = set()
    for model in (MODELS[name] for name in models_of_kind("ode")):  # the DMFT has site equations, no state
        for depths in ((1, 2), (3, 4)):
            for whitened in (True, False):
                eqs = model.derive(Architecture(depths=depths, whitened=whitened))
                names |= {str(x) for x in (*eqs.state, *eqs.parameters)}
    return names


NAMES = _names()
PREFIXES = {name.split("_")[0] + "_" for name in NAMES if "_" in name}


def _violations(source: str) -> list:
    """``(line, rule)`` for every place ``source`` reads a symbol name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func, args = node.func, node.args
            literal = args[0].value if args and isinstance(args[0], ast.Constant) else None
            if (isinstance(func.value, ast.Name) and func.value.id == "re" and func.attr in REGEX_FUNCTIONS
                    and isinstance(literal, str) and any(re.search(literal, name) for name in NAMES)):
                found.append((node.lineno, f"regular expression {literal!r} parses symbol names"))
            if func.attr == "split" and literal == "_":
                found.append((node.lineno, 'split("_") takes a symbol name apart'))
            if func.attr in LOOKUP_METHODS and isinstance(literal, str) and (literal in NAMES or literal in PREFIXES):
                found.append((node.lineno, f".{func.attr}({literal!r}) looks a symbol up by name"))
        elif isinstance(node, ast.JoinedStr):
            parts = node.values
            for part, after in zip(parts, parts[1:]):
                if not (isinstance(part, ast.Constant) and isinstance(after, ast.FormattedValue)):
                    continue
                prefix = re.search(r"(?:^|[^A-Za-z0-9])([A-Za-z]+_)$", part.value)
                if prefix and prefix.group(1) in PREFIXES:
                    found.append((node.lineno, f"f-string {prefix.group(1)!r}{{...}} builds a symbol name"))
        elif isinstance(node, ast.Compare) and not any(
                isinstance(operand, ast.Attribute) and operand.attr == "role" for operand in (node.left, *node.comparators)
        ):  # roles ("S", "lambda") are compared with records' .role, which is the point
            for operand in (node.left, *node.comparators):
                if isinstance(operand, ast.Constant) and isinstance(operand.value, str) and operand.value in NAMES:
                    found.append((node.lineno, f"compares with the symbol name {operand.value!r}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in PREFIXES:
            found.append((node.lineno, f"the name prefix {node.value!r}"))
    return found


def _library_files() -> list:
    files = [path for folder in LIBRARY for path in sorted((ROOT / folder).rglob("*.py"))]
    return files + [ROOT / name for name in TOP_LEVEL if (ROOT / name).exists()]


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_theory_reads_symbol_names(path):
    problems = _violations(path.read_text())
    assert not problems, "\n".join(f"{path.relative_to(ROOT)}:{line}: {rule}" for line, rule in problems)


@pytest.mark.parametrize("line", [
    '_LAYER = re.compile(r"^s_(\\d+)_(\\d+)$")',  # numerics/initial.py before the layout
    '_QP = re.compile(r"^([qp])_(\\d+)$")',
    'ok = all(n.startswith("p_") for n in f.state_names)',  # numerics/phase_plane.py
    'pathway = name[len("c_"):]',
    'q0 = np.stack([state.values.get(f"q_{a}", np.ones(modes)) for a in (1, 2)])',  # concentration.py
    'values[f"M_{a}_{d}_{i}{j}"] = block[i - 1, j - 1]',  # validation/mapping.py
    'role = str(x).split("_")[0]',  # theory/export.py's habit, outside theory/
    'if "lambda" in f.parameter_names: pass',  # numerics/integrate.py
])
def test_the_scan_catches_the_old_name_parsing(line):
    assert _violations(line), f"the scan misses {line!r}"


def test_the_scan_leaves_ordinary_code_alone():
    ok = 'weights = {f"W_{a}_{d}": w for a, d, w in layers}\nname = dataset.name\nparts = "a-b".split("-")'
    assert not _violations(ok)
