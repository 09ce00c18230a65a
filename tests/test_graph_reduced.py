"""Reduced per-mode equations of graphs (node form and sums over paths): the flow, its conserved quantities, the q/p-like reduction."""

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.integrate import integrate
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_reduced import (
    _is_conserved,
    derive_graph_mode_equations,
    derive_graph_qp_equations,
    node_invariant,
)
from pathdyn.theory.modes import input_variance_symbol, mode_symbols
from pathdyn.theory.reduced import derive_qp_equations, is_identically_zero

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ("two_pathways", "shared_trunk", "two_stream", "two_stream_cross", "visual_cortex")
#: Number of independent conserved quadratic forms found (hidden nodes + extra ones).
EXPECTED_INVARIANTS = {"two_pathways": 3, "shared_trunk": 6, "two_stream": 4, "two_stream_cross": 6, "visual_cortex": 5}


def example(name, whitened=True) -> GraphArchitecture:
    graph = GraphArchitecture.from_toml(EXAMPLES / f"{name}.toml")
    return GraphArchitecture(edges=graph.edges, whitened=whitened)


@pytest.mark.parametrize("form", ["node", "path-sums"])
@pytest.mark.parametrize("name", NAMES)
def test_flow_is_minus_gradient_of_reduced_loss(name, form, rng):
    """Each rhs (its node strengths written out) against central differences of 1/2 lambda K^2 - S K,
    K the sum over paths of the products of edge strengths, at a random point."""
    eqs = derive_graph_mode_equations(example(name, whitened=False), invariants=False, form=form)
    lam = input_variance_symbol()
    K = sp.Add(*eqs.strengths)  # the paths, one by one
    assert sp.expand(eqs.inline(eqs.total) - K) == 0
    loss = sp.lambdify([eqs.state, mode_symbols(), lam], lam * K**2 / 2 - mode_symbols() * K)
    rhs = sp.lambdify([eqs.state, mode_symbols(), lam], [eqs.inline(f) for f in eqs.rhs])
    x = rng.uniform(-1, 1, len(eqs.state))
    S, lam_value, h = 2.5, 0.7, 1e-6
    for i, value in enumerate(rhs(x, S, lam_value)):
        step = np.zeros_like(x)
        step[i] = h
        finite = -(loss(x + step, S, lam_value) - loss(x - step, S, lam_value)) / (2 * h)
        assert abs(value - finite) < 1e-7


@pytest.mark.parametrize("name", NAMES)
def test_node_invariants_are_conserved_and_found(name):
    eqs = derive_graph_mode_equations(example(name))
    assert len(eqs.invariants) == EXPECTED_INVARIANTS[name]
    basis = sp.Matrix([[inv.expr.coeff(m) for m in _monomials(eqs)] for inv in eqs.invariants])
    for node in eqs.graph.hidden_nodes:
        form = node_invariant(eqs, node)
        assert is_identically_zero(sp.expand(eqs.inline(eqs.time_derivative(form))))
        row = sp.Matrix([[sp.expand(form).coeff(m) for m in _monomials(eqs)]])
        assert sp.Matrix.vstack(basis, row).rank() == basis.rank(), f"{node}: node invariant not in the basis"
    # a deliberately wrong form (one outgoing edge counted with the wrong sign) is not conserved
    node = eqs.graph.hidden_nodes[0]
    out_edge = eqs.graph.out_edges(node)[0]
    wrong = node_invariant(eqs, node) + 2 * sp.Symbol(f"s_{out_edge[0]}_{out_edge[1]}", real=True) ** 2
    assert not is_identically_zero(sp.expand(eqs.inline(eqs.time_derivative(wrong))))
    assert not _is_conserved(eqs, wrong, (node,))  # the local check the derivation uses catches it too


def _monomials(eqs):
    xs = eqs.state
    return [xs[i] * xs[j] for i in range(len(xs)) for j in range(i, len(xs))]


def test_extra_invariants_of_interchangeable_nodes():
    """LM and AL share their parent (V1) and child (y): they behave as a two-unit layer."""
    eqs = derive_graph_mode_equations(example("visual_cortex"))
    s = {str(x): x for x in eqs.state}
    balance = s["s_V1_LM"] * s["s_V1_AL"] - s["s_LM_y"] * s["s_AL_y"]
    rotation = s["s_V1_LM"] * s["s_AL_y"] - s["s_V1_AL"] * s["s_LM_y"]
    for form in (balance, rotation):
        assert is_identically_zero(sp.expand(eqs.inline(eqs.time_derivative(form))))
    assert [inv.expr for inv in eqs.invariants[-2:]] == [sp.expand(balance), sp.expand(rotation)]


