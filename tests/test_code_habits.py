"""The house habits, enforced: short public functions, numpydoc sections, no rotting comments.

Three checks walk the package's own source (``theory/``, ``numerics/``, ``validation/``,
``cli/`` and the root modules) with :mod:`ast` and :mod:`tokenize`, never importing it:

* no public function or method is longer than :data:`MAX_LINES` lines (its ``def`` line,
  signature and body; the docstring is not counted);
* every public function or method documents its ``Parameters``, its ``Returns`` (or
  ``Yields``) and the ``pathdyn.errors`` exceptions it raises itself (``Raises``);
* docstrings and comments state no timings (they depend on the machine and rot; the
  benchmarks print figures) and cite no file outside the repository.

"Public" means a name without a leading underscore, in a module and a class whose names
have none either. Methods a dataclass generates are not in the source, so they are not
checked. Run ``python tests/test_code_habits.py`` for every problem and a summary.

Each check is shown to be able to fail: ``test_*_catches_*`` feed it a small offending
source and expect a complaint.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
#: The installed package: everything under ``src/pathdyn``.
PACKAGE = REPOSITORY / "src" / "pathdyn"

#: The longest a public function may be (docstring excluded).
MAX_LINES = 80



# --------------------------------------------------------------------------- the source
def package_sources() -> list[Path]:
    """Every Python file of the package (tests, benchmarks, docs and examples excluded)."""
    return sorted(PACKAGE.rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def error_names() -> frozenset:
    """The exception classes defined in ``pathdyn.errors``."""
    tree = ast.parse((PACKAGE / "errors.py").read_text())
    return frozenset(node.name for node in tree.body if isinstance(node, ast.ClassDef))


@dataclass(frozen=True)
class PublicFunction:
    """One public function or method: where it is, its node, its qualified name."""

    module: str
    qualname: str
    node: ast.AST
    is_method: bool

    @property
    def label(self) -> str:
        return f"{self.module}:{self.qualname}"


def is_overload_signature(node) -> bool:
    """Whether a function is decorated with ``typing.overload`` (a signature for type checkers only)."""
    return any((isinstance(d, ast.Name) and d.id == "overload") or (isinstance(d, ast.Attribute) and d.attr == "overload")
               for d in node.decorator_list)


def public_functions(tree: ast.Module, module: str) -> list[PublicFunction]:
    """Module-level functions and methods of module-level classes with public names."""
    if Path(module).stem.startswith("_") and Path(module).name != "__init__.py":
        return []
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_overload_signature(node):
            continue  # a typing.overload signature: the implementation below it carries the docstring
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            found.append(PublicFunction(module, node.name, node, False))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                    found.append(PublicFunction(module, f"{node.name}.{item.name}", item, True))
    return found


# --------------------------------------------------------------------------- length
def docstring_lines(node) -> int:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].end_lineno - body[0].lineno + 1
    return 0


def length(node) -> int:
    """Lines from ``def`` to the last line of the body, less the docstring's."""
    return node.end_lineno - node.lineno + 1 - docstring_lines(node)


def too_long(tree: ast.Module, module: str) -> dict:
    """``{label: length}`` of the public functions longer than :data:`MAX_LINES`."""
    return {f.label: length(f.node) for f in public_functions(tree, module) if length(f.node) > MAX_LINES}


# --------------------------------------------------------------------------- numpydoc sections
def has_section(docstring: str, *names: str) -> bool:
    """Whether the numpydoc docstring has one of the sections ``names`` (title, dashes below)."""
    pattern = r"^[ \t]*(?:{})[ \t]*\n[ \t]*-{{3,}}[ \t]*$".format("|".join(names))
    return re.search(pattern, docstring, flags=re.MULTILINE) is not None


def own_nodes(function):
    """The nodes of ``function``'s body, not entering nested functions, lambdas or classes."""
    stack = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def documented_parameters_needed(function: PublicFunction) -> bool:
    args = function.node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in function.node.decorator_list)
    if function.is_method and not is_static and names and names[0] in ("self", "cls"):
        names = names[1:]
    return bool(names)


