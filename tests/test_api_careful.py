"""Tracebacks that remained, loaded expressions checked as the export defines them, and a Python
API as careful as the command line (issue 20.5, 20.7, 20.8).

Every case here failed on the code before these checks (checked with ``PYTHONPATH`` on the
old tree): ``pathdyn derive >&-`` raised AttributeError, ``--t-max 5e-324`` was called a
blow-up and ``1e300`` ran without end, ``map_initial_state('w', I, I)`` and ``compare('a',
'b')`` raised AttributeError, ``save_json`` with a NUL raised ValueError, messages named
``init_scale`` and ``t_max``, ``Rational(1, 0)`` loaded as ``zoo``, a scalar gradient flow
loaded, TeX in a symbol name reached the LaTeX verbatim, ``random_dataset([True, 1])`` was
S = [1, 1], masked entries were used and ``scale=10**400`` raised OverflowError.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathdyn.cli.main import main
from pathdyn.errors import ConfigError, PathdynError

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_line_error(call, *needles) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning on the way (overflow) fails too
        with pytest.raises(PathdynError) as caught:
            call()
    message = str(caught.value)
    assert "\n" not in message and all(n in message for n in needles), message
    assert isinstance(caught.value, (ValueError, TypeError))
    return message


# ------------------------------------------------------------------ 5: tracebacks and diagnoses
def test_closed_standard_output_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pathdyn.cli.main", "derive", "--depths", "2,2"], cwd=tmp_path,
                          stderr=subprocess.PIPE, text=True, timeout=120, preexec_fn=lambda: os.close(1))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "standard output is closed" in done.stderr, done.stderr


@pytest.mark.parametrize("t_max", ["5e-324", "1e-200", "1e30", "1e300"])
def test_times_the_solver_cannot_step_through_are_named(t_max, tmp_path, monkeypatch, capsys):
    """Not 'blow-up' (5e-324) nor an endless run (1e300): the time itself, named as the option."""
    monkeypatch.chdir(tmp_path)
    assert main(["integrate", "--t-max", t_max, "-o", "out.json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--t-max" in err and "outside" in err, err
    assert list(tmp_path.iterdir()) == []


@SETTINGS
@given(case=st.sampled_from([
    (["validate", "--init-scale", "-1"], "--init-scale"),
    (["validate", "--learning-rate", "0.5", "--t-max", "0.1"], "--t-max"),
    (["validate", "--seeds", "3,3"], "--seeds"),
    (["integrate", "--init-scale", "1e300"], "--init-scale"),
    (["integrate", "--c", "1e300"], "--c"),
    (["validate", "--theory", "two-channel", "--mapping", "exact", "--init", "orthogonal"], "--mapping"),
]))
def test_messages_name_the_option_not_the_api_argument(case, tmp_path, monkeypatch, capsys):
    argv, option = case
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "-o", "out.json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and option in err, err
    api_names = re.findall(r"(?<![\w-])(init_scale|t_max|learning_rate|method|scale|seeds|mapping)(?=[:= ])", err)
    assert not api_names, err


def test_the_public_api_refuses_wrong_types_in_one_line(tmp_path):
    from pathdyn.io.jsonio import save_json
    from pathdyn.validation.compare import compare
    from pathdyn.validation.mapping import map_initial_state

    identity = np.eye(3)
    _one_line_error(lambda: map_initial_state("w", identity, identity), "weights")
    _one_line_error(lambda: map_initial_state([["a"]], identity, identity), "weights[0][0]")
    _one_line_error(lambda: compare("a", "b"), "gd_trajectory")
    _one_line_error(lambda: save_json(tmp_path / "a\0b.json", {}), "NUL")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ 7: loaded expressions
@pytest.mark.parametrize("text", ["Rational(1, 0)", "Mul(Integer(0), Pow(Integer(0), Integer(-1)))",
                                  "Add(Symbol('x'), Pow(Integer(0), Integer(-1)))", "Float('inf')"])
def test_undefined_numbers_are_refused(text):
    from pathdyn.theory.safe_parse import parse_srepr

    _one_line_error(lambda: parse_srepr(text))


def _export(tmp_path):
    from pathdyn.theory.architecture import Architecture
    from pathdyn.theory.export import derive_equations, equations_to_json

    return json.loads(equations_to_json(derive_equations(Architecture(depths=(2, 2)))))


@pytest.mark.parametrize("section, key, replacement", [
    ("gradient_flow", "rhs", "Integer(1)"),
    ("modes", "rhs", "MatrixSymbol(Str('W_1_1'), Symbol('n_h'), Symbol('n_in'))"),
    ("conserved", "expr", "MatrixSymbol(Str('W_1_1'), Symbol('n_h'), Symbol('n_in'))"),
])
def test_entries_are_of_the_shape_the_export_defines(section, key, replacement, tmp_path):
    """A scalar where a matrix right-hand side belongs (and the reverse) is refused; the export itself loads."""
    from pathdyn.theory.export import load_equations_json

    data = _export(tmp_path)
    (tmp_path / "good.json").write_text(json.dumps(data))
    load_equations_json(str(tmp_path / "good.json"))
    data[section][0][key] = replacement
    (tmp_path / "bad.json").write_text(json.dumps(data))
    _one_line_error(lambda: load_equations_json(str(tmp_path / "bad.json")), section)


@SETTINGS
@given(name=st.text(alphabet="ab_1\\{}$%#&~^ ", min_size=1, max_size=12))
def test_symbol_names_reach_latex_only_when_plain(name):
    """Through the API too: a name LaTeX would run as commands is refused; plain names print."""
    from pathdyn.theory.printers import PathdynLatexPrinter

    plain = all(ch.isalnum() or ch == "_" for ch in name)
    for expr in (sp.Symbol(name) + sp.Symbol("x"), sp.MatrixSymbol(name, 2, 2)):
        if plain:
            PathdynLatexPrinter().doprint(expr)
        else:
            _one_line_error(lambda: PathdynLatexPrinter().doprint(expr), "symbol name")


# ------------------------------------------------------------------ 8: the API as careful as the CLI
@SETTINGS
@given(values=st.lists(st.floats(0.1, 5.0), min_size=1, max_size=5), position=st.integers(0, 5),
       flag=st.booleans())
def test_a_boolean_among_numbers_is_refused(values, position, flag):
    from pathdyn.numerics.datasets import random_dataset

    mixed = list(values)
    mixed.insert(min(position, len(mixed)), flag)
    _one_line_error(lambda: random_dataset(mixed), "booleans")


def test_masked_entries_are_never_used():
    from pathdyn.numerics.datasets import Dataset

    X = np.ma.masked_array(2.0 * np.eye(3), mask=np.eye(3, dtype=bool))
    _one_line_error(lambda: Dataset(X=X, Y=np.eye(3)), "masked")
    unmasked = Dataset(X=np.ma.masked_array(2.0 * np.eye(3)), Y=np.eye(3))  # nothing masked: the plain data
    np.testing.assert_allclose(unmasked.X, 2.0 * np.eye(3))


@pytest.mark.parametrize("keyword, value", [("scale", 10**400), ("scale", 1e300), ("c", 10**400), ("c", 1e300)])
def test_numbers_beyond_floating_point_are_one_error(keyword, value):
    from pathdyn.numerics.initial import draw_initial_state
    from pathdyn.theory.architecture import Architecture
    from pathdyn.theory.models import reduce_to_modes

    equations = reduce_to_modes(Architecture(depths=(2, 2)), model="qp")
    arguments = {"scale": 0.1, "c": 1.0, keyword: value}
    _one_line_error(lambda: draw_initial_state(equations, 2, arguments["scale"], c=arguments["c"]), keyword)


@pytest.mark.parametrize("entry", ["export_equations", "export_graph_equations", "graph_equations_to_latex"])
def test_per_edge_with_path_sums_is_refused_as_on_the_command_line(entry):
    """``derive --per-edge --path-sums`` is refused; the API ignored ``per_edge=True`` with path sums."""
    from pathdyn.theory.export import export_equations
    from pathdyn.theory.graph import GraphArchitecture
    from pathdyn.theory.graph_export import derive_graph_equations, export_graph_equations, graph_equations_to_latex

    graph = GraphArchitecture(edges=(("x", "h"), ("h", "y"), ("x", "y")))
    calls = {
        "export_equations": lambda: export_equations(graph, "latex", form="path-sums", per_edge=True),
        "export_graph_equations": lambda: export_graph_equations(derive_graph_equations(graph, form="path-sums"),
                                                                 "latex", per_edge=True),
        "graph_equations_to_latex": lambda: graph_equations_to_latex(derive_graph_equations(graph, form="path-sums"),
                                                                     per_edge=True),
    }
    message = _one_line_error(calls[entry], "per_edge", "form=\"node\"")
    assert "path sums" in message
    assert r"\begin{document}" in export_equations(graph, "latex", form="path-sums", per_edge=False)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("command", [
    ["integrate", "--dataset", "NAME", "--t-max", "2", "-o", "out.json", "--plot", "out.png"],
    ["simulate", "--dataset", "NAME", "--learning-rate", "0.01", "--steps", "5", "--width", "4", "-o", "out.npz",
     "--plot", "out.png"],
])
def test_a_dollar_or_tex_in_a_file_name_reaches_the_plot_title_as_text(command, tmp_path, monkeypatch, capsys):
    """Before, matplotlib parsed ``$\\bad{$`` as mathtext and the plot failed after the whole run."""
    monkeypatch.chdir(tmp_path)
    name = "x$\\bad{$.npz"
    np.savez(tmp_path / name, X=2.0 * np.eye(4), Y=np.diag([3.0, 2.0, 1.0, 0.5]))
    assert main([a.replace("NAME", name) for a in command]) == 0, capsys.readouterr().err
    assert (tmp_path / "out.png").stat().st_size > 0