# Two graphs by default (cross-connections; skip with fan-out); the others in the slow tier.
SOME_SLOW = [n if n in ("two_stream_cross", "visual_cortex") else pytest.param(n, marks=pytest.mark.slow) for n in NAMES]


@pytest.mark.parametrize("name", SOME_SLOW)
def test_integrated_trajectories_conserve_invariants_and_learn(name, rng):
    graph = example(name, whitened=False)
    eqs = derive_graph_mode_equations(graph)
    f = compile_rhs(eqs)
    modes = 3
    y0 = rng.uniform(0.05, 0.3, (len(eqs.state), modes))
    S, lam = np.array([3.0, 2.0, 1.0]), np.array([1.5, 0.8, 1.2])
    trajectory = integrate(f, y0, S, 60.0, parameters={"lambda": lam}, rtol=1e-10, atol=1e-12)
    assert trajectory.success
    drift = np.abs(f.invariants(np.moveaxis(trajectory.state, 0, -1), S[:, None], lam[:, None])
                   - f.invariants(y0, S, lam)[..., None]).max()
    assert drift < 1e-7
    np.testing.assert_allclose(trajectory.K[-1].sum(axis=0), S / lam, rtol=1e-4)


@pytest.mark.parametrize("depths", [(2, 2), (2, 3, 5), (4, 1)])
def test_parallel_graph_qp_is_the_paper_model(depths):
    graph = Architecture(depths=depths).graph
    graph_qp = derive_graph_qp_equations(graph)
    paper = derive_qp_equations(depths)
    rename = {}
    for a, segment in enumerate(graph.chain_segments(), start=1):
        if len(segment) == 1:
            rename[sp.Symbol(f"s_{segment[0][0]}_{segment[0][1]}", real=True)] = sp.Symbol(f"p_{a}", real=True)
        else:
            rename[sp.Symbol(f"q_{a}", real=True)] = sp.Symbol(f"q_{a}", real=True)
    assert tuple(x.xreplace(rename) for x in graph_qp.state) == paper.state
    for got, expected in zip(graph_qp.rhs, paper.rhs):
        assert is_identically_zero(sp.expand(graph_qp.inline(got).xreplace(rename) - expected))
    assert [k.xreplace(rename) for k in graph_qp.strengths] == list(paper.strengths)
    assert [str(x) for x, _ in graph_qp.definitions] == ["K"]  # every hidden node is inside a chain: no node strengths


@pytest.mark.parametrize("name", [pytest.param("shared_trunk", marks=pytest.mark.slow), "visual_cortex"])
def test_qp_reduction_follows_the_edge_flow_on_its_invariant_set(name):
    """q/p trajectories equal per-edge trajectories started with equal strengths along each segment."""
    graph = example(name)
    edge_eqs, qp = derive_graph_mode_equations(graph, invariants=False), derive_graph_qp_equations(graph)
    values = {x: 0.1 + 0.03 * i for i, x in enumerate(qp.state)}
    y_qp = np.array([[values[x]] for x in qp.state])
    y_edge = np.array([[next(values[x] for x, edges in zip(qp.state, qp.state_edges) if e in edges)] for e in graph.edges])
    a = integrate(qp, y_qp, [2.0], 30.0, rtol=1e-10, atol=1e-12)
    b = integrate(edge_eqs, y_edge, [2.0], 30.0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.K, b.K, atol=1e-7)


@pytest.mark.parametrize("seed", [20, 21, 22])
def test_the_structural_invariants_are_every_quadratic_one(seed):
    """On small random DAGs (per-edge and q/p) the complete search over quadratic forms adds nothing
    to the node balances and the forms of interchangeable nodes: they span every conserved one."""
    from pathdyn.theory.graph_reduced import INVARIANT_SEARCH_MAX_STATE, _complete_search, _independent, _structural_forms

    graph = random_graph(np.random.default_rng(seed), hidden=4)
    for eqs in (derive_graph_mode_equations(graph), derive_graph_qp_equations(graph)):
        assert len(eqs.state) <= INVARIANT_SEARCH_MAX_STATE
        structural = [expr for expr, _ in _independent(_structural_forms(eqs))]
        assert [inv.expr for inv in eqs.invariants] == structural
        assert _complete_search(eqs, structural) == []
        assert len(_complete_search(eqs, structural[:-1])) == 1  # one left out is found again


def random_graph(rng, hidden=5, probability=0.45):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_flow", Path(__file__).with_name("test_graph_flow.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.random_graph(rng, hidden, probability)
