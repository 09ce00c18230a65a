"""The graph DMFT's symbolic node equations and their export through the one exporter."""

import json
from pathlib import Path

import sympy as sp

from pathdyn.theory.architecture import Architecture
from pathdyn.theory.dmft import derive_dmft_equations, export_dmft
from pathdyn.theory.dmft_graph import derive_dmft_graph_equations, export_dmft_graph
from pathdyn.theory.graph import GraphArchitecture

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _equations(groups):
    return {tag: eq for _, equations in groups for tag, eq in equations}


def test_every_edge_enters_both_of_its_nodes_once():
    """Edge u -> v adds one response and one correlation term to A_v and to B_u, one source each.

    A wrong variant (an edge left out, or its terms written into the wrong node) changes these counts.
    """
    graph = GraphArchitecture.from_toml(EXAMPLES / "trunk_cross_skip.toml")
    equations = _equations(derive_dmft_graph_equations(graph).groups)
    for u, v in graph.edges:
        if u != "x" and v != "y":
            forward = equations[f"{v}: forward kernel"].rhs
            backward = equations[f"{u}: backward kernel"].rhs
            assert forward.has(sp.Function(f"Rf_{u}")) and forward.has(sp.Function(f"Cf_{u}"))
            assert backward.has(sp.Function(f"Rg_{v}")) and backward.has(sp.Function(f"Cg_{v}"))
            assert equations[f"{v}: forward source"].rhs.has(sp.Function(f"Cf_{u}"))
    for v in graph.hidden_nodes:
        kernel = equations[f"{v}: forward kernel"].rhs
        hidden_in = [u for u, _ in graph.in_edges(v) if u != "x"]
        from_x = len(graph.in_edges(v)) - len(hidden_in)
        assert len(sp.Add.make_args(sp.expand(kernel))) == 2 * len(hidden_in) + from_x


def test_parallel_chains_give_the_pathway_site_equations():
    """On the chains of ``Architecture.graph`` the node equations are the pathway DMFT's site equations, renamed."""
    arch = Architecture(depths=(3, 2))
    graph = Architecture.coerce(arch).graph
    node = _equations(derive_dmft_graph_equations(graph).groups)
    site = dict(derive_dmft_equations(arch).equations)
    rename = {}
    for a, depth in enumerate(arch.depths, start=1):
        chain = [e[1] for e in graph.paths[a - 1][:-1]]
        for k, v in enumerate(chain):
            for name in ("f", "g", "alpha", "beta", "A", "B", "Cf", "Cg", "Rf", "Rg"):
                rename[sp.Function(f"{name}_{a}_{k}")] = sp.Function(f"{name}_{v}")
    for a, depth in enumerate(arch.depths, start=1):
        chain = [e[1] for e in graph.paths[a - 1][:-1]]
        for k, v in enumerate(chain):
            for what in ("forward kernel", "backward kernel", "forward source", "backward source", "forward field"):
                expected = site[f"pathway {a}, site {k}: {what}"]
                renamed = expected.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef) and e.func in rename,
                                           lambda e: rename[e.func](*e.args))
                assert sp.simplify(renamed.rhs - node[f"{v}: {what}"].rhs) == 0


def test_export_formats_and_the_derive_dispatch():
    graph = GraphArchitecture.from_toml(EXAMPLES / "two_stream_cross.toml")
    data = json.loads(export_dmft_graph(graph, "json", paths=True))
    assert data["model"] == "dmft" and data["form"] == "node"
    labels = [e["label"] for e in data["equations"]]
    assert "error" in labels and sum(label.startswith("path ") for label in labels) == graph.num_paths
    assert export_dmft(graph, "text") == export_dmft_graph(graph, "text")
    assert "\\begin{align*}" in export_dmft_graph(graph, "latex")
