"""The equations loader runs no code and always finishes: hostile payloads and round trips.

Every hostile payload below was checked against the loader before
:mod:`pathdyn.theory.safe_parse` (``eval`` in sympy's namespace, then ``sympify``):
the ``open``/``mkdir`` payloads created their sentinel file there, the nested power
hung the process (``test_old_loader_ran_code`` keeps the proof for the sentinel
routes, without running anything harmful: the payloads only create a file in
``tmp_path``).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import sympy as sp
from sympy.core.symbol import Str

from pathdyn.errors import ConfigError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.export import derive_equations, equations_to_json, load_equations_json
from pathdyn.theory.reduced import reduce_to_modes
from pathdyn.theory.safe_parse import MAX_INTEGER_BITS, MAX_NESTING, MAX_TOTAL_NUMBER_BITS, parse_srepr


def _payloads(sentinel: str) -> dict:
    """Name -> srepr text that would create ``sentinel`` if it were executed."""
    s = repr(sentinel)
    return {
        "builtin open (sympify keeps builtins)": f"open({s}, 'w')",
        "builtin open inside a constructor": f"Symbol(str(open({s}, 'w')))",
        "attribute chain through sympy's modules": f"Integer(utilities.misc.os.mkdir({s}))",
        "dunder import": f"Symbol(__import__('os').mkdir({s}))",
        "getattr without dunders in the text": f"Integer(getattr(utilities.misc.os, 'mkdir')({s}))",
        "lambda": f"Symbol((lambda: utilities.misc.os.mkdir({s}))())",
        "comprehension": f"Add(*[utilities.misc.os.mkdir({s}) for _ in [1]])",
        "keyword splat": f"Symbol('x', **{{'a': utilities.misc.os.mkdir({s})}})",
        "walrus": f"Symbol((x := utilities.misc.os.mkdir({s})))",
        "lambdify": f"lambdify((), 'utilities.misc.os.mkdir({sentinel})')",
        "method call on a constructor": f"Symbol('x').func(utilities.misc.os.mkdir({s}))",
    }


def _export_with(rhs: str) -> str:
    data = json.loads(equations_to_json(derive_equations((2, 1))))
    data["gradient_flow"][0]["rhs"] = rhs
    return json.dumps(data)


@pytest.mark.parametrize("name", sorted(_payloads("x")))
def test_hostile_payload_is_refused_and_runs_nothing(name, tmp_path):
    sentinel = tmp_path / "SENTINEL"
    payload = _payloads(str(sentinel))[name]
    with pytest.raises(ConfigError, match=r"gradient_flow\[1,1\]"):
        load_equations_json(_export_with(payload))
    assert not sentinel.exists(), f"{name}: the payload ran"


def test_old_loader_ran_code(tmp_path):
    """The old fast path (eval in sympy's namespace) and ``sympify`` both execute the payloads.

    This reproduces the old loader's two steps on two payloads; it documents why the
    allow-list parser exists, and fails if sympy ever stops executing such text (then
    the note above would be out of date, not the loader unsafe).
    """
    namespace = {k: v for k, v in vars(sp).items() if not k.startswith("_")} | {"__builtins__": {}}
    chain = tmp_path / "CHAIN"
    with pytest.raises(Exception):
        eval(_payloads(str(chain))["attribute chain through sympy's modules"], namespace)  # noqa: S307
    assert chain.is_dir()
    opened = tmp_path / "OPENED"
    sp.sympify(_payloads(str(opened))["builtin open (sympify keeps builtins)"])
    assert opened.exists()


_BOMB_SCRIPT = textwrap.dedent("""
    import json, sys
    from pathdyn.errors import ConfigError
    from pathdyn.theory.safe_parse import parse_srepr
    for payload in json.loads(sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()):
        try:
            parse_srepr(payload)
            print("built:", payload[:40])
        except ConfigError as error:
            print("refused:", str(error)[:60])
""")

BOMBS = [
    "Pow(Integer(10), Pow(Integer(10), Integer(9)))",
    "Pow(Pow(Integer(10), Integer(1000)), Integer(1000))",
    "Pow(Integer(2), Rational(1, 1000000000))",
    "Float('1.5', precision=1000000000)",
    "Float('1e99999999999')",
    "Mul(Pow(Integer(7), Integer(1000)), Pow(Integer(7), Integer(1000)), Pow(Pow(Integer(3), Integer(999)), Integer(999)))",
]


def test_huge_numbers_are_refused_quickly():
    """In a child process with a time limit: the old loader computed 10**(10**9) and hung, beyond Ctrl-C."""
    done = subprocess.run([sys.executable, "-c", _BOMB_SCRIPT, json.dumps(BOMBS)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(BOMBS) and all(line.startswith("refused:") for line in lines), done.stdout


def _sum_of_powers(count: int) -> str:
    """Sums of powers each within the per-power bound (4 bits x 1000): the old loader took minutes on 350."""
    return "Add(" + ", ".join(f"Pow(Rational({2 + i % 13}, {3 + (7 * i) % 11}), Integer({900 + i % 100}))"
                               for i in range(count)) + ")"


SUMS_AND_PRODUCTS = [
    _sum_of_powers(350),
    "Mul(" + ", ".join(f"Integer({(7 ** 1400) + i})" for i in range(60)) + ")",
    "Add(" + ", ".join(f"Rational(1, {(3 ** 2500) + 2 * i})" for i in range(40)) + ")",
]


def test_total_size_of_exact_numbers_is_bounded():
    """In a child process with a time limit: parts within every per-number bound, a total far beyond.

    On the code before the total bound each was built (the issue's summed rationals took
    over 60 s on its machine); now each is refused before the arithmetic.
    """
    done = subprocess.run([sys.executable, "-c", _BOMB_SCRIPT], input=json.dumps(SUMS_AND_PRODUCTS), capture_output=True,
                          text=True, timeout=60)  # on standard input: one argument may hold at most 128 kB
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(SUMS_AND_PRODUCTS) and all("refused: " in line for line in lines), done.stdout


@settings(max_examples=30, deadline=None)
@given(bits=st.lists(st.integers(1, MAX_INTEGER_BITS), min_size=1, max_size=40))
def test_the_total_bound_is_exact_about_what_it_counts(bits):
    """Integers of these sizes multiplied: parsed (to the exact product) within the total, refused beyond it."""
    values = [(1 << (b - 1)) + 1 for b in bits]
    text = "Mul(" + ", ".join(f"Integer({v})" for v in values) + ")"
    if sum(bits) <= MAX_TOTAL_NUMBER_BITS:
        assert parse_srepr(text) == sp.Integer(math.prod(values))
    else:
        with pytest.raises(ConfigError, match="in all"):
            parse_srepr(text)


@pytest.mark.parametrize("text", [
    "Add(" * 10_000 + "Integer(1)" + ")" * 10_000,                         # beyond Python's parser
    "Add(" * (MAX_NESTING + 5) + "Integer(1)" + ")" * (MAX_NESTING + 5),  # beyond our bound
    "[" * 100_000,
    "Integer(" + "9" * 5000 + ")",
    "Integer(1" + "0" * 1300 + ")",
    "Symbol('" + "x" * 5000 + "')",
    "Integer(True)",
    "Integer(1.5)",
    "Integer(1j)",
    "Symbol(b'x')",
    "Symbol('x', positive='yes')",
    "Symbol('x', evaluate=False)",
    "Symbol(Symbol('x'))",
    "Add(1, 2)",
    "MatrixSymbol(Str('W'), Integer(2))",
    "Integer(1); Integer(2)",
    "import os",
    "",
    "x",
    "-Integer(1)",
    "Integer(1) + Integer(2)",
    "Integer(1) if Integer(1) else Integer(2)",
    "Symbol",
    "Float('nan')",
    "Float(1.5)",
])
def test_malformed_or_oversized_text_is_one_config_error(text):
    with pytest.raises(ConfigError) as caught:
        parse_srepr(text, where="entry")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("entry")


def test_non_string_entries_are_refused():
    for value in (1, None, ["Integer(1)"], {"a": 1}):
        with pytest.raises(ConfigError, match="srepr string"):
            parse_srepr(value)


def test_allowed_constructors_with_literals_parse():
    n = sp.Symbol("n")
    W = sp.MatrixSymbol("W", 3, n)
    for expr in (
        sp.Rational(-3, 7), sp.Float("1.25"), sp.Integer(-12),
        sp.Symbol("q_1", positive=True) ** 2 - sp.Symbol("p_1") ** sp.Rational(1, 2),
        sp.MatMul(2, W.T, W) + sp.Identity(n), sp.ZeroMatrix(3, 4), sp.MatPow(sp.MatrixSymbol("A", 3, 3), 2),
        sp.Pow(sp.Integer(10), 300),
    ):
        text = sp.srepr(expr)
        # the same as trusted sympify (sympy itself does not round-trip an unevaluated MatMul(2, ...))
        assert parse_srepr(text) == sp.sympify(text, locals={"Str": Str})
        assert str(parse_srepr(text)) == str(expr)


ARCHITECTURES = [
    Architecture(depths=(1,)),
    Architecture(depths=(2,)),
    Architecture(depths=(2, 3)),
    Architecture(depths=(1, 4, 2), whitened=False),
    Architecture(depths=(3, 3), n_in=5, n_out=4),
    Architecture(depths=(2, 2, 2), n_in=3, n_out=6, whitened=False),
    Architecture(depths=(13, 1)),
]


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: a.describe())
def test_every_export_round_trips(arch):
    """The safe loader rebuilds exactly what was derived (and what trusted sympify builds)."""
    derived = derive_equations(arch)
    text = equations_to_json(derived)
    loaded = load_equations_json(text)
    for a, d, _, rhs in derived.gradient_flow.equations():
        assert loaded.gradient_flow[(a, d)] == rhs
    for x, f, a in zip(derived.modes.state, derived.modes.rhs, derived.modes.state_pathway):
        assert loaded.modes[(a, str(x).split("_")[0])] == f
    assert [loaded.strengths[a] for a in range(1, arch.num_pathways + 1)] == list(derived.modes.strengths)
    assert [expr for _, expr in loaded.conserved] == [inv.expr for inv in derived.modes.invariants]
    # the same text through sympify (trusted here: we made it) gives the same expressions
    data = json.loads(text)
    for entry in data["gradient_flow"]:
        assert loaded.gradient_flow[(entry["pathway"], entry["layer"])] == sp.sympify(entry["rhs"], locals={"Str": Str})


@pytest.mark.parametrize("model", ["layer", "qp", "race", "two-channel"])
def test_every_reduced_model_round_trips(model):
    depths = (3, 3) if model == "two-channel" else (2, 4)
    equations = reduce_to_modes(depths, model=model)
    for expr in (*equations.rhs, *equations.strengths, *(inv.expr for inv in equations.invariants)):
        assert parse_srepr(sp.srepr(expr)) == expr


def test_non_utf8_equations_file_is_one_config_error(tmp_path):
    path = tmp_path / "eqs.json"
    path.write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(ConfigError, match="UTF-8"):
        load_equations_json(path)
