"""The graph gradient flow (node form and sums over paths) against finite differences of the loss, and the parallel special case."""

import numpy as np
import pytest
import sympy as sp

from pathdyn.errors import ArchitectureError
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.gradient_flow import derive_gradient_flow
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_flow import derive_graph_flow, expand_definitions

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str) -> GraphArchitecture:
    return GraphArchitecture.from_toml(EXAMPLES / f"{name}.toml")

# Graphs with merges, a skip edge, cross-connections, nodes with several parents and children.
HAND_GRAPHS = {
    "visual-cortex (skip, fan-out, merge)": example("visual_cortex"),
    "two streams with cross-connections": example("two_stream_cross"),
    "diamond with skip into a hidden node": GraphArchitecture(edges=[
        ("x", "a"), ("x", "b"), ("a", "c"), ("b", "c"), ("x", "c"), ("a", "y"), ("c", "y"), ("b", "d"), ("d", "y")]),
}


def random_graph(rng, hidden=5, probability=0.45) -> GraphArchitecture:
    """A random DAG over x, h0..h{hidden-1}, y (edges go forward in this order), kept valid."""
    names = ["x"] + [f"h{i}" for i in range(hidden)] + ["y"]
    while True:
        edges = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))
                 if rng.random() < probability and (i, j) != (0, len(names) - 1)]
        used = {n for e in edges for n in e}
        # keep only nodes on some x -> y path: drop and retry if invalid
        try:
            graph = GraphArchitecture(edges=edges)
        except Exception:
            continue
        parents = [len(graph.in_edges(n)) for n in graph.hidden_nodes]
        children = [len(graph.out_edges(n)) for n in graph.hidden_nodes]
        if len(used) >= 5 and max(parents) >= 2 and max(children) >= 2:
            return graph


def evaluate(expr, values):
    """A sympy matrix expression evaluated with numpy (``values``: symbol -> array)."""
    if isinstance(expr, sp.MatrixSymbol):
        return values[expr]
    if isinstance(expr, sp.Identity):
        return np.eye(int(expr.shape[0]))
    if isinstance(expr, sp.Transpose):
        return evaluate(expr.arg, values).T
    if isinstance(expr, sp.MatAdd):
        return sum(evaluate(a, values) for a in expr.args)
    if isinstance(expr, sp.MatMul):
        scalar = float(sp.Mul(*[a for a in expr.args if not a.is_Matrix]))
        out = None
        for a in (a for a in expr.args if a.is_Matrix):
            value = evaluate(a, values)
            out = value if out is None else out @ value
        return scalar * out
    if expr.is_Number:
        return float(expr)
    raise TypeError(f"cannot evaluate {type(expr).__name__}")


def numeric_setup(graph, rng, whitened, form="node"):
    g = GraphArchitecture(edges=graph.edges, n_in=3, n_out=2, whitened=whitened,
                          widths={n: 2 + i % 3 for i, n in enumerate(graph.hidden_nodes)})
    flow = derive_graph_flow(g, form=form)
    values = {w: rng.standard_normal(tuple(int(d) for d in w.shape)) for w in flow.weights.values()}
    values[flow.sigma_yx] = rng.standard_normal((2, 3))
    if not whitened:
        A = rng.standard_normal((3, 3))
        values[flow.sigma_x] = A @ A.T + 0.5 * np.eye(3)
    return g, flow, values


def with_definitions(definitions, values):
    """``values`` and every defined symbol, evaluated in order (as a reader of the export would)."""
    values = dict(values)
    for symbol, expr in definitions:
        values[symbol] = evaluate(expr, values)
    return values


def loss(flow, values, definitions=None):
    omega = with_definitions(definitions or flow.all_definitions, values)[flow.omega]
    sigma_x = evaluate(flow.sigma_x, values)
    return 0.5 * np.trace(omega @ sigma_x @ omega.T) - np.trace(values[flow.sigma_yx] @ omega.T)


def directional_errors(flow, values, rng, rhs_of, definitions=None):
    """Relative error of ``<rhs, D>`` against ``-(L(W + hD) - L(W - hD)) / 2h`` per edge."""
    definitions = definitions or flow.all_definitions
    values = with_definitions(definitions, values)
    errors = []
    for edge, w, _ in flow.equations():
        D = rng.standard_normal(values[w].shape)
        rhs = evaluate(rhs_of(edge), values)
        h = 1e-6
        plus, minus = dict(values), dict(values)
        plus[w], minus[w] = values[w] + h * D, values[w] - h * D
        finite = -(loss(flow, plus) - loss(flow, minus)) / (2 * h)
        errors.append(abs(np.sum(rhs * D) - finite) / max(1.0, abs(finite)))
    return np.array(errors)


GRAPHS = list(HAND_GRAPHS.items()) + [(f"random DAG {i}", None) for i in range(3)]


@pytest.mark.parametrize("form", ["node", "path-sums"])
@pytest.mark.parametrize("whitened", [True, False], ids=["whitened", "general"])
@pytest.mark.parametrize("name, graph", GRAPHS, ids=[g[0] for g in GRAPHS])
def test_flow_matches_finite_differences(name, graph, whitened, form, rng):
    if graph is None:
        graph = random_graph(np.random.default_rng(int(name[-1]) + 7))
    g, flow, values = numeric_setup(graph, rng, whitened, form)
    errors = directional_errors(flow, values, rng, flow.rhs_of)
    assert errors.max() < 1e-7, (name, errors)