def is_property(node) -> bool:
    for decorator in node.decorator_list:
        name = decorator.attr if isinstance(decorator, ast.Attribute) else getattr(decorator, "id", "")
        if name in ("property", "cached_property", "setter"):
            return True
    return False


def returns_value(node) -> bool:
    for child in own_nodes(node):
        if isinstance(child, ast.Return) and child.value is not None \
                and not (isinstance(child.value, ast.Constant) and child.value.value is None):
            return True
    return False


def yields(node) -> bool:
    return any(isinstance(child, (ast.Yield, ast.YieldFrom)) for child in own_nodes(node))


def raised_errors(node, errors: frozenset) -> set:
    """The ``pathdyn.errors`` classes ``node`` raises itself (``raise Error(...)``)."""
    raised = set()
    for child in own_nodes(node):
        if isinstance(child, ast.Raise) and child.exc is not None:
            target = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
            if name in errors:
                raised.add(name)
    return raised


def missing_sections(tree: ast.Module, module: str, errors: frozenset) -> list[str]:
    """``"module:name: missing Parameters"`` and the like, one per missing section."""
    problems = []
    for function in public_functions(tree, module):
        node = function.node
        if is_property(node):
            continue  # numpydoc documents a property like an attribute
        docstring = ast.get_docstring(node) or ""
        needed = []
        if documented_parameters_needed(function) and not has_section(docstring, "Parameters"):
            needed.append("Parameters")
        if yields(node):
            if not has_section(docstring, "Yields"):
                needed.append("Yields")
        elif returns_value(node) and not has_section(docstring, "Returns"):
            needed.append("Returns")
        if raised_errors(node, errors) and not has_section(docstring, "Raises"):
            needed.append("Raises")
        problems.extend(f"{function.label}: missing {section}" for section in needed)
    return problems


# --------------------------------------------------------------------------- timings and citations
#: A number followed by a unit of time: ``3 s``, ``0.5 ms``, ``2 minutes``, ``1.2us``.
TIMING = re.compile(r"(?<![\w.^])\d+(?:[.,]\d+)?\s?(?:s|ms|us|µs|ns|sec|secs|seconds?|minutes?|mins?|hours?|h)\b(?![-.]\w)")
#: Paths outside the repository: a parent folder, or an absolute path under the usual roots.
OUTSIDE = re.compile(r"(?<![\w.])\.\./|(?<![\w.])/(?:work|home|tmp|usr|opt|root|mnt|Users|data|scratch)/")
#: A Markdown file named in the text; it must be one of the repository's own pages.
MARKDOWN = re.compile(r"(?<![\w.-])[\w-]+\.md\b")
#: The repository's own Markdown pages (a built copy of the docs does not count).
REPOSITORY_PAGES = frozenset(
    path.name for path in REPOSITORY.rglob("*.md")
    if not {".venv", "_build", ".git"} & set(path.relative_to(REPOSITORY).parts)
)
#: Text that matches :data:`TIMING` but is not a timing, each with its reason.
NOT_A_TIMING = {
    # none yet: add ``"the exact matched text": "why it is not a timing"``
}


