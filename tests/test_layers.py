"""The structure of the house, enforced: layers, imports at the top, no private names across modules.

The layers themselves and the absence of import circles are a contract of import-linter
(``[tool.importlinter]`` in pyproject.toml, run by ``make lint``); :func:`test_the_import_contract_is_kept`
runs it here too where import-linter is installed. The checks below read the source with
:mod:`ast` and never import it:

* a module imports pathdyn modules at its top, so the import graph that import-linter sees is
  the whole graph; inside a function only a module whose own top imports an optional heavy
  library (:data:`HEAVY`) may be imported;
* no name with a leading underscore is imported from another module (a helper two modules
  share is public, in the module that owns it);
* no ``main`` function and no argparse outside ``cli/`` (the command line is one program).

Each check is shown to be able to fail on a small offending source.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGE = REPOSITORY / "src" / "pathdyn"
#: Optional heavy libraries a module may import inside a function (and so may a module that wraps one).
HEAVY = frozenset({"dask", "distributed", "torch", "xarray", "pandas", "matplotlib"})
#: Imports inside a function that still close an import circle (the same list would be
#: ``ignore_imports`` of the import contract): none is left. An entry that no longer matches
#: fails :func:`test_the_pending_exceptions_still_exist`, so the list can only shrink.
PENDING: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(node: ast.AST) -> list[str]:
    """The absolute module names one import statement names (``from a import b`` names ``a``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def function_imports(tree: ast.Module) -> list[ast.stmt]:
    """Import statements inside a function or method body."""
    found = []
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.extend(node for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom)))
    return found


def wraps_heavy_library(tree: ast.Module) -> bool:
    """Whether a module imports one of :data:`HEAVY` at its top."""
    return any(name.split(".")[0] in HEAVY for node in tree.body for name in imported_modules(node))


def misplaced_imports(name: str, tree: ast.Module, heavy_wrappers: set[str]) -> list[str]:
    """``"module:line imports target inside a function"`` for every pathdyn import that belongs at the top."""
    problems = []
    for node in function_imports(tree):
        for target in imported_modules(node):
            if target.split(".")[0] == "pathdyn" and target not in heavy_wrappers and (name, target) not in PENDING:
                problems.append(f"{name}:{node.lineno} imports {target} inside a function")
    return problems


def private_imports(name: str, tree: ast.Module) -> list[str]:
    """``"module:line imports _name from other"`` for every private name taken from another module."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("pathdyn"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    problems.append(f"{name}:{node.lineno} imports {alias.name} from {node.module}")
    return problems


def command_line_outside_cli(name: str, tree: ast.Module) -> list[str]:
    """``main`` functions and argparse imports of a module outside ``pathdyn.cli``."""
    if name == "pathdyn.cli" or name.startswith("pathdyn.cli."):
        return []
    problems = [f"{name}:{node.lineno} defines main()" for node in tree.body
                if isinstance(node, ast.FunctionDef) and node.name == "main"]
    problems += [f"{name}:{node.lineno} imports argparse" for node in ast.walk(tree) if "argparse" in imported_modules(node)]
    return problems


def test_pathdyn_modules_are_imported_at_the_top():
    trees = modules()
    heavy_wrappers = {name for name, tree in trees.items() if wraps_heavy_library(tree)}
    problems = [p for name, tree in trees.items() for p in misplaced_imports(name, tree, heavy_wrappers)]
    assert not problems, "\n".join(problems)


def test_the_pending_exceptions_still_exist():
    trees = modules()
    found = {(name, target) for name, tree in trees.items() for node in function_imports(tree)
             for target in imported_modules(node)}
    assert set(PENDING) <= found, set(PENDING) - found


def test_the_import_check_catches_an_import_inside_a_function():
    source = ast.parse("import numpy\n\ndef f():\n    from pathdyn.theory import models\n    import matplotlib\n")
    assert misplaced_imports("pathdyn.x", source, set()) == ["pathdyn.x:4 imports pathdyn.theory inside a function"]
    assert misplaced_imports("pathdyn.x", source, {"pathdyn.theory"}) == []  # a wrapper of a heavy library may wait
    assert wraps_heavy_library(ast.parse("import torch\n")) and not wraps_heavy_library(source)


def test_no_private_name_is_imported_from_another_module():
    problems = [p for name, tree in modules().items() for p in private_imports(name, tree)]
    assert not problems, "\n".join(problems)


def test_the_private_check_catches_a_private_import():
    source = ast.parse("from pathdyn.theory.reduced import _helper, public\nfrom pathdyn import __version__\n")
    assert private_imports("pathdyn.x", source) == ["pathdyn.x:1 imports _helper from pathdyn.theory.reduced"]


def test_no_command_line_outside_cli():
    problems = [p for name, tree in modules().items() for p in command_line_outside_cli(name, tree)]
    assert not problems, "\n".join(problems)


def test_the_command_line_check_catches_a_main():
    source = ast.parse("import argparse\n\ndef main(argv=None):\n    return 0\n")
    assert command_line_outside_cli("pathdyn.validation.study", source) == [
        "pathdyn.validation.study:3 defines main()", "pathdyn.validation.study:1 imports argparse"]
    assert command_line_outside_cli("pathdyn.cli.study", source) == []


def test_the_import_contract_is_kept():
    """import-linter's contract (layers, no circles, private modules); ``make lint`` runs it in CI."""
    command = shutil.which("lint-imports") or (Path(__file__).parents[1] / ".venv" / "bin" / "lint-imports")
    if not Path(command).exists():
        pytest.skip("import-linter not installed (pip install -e '.[lint]'); make lint runs it")
    result = subprocess.run([str(command), "--no-cache"], cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