def test_finite_differences_catch_a_wrong_flow(rng):
    """A flow whose network map forgets the shortcut V1 -> y fails the same check."""
    g, flow, values = numeric_setup(example("visual_cortex"), rng, True)
    shortcut = flow.weights[("V1", "y")] * sp.MatrixSymbol("F_V1", *flow.weights[("x", "V1")].shape)
    wrong = [(s, e - shortcut if s == flow.omega else e) for s, e in flow.definitions]
    assert dict(wrong)[flow.omega] != flow.omega_definition
    errors = directional_errors(flow, values, rng, flow.rhs_of, definitions=wrong)
    assert errors.min() > 1e-3


def test_node_form_is_linear_in_the_edges():
    """A chain of 12 diamonds has 4096 paths; its node form has one definition per node and per edge one term."""
    edges, previous = [], "x"
    for k in range(12):
        edges += [(previous, f"a{k}"), (previous, f"b{k}"), (f"a{k}", f"m{k}"), (f"b{k}", f"m{k}")]
        previous = f"m{k}"
    graph = GraphArchitecture(edges=edges + [(previous, "y")])
    assert graph.num_paths == 4096 and not graph.paths_listed
    flow = derive_graph_flow(graph)
    assert len(flow.definitions) == 2 * len(graph.hidden_nodes) + 1
    weights = set(flow.weights.values())
    size = sum(len([a for a in sp.preorder_traversal(e) if a in weights]) for _, e in flow.definitions)
    assert size == 2 * len(graph.edges) - 2  # each edge once in a forward and once in a backward map (not at x, y)
    with pytest.raises(ArchitectureError, match="4,096 paths from x to y, above the 256"):
        derive_graph_flow(graph, form="path-sums")


def test_node_form_equals_the_sums_over_paths():
    """Written out, the node form's right-hand sides are the path sums (random DAG, general inputs)."""
    graph = random_graph(np.random.default_rng(11))
    graph = GraphArchitecture(edges=graph.edges, whitened=False)
    rng = np.random.default_rng(0)
    g, _, values = numeric_setup(graph, rng, False)
    node, paths = derive_graph_flow(g), derive_graph_flow(g, form="path-sums")
    for edge in g.edges:
        expanded = expand_definitions(node.rhs_of(edge), node.definitions)
        a = evaluate(expanded, values)
        b = evaluate(expand_definitions(paths.rhs_of(edge), paths.definitions), values)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.slow  # sympy differentiates the written-out loss: 5-11 s per graph
@pytest.mark.parametrize("name", list(HAND_GRAPHS))
def test_direct_derivation_agrees(name, rng):
    graph = HAND_GRAPHS[name]
    g, flow, values = numeric_setup(graph, rng, False)
    direct = derive_graph_flow(g, method="direct")
    values = with_definitions(flow.definitions, values)
    for edge, _, rhs in flow.equations():
        np.testing.assert_allclose(evaluate(direct.rhs_of(edge), values), evaluate(rhs, values), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("depths, whitened", [((2, 3), True), ((3, 1, 4), False), ((1, 1, 3), False)])
def test_parallel_graph_gives_the_pathway_equations(depths, whitened, rng):
    """The pathways' flow (derived by the graph engine since issue 19.3) against the pathway
    derivation that differentiates the written-out loss (``method="direct"``, no graph), on
    random matrices; and the node form of the same graph, written out, against both.

    The two derivations share no code but sympy's matrix calculus; a flow that drops the
    shortcut of a depth-1 pathway, or transposes a factor, differs by O(1) here.
    """
    arch = Architecture(depths=depths, whitened=whitened, n_in=3, n_out=2,
                        hidden_widths=[[2 + (a + d) % 3 for d in range(1, D)] for a, D in enumerate(depths)])
    engine, direct = derive_gradient_flow(arch), derive_gradient_flow(arch, method="direct")
    values = {w: rng.standard_normal(tuple(int(n) for n in w.shape)) for ws in engine.weights for w in ws}
    values[engine.sigma_yx] = rng.standard_normal((2, 3))
    if not whitened:
        A = rng.standard_normal((3, 3))
        values[engine.sigma_x] = A @ A.T + 0.5 * np.eye(3)
    for a, d, _, _ in engine.equations():
        np.testing.assert_allclose(evaluate(engine.rhs_of(a, d, expand=True), values),
                                   evaluate(direct.rhs_of(a, d), values), rtol=1e-10, atol=1e-12)
    if sum(D == 1 for D in depths) > 1:
        return  # the node form's graph has one edge x -> y for all depth-1 pathways
    graph = Architecture.coerce(arch).graph
    node = derive_graph_flow(graph)
    rename = {node.weights[edge]: w for segment, ws in zip(graph.chain_segments(), engine.weights)
              for edge, w in zip(segment, ws)}
    for segment, ws in zip(graph.chain_segments(), engine.weights):
        for edge, w in zip(segment, ws):
            written = node.rhs_of(edge, expand=True).xreplace(rename)
            np.testing.assert_allclose(evaluate(written, values), evaluate(direct.rhs_of(*_layer_of(engine, w)), values),
                                       rtol=1e-10, atol=1e-12)


def _layer_of(pathway_flow, weight) -> tuple:
    return next((a, d) for a, d, w, _ in pathway_flow.equations() if w == weight)
