"""Graphs in node form at real sizes: exports rebuilt from the file alone, compiled code linear in the
edges, a long chain without recursion limits, the mouse-visual-cortex example, one exporter for every format."""

import importlib.util
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from pathdyn.cli.main import main
from pathdyn.errors import ArchitectureError
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.integrate import integrate
from pathdyn.theory.dmft import export_dmft
from pathdyn.theory.document import Relation
from pathdyn.theory.export import export_equations
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_export import derive_graph_equations, export_graph_equations, graph_document, load_graph_equations_json
from pathdyn.theory.graph_flow import derive_graph_flow
from pathdyn.theory.graph_reduced import derive_graph_mode_equations, derive_graph_qp_equations
from pathdyn.theory.printers import PathdynTextPrinter
from pathdyn.theory.safe_parse import parse_srepr
from pathdyn.theory.writers import WRITERS, register_writer
from pathdyn.validation.network.graph import aligned_graph_weights, simulate_graph_gd

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _sibling(name):
    spec = importlib.util.spec_from_file_location(f"_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_flow_tests = _sibling("test_graph_flow")
evaluate, random_graph = _flow_tests.evaluate, _flow_tests.random_graph
compile_latex = _sibling("test_export").compile_latex


def diamonds(k: int) -> GraphArchitecture:
    """``k`` diamonds in a row: ``2**k`` paths over ``4 k + 1`` edges."""
    edges, previous = [], "x"
    for i in range(k):
        edges += [(previous, f"a{i}"), (previous, f"b{i}"), (f"a{i}", f"m{i}"), (f"b{i}", f"m{i}")]
        previous = f"m{i}"
    return GraphArchitecture(edges=edges + [(previous, "y")])


def chain(n: int) -> GraphArchitecture:
    return GraphArchitecture(edges=[("x", "h1")] + [(f"h{i}", f"h{i + 1}") for i in range(1, n)] + [(f"h{n}", "y")])


# --------------------------------------------------- the JSON, read by a reader
def _values_from_file(data, rng):
    """Random values for every matrix and scalar the file declares, then every definition evaluated in order."""
    values = {}
    for entry in data["symbols"]:
        shape = entry["shape"]
        if entry["role"] in ("weight", "Sigma_yx"):
            values[entry["name"]] = rng.standard_normal(tuple(shape))
        elif entry["role"] == "Sigma_x":
            A = rng.standard_normal(tuple(shape))
            values[entry["name"]] = A @ A.T + 0.5 * np.eye(shape[0])
        elif entry["role"] in ("strength", "S", "lambda"):
            values[entry["name"]] = rng.uniform(0.2, 1.5)
    return values


def _evaluate_named(expr, values):
    """A rebuilt expression evaluated with numbers looked up by name (matrices with numpy, scalars with sympy)."""
    if getattr(expr, "is_Matrix", False):
        by_symbol = {m: values[m.name] for m in expr.atoms(sp.MatrixSymbol)}
        return evaluate(expr, by_symbol)
    return float(expr.xreplace({s: values[s.name] for s in expr.free_symbols}))


@pytest.mark.parametrize("name", ["two_stream_cross", "visual_cortex", "random DAG"])
def test_the_json_alone_rebuilds_every_right_hand_side(name, tmp_path):
    """Load the node-form JSON with the safe loader, evaluate its definitions in order, and compare
    every right-hand side numerically with the sums over paths on random matrices."""
    graph = random_graph(np.random.default_rng(5)) if name == "random DAG" else GraphArchitecture.from_toml(
        EXAMPLES / f"{name}.toml")
    graph = GraphArchitecture(edges=graph.edges, n_in=3, n_out=2, whitened=False,
                              widths={n: 2 + i % 3 for i, n in enumerate(graph.hidden_nodes)})
    path = tmp_path / "eqs.json"
    path.write_text(export_graph_equations(graph, "json"))
    data = json.loads(path.read_text())
    assert data["form"] == "node" and "paths" not in data
    loaded = load_graph_equations_json(path)
    values = _values_from_file(data, np.random.default_rng(1))
    for name_, expr in loaded.definitions.items():  # a reader's evaluation: in file order, each once
        values[name_] = _evaluate_named(expr, values)
    reference = derive_graph_equations(graph, form="path-sums")
    flow = reference.gradient_flow
    omega = evaluate(flow.omega_definition, {w: values[w.name] for w in flow.weights.values()})
    np.testing.assert_allclose(values["Omega"], omega, rtol=1e-12, atol=1e-12)
    for edge, _, rhs in flow.equations():
        expected = _evaluate_named(rhs.xreplace({flow.omega: flow.omega_definition}), values)
        np.testing.assert_allclose(_evaluate_named(loaded.gradient_flow[edge], values), expected, rtol=1e-10, atol=1e-12)
    for x, f in zip(reference.modes.state, reference.modes.rhs):
        assert _evaluate_named(loaded.modes[str(x)], values) == pytest.approx(_evaluate_named(f, values), rel=1e-12)
    # the symbolic route gives the same: every definition written out
    edge = graph.edges[0]
    assert loaded.expand(loaded.gradient_flow[edge]).free_symbols.isdisjoint({sp.Symbol("Omega")})


def test_a_tampered_definition_is_caught(tmp_path):
    """The same check fails when one definition of the file is wrong (a term of Omega dropped)."""
    graph = GraphArchitecture(edges=GraphArchitecture.from_toml(EXAMPLES / "visual_cortex.toml").edges, n_in=3, n_out=2,
                              widths=3)
    data = json.loads(export_graph_equations(graph, "json"))
    entry = next(e for e in data["definitions"] if e["name"] == "Omega")
    omega = parse_srepr(entry["expr"])
    entry["expr"] = sp.srepr(sp.MatAdd(*omega.args[:-1]))
    loaded = load_graph_equations_json(json.dumps(data))
    values = _values_from_file(data, np.random.default_rng(2))
    for name, expr in loaded.definitions.items():
        values[name] = _evaluate_named(expr, values)
    flow = derive_graph_flow(graph, form="path-sums")
    expected = evaluate(flow.omega_definition, {w: values[w.name] for w in flow.weights.values()})
    assert np.abs(values["Omega"] - expected).max() > 1e-3


# ------------------------------------------- compiled code: linear in the edges
def test_compiled_right_hand_side_is_linear_in_the_edges():
    """The generated code assigns each node strength once and never expands over paths: its size is
    the same for 8 diamonds (256 paths) as the edges say, and its values equal the path sums."""
    sizes = {}
    for k in (4, 8):
        eqs = derive_graph_mode_equations(diamonds(k), invariants=False)
        source = inspect.getsource(compile_rhs(eqs)._rhs)
        sizes[k] = source.count("*")
        assert source.count("\n") < 4 * len(eqs.graph.edges) + 20
    assert sizes[8] < 2.2 * sizes[4]  # twice the edges, not 16 times the paths
    small = derive_graph_mode_equations(diamonds(4), invariants=False)
    paths = derive_graph_mode_equations(diamonds(4), invariants=False, form="path-sums")
    y = np.random.default_rng(0).uniform(0.5, 1.2, (len(small.state), 3))
    np.testing.assert_allclose(compile_rhs(small)(0.0, y, np.array([2.0, 1.0, 0.5])),
                               compile_rhs(paths)(0.0, y, np.array([2.0, 1.0, 0.5])), rtol=1e-12)


def test_graphs_with_too_many_paths_integrate_on_the_total():
    """4096 paths: the reduced model reports the total K alone and learns it."""
    eqs = derive_graph_mode_equations(diamonds(12), invariants=False)
    assert not eqs.per_path and len(eqs.strengths) == 1
    f = compile_rhs(eqs)
    y0 = np.full((len(eqs.state), 1), 0.75)
    run = integrate(f, y0, np.array([2.0]), 30.0)
    assert run.success and run.K.shape[1] == 1
    assert run.K[-1, 0, 0] == pytest.approx(2.0, rel=1e-4)


# ----------------------------------------------------------- a long chain
def test_a_1200_node_chain_hits_no_recursion_limit(capsys):
    graph = chain(1200)
    assert graph.num_paths == 1 and graph.longest_path == 1201
    flow = derive_graph_flow(graph)
    assert len(flow.definitions) == 2 * 1200 + 1
    qp = derive_graph_qp_equations(graph)
    assert [str(x) for x in qp.state] == ["q_1", "p_1"] and qp.inline(qp.total) == sp.Symbol("q_1", real=True) ** 1200 * sp.Symbol("p_1", real=True)
    run = integrate(qp, np.array([[1.0], [1.0]]), np.array([1.5]), 1e-3)
    assert run.success
    text = PathdynTextPrinter().doprint(flow.rhs_of(("h600", "h601")))
    assert text == "B_h601.T*(Sigma_yx - Omega)*F_h600.T"
    from pathdyn.numerics.datasets import random_dataset

    data = random_dataset([1.0, 0.5], seed=0)
    weights, bases = aligned_graph_weights(graph, data, {e: 1.0 for e in graph.edges}, width=2)
    sim = simulate_graph_gd(graph, data, 2, weights=weights, bases=bases, learning_rate=1e-4, steps=3, engine="graph")
    assert sim.success and sim.K.shape == (4, 1, 2)


@pytest.mark.slow  # the per-edge model of 1201 edges: derivation, 1200 verified balances, compile (about 20 s)
def test_a_1200_node_chain_per_edge_model():
    eqs = derive_graph_mode_equations(chain(1200))
    assert len(eqs.invariants) == 1200
    y = np.ones((1201, 2))
    assert np.allclose(compile_rhs(eqs)(0.0, y, np.array([2.0, 1.0]))[:, 0], 1.0)


# ------------------------------------------------------ the mouse visual cortex
MOUSE = EXAMPLES / "mouse_visual_cortex.toml"


def test_mouse_example_is_the_size_of_the_issue():
    graph = GraphArchitecture.from_toml(MOUSE)
    assert 18 <= len(graph.hidden_nodes) <= 22 and 45 <= len(graph.edges) <= 55 and 70 <= graph.num_paths <= 120


@pytest.mark.parametrize("whitened", [True, False], ids=["whitened", "general"])
def test_mouse_latex_compiles_in_a_few_pages_without_overfull_boxes(whitened, tmp_path):
    graph = GraphArchitecture.from_toml(MOUSE)
    graph = GraphArchitecture(edges=graph.edges, widths=graph.widths, whitened=whitened)
    equations = derive_graph_equations(graph)
    tex = export_graph_equations(equations, "latex")
    log, numbers = compile_latex(tex, tmp_path)
    assert "Overfull \\hbox" not in log
    pages = int(re.search(r"Output written on equations\.pdf \((\d+) pages?", log).group(1))
    assert pages <= 3  # one equation for every edge and hidden node; every edge's own line took 7 pages
    summaries = [g.summary or g.equations for g in graph_document(equations).groups]
    assert len(numbers) == sum(1 for shown in summaries for e in shown if e.label)
    assert tex.count(r"\begin{align") <= 8  # related equations share one environment


def test_mouse_derives_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "cortex.json"
    assert main(["derive", "--architecture", str(MOUSE), "--format", "json", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert len(data["gradient_flow"]) == 47 and len(data["conserved"]) >= 19
    assert main(["derive", "--architecture", str(MOUSE), "--path-sums"]) == 2
    assert "--path-sums: 96 path(s)" in capsys.readouterr().err


def test_mouse_conserves_one_balance_per_hidden_node():
    eqs = derive_graph_mode_equations(GraphArchitecture.from_toml(MOUSE))
    assert len(eqs.invariants) == len(eqs.graph.hidden_nodes)
    f = compile_rhs(eqs)
    y0 = np.random.default_rng(3).uniform(0.3, 0.6, (len(eqs.state), 2))
    run = integrate(f, y0, np.array([2.0, 1.0]), 20.0, rtol=1e-10, atol=1e-12)
    drift = np.abs(f.invariants(np.moveaxis(run.state, 0, -1), np.array([2.0, 1.0])[:, None])
                   - f.invariants(y0, np.array([2.0, 1.0]))[..., None]).max()
    assert drift < 1e-7


# ------------------------------------------------------------- one exporter
class MarkdownWriter:
    """A toy format: a bullet per equation, the expressions in sympy's string form."""

    name = "markdown"
    options: dict = {}
    help = "markdown (a bullet per equation)"

    def render(self, document) -> str:
        text = PathdynTextPrinter().doprint
        lines = [f"# {document.description}"]
        for group in document.groups:
            lines.append(f"## {group.title}")
            for equation in group.equations:
                rhs = equation.rhs.text if hasattr(equation.rhs, "text") else text(equation.rhs)
                relation = "rate of" if equation.relation is Relation.RATE else "="
                lines.append(f"- `{text(equation.lhs)}` {relation} `{rhs}`")
        return "\n".join(lines) + "\n"


@pytest.fixture
def markdown():
    writer = register_writer(MarkdownWriter())
    yield writer
    del WRITERS[writer.name]


def test_a_new_format_is_one_writer(markdown, capsys):
    """Registered once, the toy writer renders pathway, graph and DMFT documents and is a --format choice."""
    pathways = export_equations((2, 3), "markdown")
    assert "- `W_1_1` rate of `W_1_2.T*(Sigma_yx - Omega)`" in pathways
    graph = export_equations(GraphArchitecture.from_toml(EXAMPLES / "visual_cortex.toml"), "markdown")
    assert "- `W_x_V1` rate of `B_V1.T*(Sigma_yx - Omega)`" in graph
    assert "## DMFT site equations" in export_dmft((3,), "markdown")
    assert main(["derive", "--depths", "2", "--format", "markdown"]) == 0
    assert capsys.readouterr().out == export_equations((2,), "markdown")
    with pytest.raises(Exception, match="fragment: only LaTeX"):
        export_equations((2,), "markdown", fragment=True)


def test_the_format_choices_come_from_the_writers(capsys):
    with pytest.raises(SystemExit) as exit_info:  # the toy format is not registered here
        main(["derive", "--depths", "2", "--format", "markdown"])
    assert exit_info.value.code == 2 and "invalid choice: 'markdown'" in capsys.readouterr().err


def test_path_sums_are_refused_above_the_listed_paths():
    with pytest.raises(ArchitectureError, match="4,096 paths from x to y"):
        derive_graph_equations(diamonds(12), form="path-sums")


# ------------------------------------------------ validation without listing paths
def test_validation_of_a_graph_with_too_many_paths():
    """2048 paths: the aligned network follows the node-form model, total K and every edge strength,
    with gradient descent's O(eta) error (halved with eta); a model of a wrong graph (one diamond's
    second branch dropped) is far off."""
    from pathdyn.numerics.datasets import random_dataset
    from pathdyn.validation.sweep.graph_validate import validate_graph_aligned

    graph = diamonds(11)
    data = random_dataset([3.0, 2.0], seed=0)
    coarse, result = (validate_graph_aligned(graph, data, 4, learning_rate=eta, t_max=3.0, initial_strength=0.45)
                      for eta in (0.005, 0.0025))
    summary = result.summary()
    assert summary["compared"].startswith("total K") and summary["per_path"] is None
    assert result.simulation.K.shape[1] == 1 and result.simulation.extras["K_total"][-1, 0] > 2.9  # it learned
    assert 1.6 < coarse.comparison.error / result.comparison.error < 2.4  # 0.045 and 0.024 of S_1
    assert summary["edge_error"] < coarse.edge_error
    wrong = GraphArchitecture(edges=[e for e in graph.edges if e not in (("x", "b0"), ("b0", "m0"))])
    assert wrong.num_paths == 1024
    theory = integrate(derive_graph_mode_equations(wrong, invariants=False), result.initial_strengths[
        [graph.edges.index(e) for e in wrong.edges]], data.modes()[1], float(result.simulation.t[-1]),
        t_eval=result.simulation.t)
    off = np.abs(theory.K.sum(axis=1) - result.simulation.extras["K_total"]).max() / 3.0
    assert off > 10 * summary["error"]


def test_concentration_refuses_graphs_with_too_many_paths():
    from pathdyn.numerics.datasets import random_dataset
    from pathdyn.validation.sweep.graph_concentration import measure_graph_concentration

    with pytest.raises(ArchitectureError, match="2,048 paths from x to y, above the 256"):
        measure_graph_concentration(diamonds(11), random_dataset([2.0], seed=0), seeds=(0,))


def test_figure_labels_are_math_text():
    from pathdyn.validation.reports.graph_plots import math_name, path_label

    assert path_label((("x", "V1"), ("V1", "y"))) == r"$\mathrm{x} \to \mathrm{V1} \to \mathrm{y}$"
    assert math_name("a_b$c") == r"\mathrm{a\_b\$c}"  # names are escaped before matplotlib reads them