def comments_and_docstrings(source: str):
    """``(line, text)`` of every comment and docstring of a module's source."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                yield body[0].lineno, body[0].value.value
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def rotting_text(source: str, module: str) -> list[str]:
    """``"module:line: ... 'text'"`` for every timing or outside citation in comments and docstrings."""
    problems = []
    for line, text in comments_and_docstrings(source):
        for match in TIMING.finditer(text):
            if match.group(0) not in NOT_A_TIMING:
                problems.append(f"{module}:{line}: a timing in a comment or docstring: {match.group(0)!r}")
        for match in OUTSIDE.finditer(text):
            problems.append(f"{module}:{line}: cites a file outside the repository: {match.group(0)!r}")
        for match in MARKDOWN.finditer(text):
            if match.group(0) not in REPOSITORY_PAGES:
                problems.append(f"{module}:{line}: cites a page that is not in the repository: {match.group(0)!r}")
    return problems


# --------------------------------------------------------------------------- all problems
def all_problems() -> dict:
    """Every problem of every check, keyed by check and then by module."""
    errors = error_names()
    report = {"length": {}, "sections": {}, "rotting": {}}
    for path in package_sources():
        module, source = relative(path), path.read_text()
        tree = ast.parse(source, filename=str(path))
        report["length"][module] = too_long(tree, module)
        report["sections"][module] = missing_sections(tree, module, errors)
        report["rotting"][module] = rotting_text(source, module)
    return report


@pytest.fixture(scope="module")
def problems():
    return all_problems()


def summary(report: dict) -> str:
    lines = []
    for check, by_module in report.items():
        lines.append(f"{check}: {sum(len(v) for v in by_module.values())} problem(s)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the tests
def test_public_functions_are_at_most_80_lines(problems):
    found = {label: n for by_module in problems["length"].values() for label, n in by_module.items()}
    assert not found, f"longer than {MAX_LINES} lines (split them): {found}"


def test_public_functions_have_numpydoc_sections(problems):
    print("\n" + summary(problems))
    missing = [p for found in problems["sections"].values() for p in found]
    assert not missing, f"{len(missing)} missing numpydoc section(s):\n" + "\n".join(missing)


def test_comments_and_docstrings_state_no_timings_and_cite_nothing_outside(problems):
    found = [p for listed in problems["rotting"].values() for p in listed]
    assert not found, "\n".join(found)


# --------------------------------------------------------------------------- the checks can fail
def _tree(source: str) -> ast.Module:
    return ast.parse(textwrap.dedent(source))


def test_length_check_catches_a_long_function_and_skips_private_ones():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))  # def line + 80 = 81 lines
    source = f'def long():\n    """Doc\n\n    string."""\n{body}\n\ndef _long():\n{body}\n'
    assert too_long(_tree(source), "m.py") == {"m.py:long": MAX_LINES + 1}
    shorter = source.replace("    x0 = 0\n", "", 1)
    assert too_long(_tree(shorter), "m.py") == {}


def test_section_check_catches_each_missing_section():
    source = '''
    from pathdyn.errors import ConfigError

    def f(a, b=1):
        """Summary only."""
        if a:
            raise ConfigError("a")
        return a + b

    def g():
        """Nothing to document."""

    class C:
        def method(self):
            """No parameters besides self."""
            yield 1

        @property
        def value(self):
            return 2
    '''
    found = missing_sections(_tree(source), "m.py", frozenset({"ConfigError"}))
    assert found == ["m.py:f: missing Parameters", "m.py:f: missing Returns", "m.py:f: missing Raises",
                     "m.py:C.method: missing Yields"]
    documented = source.replace('"""Summary only."""', '''"""Summary.

        Parameters
        ----------
        a, b : int

        Returns
        -------
        int

        Raises
        ------
        ConfigError
            When a.
        """''')
    assert missing_sections(_tree(documented), "m.py", frozenset({"ConfigError"})) == ["m.py:C.method: missing Yields"]


def test_rotting_text_check_catches_timings_and_outside_citations():
    source = textwrap.dedent('''
    """Takes 3.5 s at width 4096; see /work/notes/NOTES.md, and docs/dmft.md."""
    x = 1  # 25 vs 13 ms here
    y = 2  # 2 minutes; a sample of 20 seeds and 1e-6 tolerance is fine
    ''')
    found = [p.split(": ", 2)[1:] for p in rotting_text(source, "m.py")]
    assert found == [["a timing in a comment or docstring", "'3.5 s'"],
                     ["cites a file outside the repository", "'/work/'"],
                     ["cites a page that is not in the repository", "'NOTES.md'"],
                     ["a timing in a comment or docstring", "'13 ms'"],
                     ["a timing in a comment or docstring", "'2 minutes'"]]


if __name__ == "__main__":
    report = all_problems()
    print(summary(report))
    for check, by_module in report.items():
        for module, listed in sorted(by_module.items()):
            for item in (listed.items() if isinstance(listed, dict) else listed):
                print(f"[{check}] {item}")
