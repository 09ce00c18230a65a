"""The two-channel reduction: symbolic identities, invariants, relation to q/p, numerics."""

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from pathdyn.errors import ConfigError
from pathdyn.numerics.integrate import integrate
from pathdyn.theory.graph import INPUT, OUTPUT, GraphArchitecture
from pathdyn.theory.graph_reduced import total_strength_gradients
from pathdyn.theory.reduced import derive_qp_equations, is_identically_zero
from pathdyn.theory.two_channel import (
    derive_two_channel_equations,
    invariant_matrices,
    relate_to_qp,
    two_channel_layers,
)

S = sp.Symbol("S", positive=True)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_state_layout_and_degenerate_depths():
    eqs = derive_two_channel_equations((1, 2, 3))
    assert eqs.kind == "two-channel"
    assert eqs.state_names == (
        "w_1",
        "A_2_1", "A_2_2", "B_2_1", "B_2_2",
        "A_3_1", "A_3_2", "M_3_2_11", "M_3_2_12", "M_3_2_21", "M_3_2_22", "B_3_1", "B_3_2",
    )
    assert eqs.state_pathway == (1,) + (2,) * 4 + (3,) * 8
    # depth 2: K = B A, no hidden matrix; depth 1: K = w
    A1, A2, B1, B2 = sp.symbols("A_2_1 A_2_2 B_2_1 B_2_2", real=True)
    assert sp.expand(eqs.strengths[1] - (A1 * B1 + A2 * B2)) == 0
    assert eqs.strengths[0] == sp.Symbol("w_1", real=True)
    assert eqs.parameters == (S,)
    # 3 (D - 1) invariants per pathway of depth D >= 2, none for depth 1
    assert [sum(inv.pathway == a for inv in eqs.invariants) for a in (1, 2, 3)] == [0, 3, 6]


@pytest.mark.parametrize("depths", [(3, 2), (1, 1, 4), (2, 5)])
def test_rhs_is_minus_the_gradient_of_the_independently_expanded_loss(depths):
    # the equations come from the graph engine in node form (dK/dW_e = b_v f_u^T);
    # the reference here multiplies each chain's matrices and differentiates the loss
    eqs = derive_two_channel_equations(depths, invariants=False)
    # independent construction: explicit matrices multiplied and expanded here
    K = []
    for a, depth in enumerate(depths, start=1):
        chain = two_channel_layers(a, depth)
        product = sp.eye(1)
        for layer in reversed(chain.layers):
            product = product * layer
        K.append(sp.expand(product[0, 0]))
    loss = sp.expand((S - sum(K)) ** 2 / 2)
    for x, f in zip(eqs.state, eqs.rhs):
        assert sp.expand(f + sp.diff(loss, x)) == 0


@pytest.mark.parametrize("depths", [(2,), (3,), (4, 2)])
def test_invariants_have_zero_time_derivative_for_any_error(depths):
    eqs = derive_two_channel_equations(depths)
    e = sp.Symbol("e")
    for inv in eqs.invariants:
        assert is_identically_zero(sp.expand(eqs.time_derivative(inv.expr).xreplace({eqs.error: e})))


def test_a_wrong_invariant_is_caught():
    """Poor variant: W_{d+1}^T W_{d+1} + W_d W_d^T (wrong sign) is not conserved."""
    eqs = derive_two_channel_equations((3,))
    chain = two_channel_layers(1, 3)
    wrong = (chain.layers[1].T * chain.layers[1] + chain.layers[0] * chain.layers[0].T)[0, 0]
    assert not is_identically_zero(sp.expand(eqs.time_derivative(wrong)))


def test_invariant_matrices_span_every_conserved_quadratic_form_depth_3():
    """All quadratic forms x^T Q x of one depth-3 chain conserved for any error: exactly the C_d entries."""
    eqs = derive_two_channel_equations((3,))
    xs = eqs.state
    e = sp.Symbol("e")
    pairs = [(i, j) for i in range(len(xs)) for j in range(i, len(xs))]
    coefficients = sp.symbols(f"c0:{len(pairs)}")
    form = sum(c * xs[i] * xs[j] for c, (i, j) in zip(coefficients, pairs))
    derivative = sp.expand(eqs.time_derivative(form).xreplace({eqs.error: e}))
    equations = sp.Poly(derivative, *xs, e).coeffs()
    solution = sp.linsolve(equations, coefficients)
    (general,) = solution
    free = sorted(set().union(*[sp.sympify(v).free_symbols for v in general]) & set(coefficients), key=str)
    assert len(free) == 6 == len(eqs.invariants)
    # and each derived invariant lies in that solution space
    for inv in eqs.invariants:
        values = {c: sp.expand(inv.expr).coeff(xs[i] * xs[j]) if i != j else sp.expand(inv.expr).coeff(xs[i], 2)
                  for c, (i, j) in zip(coefficients, pairs)}
        assert all(sp.simplify(g.xreplace(values) - values[c]) == 0 for g, c in zip(general, coefficients))


