"""Exports of graph equations (text, LaTeX, JSON keyed by edge) and ``pathdyn derive --architecture``."""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import sympy as sp

from pathdyn.cli.main import main
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.export import export_equations
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_export import derive_graph_equations, export_graph_equations, graph_document, load_graph_equations_json


def _sibling(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compile_latex = _sibling("test_export").compile_latex  # the project's pdflatex check (skips without pdflatex)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ("two_pathways", "shared_trunk", "two_stream", "two_stream_cross", "visual_cortex")


def example(name) -> GraphArchitecture:
    return GraphArchitecture.from_toml(EXAMPLES / f"{name}.toml")


def same(a, b) -> bool:
    """Equal expressions; sympy sorts the terms of a rebuilt sum, so both sides are put in canonical form."""
    return a == b or a.doit() == b.doit()


@pytest.mark.parametrize("form", ["node", "path-sums"])
def test_json_is_keyed_by_edge_and_round_trips(form):
    equations = derive_graph_equations(example("visual_cortex"), form=form)
    data = json.loads(export_graph_equations(equations, "json"))
    assert data["version"] == 2 and data["form"] == form
    assert [e["edge"] for e in data["gradient_flow"]] == [list(e) for e in equations.graph.edges]
    flow = equations.gradient_flow
    names = [e["name"] for e in data["definitions"]]
    assert names[: len(flow.definitions)] == [s.name for s, _ in flow.definitions]
    assert names[len(flow.definitions):] == [str(s) for s, _ in equations.modes.definitions]
    loaded = load_graph_equations_json(json.dumps(data))
    assert loaded.graph == equations.graph and loaded.form == form
    assert same(loaded.definitions["Omega"], flow.omega_definition)
    for edge, _, rhs in flow.equations():
        assert same(loaded.gradient_flow[edge], rhs)
        assert same(loaded.expand(loaded.gradient_flow[edge]), flow.rhs_of(edge, expand=True))
    assert tuple(loaded.modes.values()) == equations.modes.rhs
    assert loaded.conserved == tuple(inv.expr for inv in equations.modes.invariants)
    assert len(loaded.strengths) == (3 if form == "path-sums" else 0)


def test_text_names_every_edge_and_invariant():
    text = export_equations(example("shared_trunk"), "text")
    assert "dW_t2_a1/dt = B_a1.T*(Sigma_yx - Omega)*F_t2.T" in text
    assert "F_t2 = W_t1_t2*F_t1" in text and "B_t2 = B_a1*W_t2_a1 + B_b1*W_t2_b1" in text
    assert "Omega = W_a1_y*F_a1 + W_b1_y*F_b1" in text
    assert "d/dt (q_1**2 - p_1**2) = 0" in text and "d/dt (-q_3**2 - q_2**2 + p_1**2) = 0" in text  # t1, t2
    sums = export_equations(example("shared_trunk"), "text", form="path-sums")
    assert "dW_t2_a1/dt = W_a1_y.T*(Sigma_yx - Omega)*(W_t1_t2*W_x_t1).T" in sums
    assert "Omega = W_a1_y*W_t2_a1*W_t1_t2*W_x_t1 + W_b1_y*W_t2_b1*W_t1_t2*W_x_t1" in sums


def test_depths_exports_unchanged_by_the_graph_path(capsys, tmp_path):
    """--depths and a depths TOML still give the pathway export, byte for byte."""
    toml = tmp_path / "arch.toml"
    toml.write_text("depths = [2, 3]\n")
    for fmt in ("text", "json", "latex"):
        assert main(["derive", "--depths", "2,3", "--format", fmt]) == 0
        by_depths = capsys.readouterr().out
        assert main(["derive", "--architecture", str(toml), "--format", fmt]) == 0
        assert capsys.readouterr().out == by_depths
        assert by_depths == export_equations(Architecture(depths=(2, 3)), fmt)


def test_cli_graph_json(tmp_path, capsys):
    out = tmp_path / "eqs.json"
    assert main(["derive", "--architecture", str(EXAMPLES / "two_stream_cross.toml"), "--general", "--format", "json",
                 "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["format"] == "pathdyn-graph-equations" and data["graph"]["whitened"] is False
    assert {"name": "lambda", "role": "lambda", "edges": None, "node": None, "shape": None} in data["symbols"]


def test_cli_graph_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[graph]\nedges = [["x", "h"], ["h", "x"], ["h", "y"]]\n')
    target = tmp_path / "out.tex"
    assert main(["derive", "--architecture", str(bad), "-o", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert "enters the input node" in err and len(err.splitlines()) == 1
    assert not target.exists()
    # integrate takes a graph now (tests/test_cli_graph_fold.py); a cyclic one is the same one line
    assert main(["integrate", "--architecture", str(bad), "-o", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "enters the input node" in err and len(err.splitlines()) == 1


def numbered(equations, per_edge=False) -> int:
    """The numbered equations the LaTeX shows: a group's summary stands for its rows unless ``per_edge``."""
    groups = graph_document(equations).groups
    return sum(1 for g in groups for e in (g.equations if per_edge or g.summary is None else g.summary) if e.label)


@pytest.mark.parametrize("name, whitened, form, per_edge", [
    ("two_stream_cross", False, "node", False), ("visual_cortex", True, "node", False),
    ("visual_cortex", True, "node", True), ("visual_cortex", False, "path-sums", False)])
def test_latex_compiles(name, whitened, form, per_edge, tmp_path):
    graph = GraphArchitecture(edges=example(name).edges, whitened=whitened)
    equations = derive_graph_equations(graph, form=form)
    tex = export_graph_equations(equations, "latex", per_edge=per_edge)
    log, numbers = compile_latex(tex, tmp_path)
    assert "Overfull \\hbox" not in log
    every = len(graph.edges) + len(equations.modes.state) + len(equations.modes.invariants)
    assert len(numbers) == numbered(equations, per_edge)
    if per_edge or form == "path-sums":
        assert len(numbers) == every  # one numbered equation per edge, per reduced variable, per conserved quantity
    else:  # one equation for every edge: the flow and the reduced equations of the edges shrink to it
        assert len(numbers) < every and "eq:W-edge" in numbers and "eq:mode-edge" in numbers


def test_every_edge_equation_is_checked_edge_by_edge():
    """The one equation for every edge stands only for the edges whose derived equation it gives.

    In visual_cortex the chain segments V1 -> LM -> y and V1 -> AL -> y have q, p (their
    equations are not the generic one's instance), so those stay listed; every other edge
    has its own strength and is given by it. A flow edited on one edge is listed again."""
    equations = derive_graph_equations(example("visual_cortex"))
    groups = {g.kind.value: g for g in graph_document(equations).groups}
    reduced = groups["reduced"]
    assert [str(e.lhs) for e in reduced.summary] == ["s_<u>_<v>", "q_2", "p_2", "q_3", "p_3"]
    flow = groups["gradient flow"]
    assert len(flow.summary) == 1 and flow.summary[0].label == "W-edge"
    edited = dict(equations.gradient_flow.rhs)
    edge = ("V1", "LM")
    edited[edge] = 2 * edited[edge]
    bent = type(equations)(equations.graph, replace(equations.gradient_flow, rhs=edited), equations.modes)
    listed = {g.kind.value: g for g in graph_document(bent).groups}["gradient flow"].summary
    assert [e.keys for e in listed[1:]] == [(("edge", ["V1", "LM"]),)]


def test_every_node_balance_is_checked_node_by_node():
    """The one balance for every hidden node stands only for the nodes whose derived invariant it gives.

    In two_stream_cross (a1, b1 -> a2, b2 fully crossed) every edge has its own strength:
    the four balances are the generic one's instances, the two off-diagonal forms of the
    interchangeable pairs (a1, b1) and (a2, b2) are not and stay listed. An invariant edited
    after its derivation is listed again; per_edge lists every one."""
    equations = derive_graph_equations(example("two_stream_cross"))
    conserved = {g.kind.value: g for g in graph_document(equations).groups}["conserved"]
    assert [e.label for e in conserved.summary] == ["conserved-node", "conserved-5", "conserved-6"]
    invariants = list(equations.modes.invariants)
    assert equations.modes.invariant_nodes[1] == ("b1",)
    invariants[1] = replace(invariants[1], expr=invariants[1].expr + sp.Symbol("s_x_b1", real=True) ** 2)
    bent = type(equations)(equations.graph, equations.gradient_flow, replace(equations.modes, invariants=tuple(invariants)))
    listed = {g.kind.value: g for g in graph_document(bent).groups}["conserved"].summary
    assert [e.label for e in listed] == ["conserved-node", "conserved-2", "conserved-5", "conserved-6"]
    tex, every = export_graph_equations(equations, "latex"), export_graph_equations(equations, "latex", per_edge=True)
    assert "eq:conserved-node" in tex and "eq:conserved-1}" not in tex
    assert "eq:conserved-node" not in every and all(f"eq:conserved-{i}}}" in every for i in range(1, 7))


def test_reduced_equation_is_stated_once():
    """The paragraph before the reduced equations states tau ds/dt only where no equation for every edge shows it."""
    equations = derive_graph_equations(example("visual_cortex"))
    rate = r"$\tau\, ds_{v \leftarrow u}/dt"
    tex, every = export_graph_equations(equations, "latex"), export_graph_equations(equations, "latex", per_edge=True)
    assert rate not in tex and "eq:mode-edge" in tex
    assert every.count(rate) == 1 and "eq:mode-edge" not in every
    chain = derive_graph_equations(GraphArchitecture(edges=(("x", "h"), ("h", "y"))))  # q, p only: no summary
    assert rate in export_graph_equations(chain, "latex")


def _pages(log: str) -> int:
    return int(re.search(r"Output written on \S+ \((\d+) pages?", log).group(1))


#: Pages of the default LaTeX of examples/mouse_visual_cortex.toml (19 hidden nodes, 47 edges,
#: 96 paths), whitened or with general inputs; every edge's equation on its own line (the
#: layout before, and --per-edge) took 7.
MOUSE_PAGES = 3
#: At most this fraction of the last page is used, so that another TeX distribution's
#: spacing does not push the export onto another page (the conserved balances one per row
#: filled 709pt of 731pt; one balance for every hidden node leaves about 130pt whitened,
#: 170pt general).
MOUSE_LAST_PAGE_FILL = 0.5


def _last_page_fill(tex: str, tmp_path) -> tuple[int, float]:
    """``(pages, used fraction of the last page)``: TeX's page total at the end of the document."""
    probe = tex.replace(r"\end{document}", r"\par\message{LASTPAGE \the\pagetotal\space \the\pagegoal}\end{document}")
    log, _ = compile_latex(probe, tmp_path)
    assert "Overfull \\hbox" not in log
    used, goal = map(float, re.search(r"LASTPAGE ([\d.]+)pt ([\d.]+)pt", log).groups())
    return _pages(log), used / goal


@pytest.mark.parametrize("whitened", [True, False], ids=["whitened", "general"])
def test_mouse_visual_cortex_latex_fits_in_a_few_pages(whitened, tmp_path):
    """Issue 19.2: the mouse-visual-cortex export compiles to at most MOUSE_PAGES pages, no line
    overfull, the last page at most MOUSE_LAST_PAGE_FILL full.

    On the code before the one equation for every edge this failed: 7 pages; before the one
    balance for every hidden node the last page was 97% full (whitened) and general inputs
    took 4 pages."""
    graph = GraphArchitecture.from_toml(EXAMPLES / "mouse_visual_cortex.toml")
    graph = GraphArchitecture(edges=graph.edges, widths=graph.widths, whitened=whitened)
    pages, fill = _last_page_fill(export_graph_equations(graph, "latex"), tmp_path)
    assert pages <= MOUSE_PAGES and fill <= MOUSE_LAST_PAGE_FILL, (pages, fill)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_example_latex_compiles_without_overfull_lines(path, tmp_path):
    """Every example graph (and pathway file) in both layouts: nothing wider than the page."""
    from pathdyn.theory.architecture import load_architecture_toml

    architecture = load_architecture_toml(path)
    layouts = ({}, {"per_edge": True}) if isinstance(architecture, GraphArchitecture) else ({},)
    for options in layouts:
        log, _ = compile_latex(export_equations(architecture, "latex", **options), tmp_path)
        assert "Overfull \\hbox" not in log, (path.stem, options)


def test_latex_groups_related_equations():
    """A two-hidden-node skip graph: one align per group (definitions, flow, strengths, reduced,
    conserved), not one per equation; --ungrouped gives one per equation."""
    graph = GraphArchitecture(edges=[("x", "h1"), ("h1", "h2"), ("h2", "y"), ("x", "h2"), ("h1", "y")])
    equations = derive_graph_equations(graph)
    grouped = export_graph_equations(equations, "latex")
    environments = grouped.count(r"\begin{align")
    assert environments == 7
    ungrouped = export_graph_equations(equations, "latex", grouped=False)
    assert ungrouped.count(r"\begin{align}") == numbered(equations)
    assert ungrouped.count(r"\begin{align") > environments
    every = len(graph.edges) + len(equations.modes.state) + len(equations.modes.invariants)
    listed = export_graph_equations(equations, "latex", grouped=False, per_edge=True)
    assert listed.count(r"\begin{align}") == every > numbered(equations)


def test_cli_validate_aligned_graph(tmp_path, capsys):
    """``validate --init aligned`` (formerly graph-validate) on a graph file and on the same pathways as a pathway file."""
    out, plot = tmp_path / "report.json", tmp_path / "fig.png"
    assert main(["validate", "--architecture", str(EXAMPLES / "two_pathways.toml"), "--init", "aligned", "--widths", "4",
                 "--t-max", "2", "--learning-rate", "0.02", "-o", str(out), "--plot", str(plot)]) == 0
    report = json.loads(out.read_text())
    assert report["error"] < 0.05 and len(report["runs"][0][0]["per_path"]) == 2 and report["edge_error"] < 0.05
    assert plot.stat().st_size > 0
    toml = tmp_path / "arch.toml"
    toml.write_text("depths = [2, 3]\n")
    out = tmp_path / "pathways.json"
    assert main(["validate", "--architecture", str(toml), "--init", "aligned", "--widths", "4", "--t-max", "2",
                 "--learning-rate", "0.02", "-o", str(out)]) == 0
    # the same network (same edges, bases and strengths drawn in the same order): the same error
    assert json.loads(out.read_text())["error"] == pytest.approx(report["error"], rel=1e-9)
    assert main(["graph-validate", "--architecture", str(toml)]) == 2
    assert "validate --architecture FILE.toml --init aligned" in capsys.readouterr().err


@pytest.mark.slow  # trains two small networks (a few seconds)
def test_docs_graphs_example_runs(capsys):
    import re

    page = (EXAMPLES.parent / "docs" / "graphs.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    namespace = {}
    exec(compile(code, "docs/graphs.md", "exec"), namespace)
    assert round(namespace["result"].comparison.error, 4) == 0.0014  # quoted on the page
    assert namespace["run"].K.shape[1] == 3