@pytest.mark.parametrize("depths", [(2, 3), (1, 4)])
def test_aligned_set_reproduces_layer_and_qp_models(depths):
    relation = relate_to_qp(depths)
    assert relation.aligned_set_invariant
    assert relation.reproduces_layer_model
    assert relation.reproduces_qp_model
    for a, depth in enumerate(depths, start=1):
        assert relation.state_dimension[a] == (1 if depth == 1 else 4 * depth - 4)
        assert relation.invariant_rank[a] == (0 if depth == 1 else 3 * (depth - 1))
        assert relation.reduced_dimension[a] == max(depth - 1, 1)
    # extra variables: 3 per hidden matrix plus A_2, B_2 per pathway of depth >= 2
    assert len(relation.extra_variables) == sum(2 + 3 * (d - 2) for d in depths if d >= 2)


def test_depth_2_chain_closes_on_K_and_R_like_qp():
    relation = relate_to_qp((2, 2))
    assert set(relation.d2_closure) == {1, 2}
    K, R, e = sp.symbols("K R e", real=True)
    assert relation.d2_closure[1]["dK"] == e * R
    assert relation.d2_closure[1]["dR"] == 4 * e * K


def test_bad_depth_is_rejected():
    with pytest.raises(ConfigError, match="depth"):
        two_channel_layers(1, 0)


def test_invariant_matrices_shapes():
    chain = two_channel_layers(1, 4)
    mats = invariant_matrices(chain)
    assert len(mats) == 3 and all(m.shape == (2, 2) for m in mats)


def test_aligned_two_channel_integrates_like_qp(rng):
    """Numerically, through the shared integrator: an aligned start follows q/p exactly."""
    depths = (3, 2)
    tc = derive_two_channel_equations(depths)
    qp = derive_qp_equations(depths)
    S_values = np.array([2.0, 0.7])
    q0 = rng.uniform(0.2, 0.5, size=(2, 2))
    p0 = rng.uniform(0.01, 0.1, size=(2, 2))
    qp_state = np.stack([q0[0], p0[0], q0[1], p0[1]])
    values = {name: np.zeros(2) for name in tc.state_names}
    values["A_1_1"], values["M_1_2_11"], values["B_1_1"] = q0[0], q0[0], p0[0]
    values["A_2_1"], values["B_2_1"] = q0[1], p0[1]
    tc_state = np.stack([values[n] for n in tc.state_names])
    a = integrate(qp, qp_state, S_values, 15.0, rtol=1e-10, atol=1e-12)
    b = integrate(tc, tc_state, S_values, 15.0, rtol=1e-10, atol=1e-12)
    assert np.max(np.abs(a.K - b.K)) < 1e-7
    assert np.allclose(a.K[-1].sum(axis=0), S_values, atol=1e-4)
    # the second channel stays zero
    extra = [tc.state_names.index(n) for n in ("A_1_2", "M_1_2_22", "B_2_2")]
    assert np.max(np.abs(b.state[:, extra])) < 1e-12


def test_generic_two_channel_start_conserves_invariants_and_differs_from_qp(rng):
    depths = (3,)
    tc = derive_two_channel_equations(depths)
    state = np.array([[0.5], [0.0], [0.5], [0.0], [0.0], [0.5], [0.0], [0.5]])  # a=(s,0), M=sI, b=(0,s)
    state = state + 0.01 * rng.standard_normal(state.shape)
    traj = integrate(tc, state, [1.5], 20.0, rtol=1e-10, atol=1e-12)
    assert np.max(traj.invariant_drift) < 1e-7
    assert abs(traj.K[-1].sum() - 1.5) < 1e-4


@pytest.mark.parametrize("name", ["trunk_cross_skip", "two_stream_cross"])
def test_node_form_matrix_gradients_match_the_path_sums_on_graphs(name):
    # Blocks of 2 x 2 on every hidden edge of a graph with merges, skips and cross edges:
    # dK/dW from the node form against K written out as a sum over paths here.
    graph = GraphArchitecture.from_toml(EXAMPLES / f"{name}.toml")
    dim = {node: 2 for node in graph.hidden_nodes} | {INPUT: 1, OUTPUT: 1}
    weights = {(u, v): sp.Matrix(dim[v], dim[u], lambda i, j, u=u, v=v: sp.Symbol(f"W_{u}_{v}_{i}{j}"))
               for u, v in graph.edges}
    gradients = total_strength_gradients(graph, weights)
    K = 0
    for path in graph.paths:
        product = sp.eye(1)
        for edge in path:
            product = weights[edge] * product
        K += product[0, 0]
    K = sp.expand(K)
    for edge, W in weights.items():
        for index, w in enumerate(W):
            assert sp.expand(gradients[edge][index] - sp.diff(K, w)) == 0, (edge, index)


def test_node_form_matrix_gradients_refuse_shapes_that_do_not_chain():
    graph = GraphArchitecture(edges=[("x", "h"), ("h", "y")])
    with pytest.raises(ConfigError, match="weights: edge h->y has 3 columns"):
        total_strength_gradients(graph, {("x", "h"): sp.ones(2, 1), ("h", "y"): sp.ones(1, 3)})
    with pytest.raises(ConfigError, match="weights: no matrix for edge"):
        total_strength_gradients(graph, {("x", "h"): sp.ones(2, 1)})
