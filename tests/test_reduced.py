"""Symbolic identities of the reduced equations, and checks against the unreduced flow."""

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

from pathdyn.theory.reduced import (
    derive_layer_equations,
    derive_qp_equations,
    derive_race_equations,
    is_identically_zero,
    layer_symbol,
    qp_symbols,
    race_closed_form_d2,
    race_potential,
    reduce_to_modes,
)

S = sp.Symbol("S", positive=True)


@pytest.mark.parametrize("depths", [(2,), (2, 3), (1, 4, 7), (13, 2, 5, 3, 1)])
def test_qp_equations_are_the_papers(depths):
    eqs = derive_qp_equations(depths)
    error = S - sum(
        (qp_symbols(a)[0] ** (d - 1) * qp_symbols(a)[1]) if d >= 2 else qp_symbols(a)[1]
        for a, d in enumerate(depths, start=1)
    )
    for a, depth in enumerate(depths, start=1):
        q, p = qp_symbols(a)
        if depth >= 2:
            assert is_identically_zero(eqs.rhs_of(q) - q ** (depth - 2) * p * error)
            assert is_identically_zero(eqs.rhs_of(p) - q ** (depth - 1) * error)
        else:
            assert is_identically_zero(eqs.rhs_of(p) - error)


def test_qp_restriction_is_invariant_for_every_layer():
    """Each of the first D-1 layer equations, restricted, equals the q equation."""
    depths = (4, 3)
    layer = derive_layer_equations(depths)
    qp = derive_qp_equations(depths)
    for a, depth in enumerate(depths, start=1):
        q, p = qp_symbols(a)
        sub = {layer_symbol(b, d): (qp_symbols(b)[0] if d < db else qp_symbols(b)[1])
               for b, db in enumerate(depths, start=1) for d in range(1, db + 1)}
        for d in range(1, depth):
            restricted = layer.rhs_of(layer_symbol(a, d)).xreplace(sub)
            assert is_identically_zero(restricted - qp.rhs_of(q))


def test_layer_equations_are_minus_the_gradient():
    depths = (3, 2)
    eqs = derive_layer_equations(depths)
    # independent: expand the loss and differentiate it directly
    K = [sp.Mul(*[layer_symbol(a, d) for d in range(1, D + 1)]) for a, D in enumerate(depths, start=1)]
    loss = sp.expand((S - sum(K)) ** 2 / 2)
    for x, f in zip(eqs.state, eqs.rhs):
        assert sp.expand(f + sp.diff(loss, x)) == 0


@pytest.mark.parametrize("depths", [(2, 3), (5,), (1, 2)])
def test_conserved_quantities(depths):
    layer = derive_layer_equations(depths)
    qp = derive_qp_equations(depths)
    # s_i^2 - s_j^2 for every pair: D_a - 1 independent ones per pathway
    assert len(layer.invariants) == sum(d - 1 for d in depths)
    for a, depth in enumerate(depths, start=1):
        for i in range(1, depth + 1):
            for j in range(i + 1, depth + 1):
                expr = layer_symbol(a, i) ** 2 - layer_symbol(a, j) ** 2
                assert is_identically_zero(layer.time_derivative(expr))
    expected = {sp.expand(qp_symbols(a)[0] ** 2 - qp_symbols(a)[1] ** 2)
                for a, d in enumerate(depths, start=1) if d >= 2}
    found = {sp.expand(inv.expr) for inv in qp.invariants}
    assert found == expected
    for inv in qp.invariants:
        assert sp.expand(qp.time_derivative(inv.expr)) == 0


def test_invariant_check_catches_a_non_invariant():
    """A wrong candidate (q^2 + p^2) has a non-zero derivative: the check can fail."""
    qp = derive_qp_equations((3,))
    q, p = qp_symbols(1)
    assert not is_identically_zero(qp.time_derivative(q**2 + p**2))


def _numeric(eqs):
    f = sp.lambdify([eqs.state, eqs.parameters], list(eqs.rhs), "numpy")
    return lambda y, params: np.array(f(y, params), dtype=float)


@pytest.mark.parametrize("depths", [(2, 3), (4, 2, 5)])
def test_race_form_matches_qp_on_the_invariant_set(depths, rng):
    qp = derive_qp_equations(depths)
    race = derive_race_equations(depths)
    f_qp, f_race = _numeric(qp), _numeric(race)
    for _ in range(5):
        p = rng.uniform(-1, 1, len(depths))
        c = rng.uniform(0.1, 1.0, len(depths))
        q = np.sqrt(p**2 + c)
        y = np.ravel(np.column_stack([q, p]))
        s_val = 2.0
        dqp = f_qp(y, [s_val]).reshape(-1, 2)
        drace = f_race(p, [s_val, *c])
        np.testing.assert_allclose(drace, dqp[:, 1], rtol=1e-12)


@pytest.mark.parametrize("depth", [2, 3, 4, 6])
def test_race_potential_is_the_antiderivative(depth):
    F, p, c = race_potential(depth)
    integrand = (p**2 + c) ** sp.Rational(-(depth - 1), 2)
    for p_val, c_val in [("3/10", "1/2"), ("-6/5", "2"), ("5/2", "1/10")]:
        p_val, c_val = sp.Rational(p_val), sp.Rational(c_val)
        derivative = sp.diff(F, p).subs({p: p_val, c: c_val}).evalf(30)
        expected = integrand.subs({p: p_val, c: c_val}).evalf(30)
        assert abs(derivative - expected) < 1e-25
    assert F.subs(p, 0) == 0


def test_race_is_common_across_pathways_along_the_unreduced_flow():
    """Integrate the per-layer flow (not the reduction) and check F_a(p_a) - F_a(p_a(0))
    is the same function of time for every pathway, with F from race_potential."""
    depths = (2, 3)
    layer = derive_layer_equations(depths)
    f = _numeric(layer)
    # initial strengths on the q/p set, distinct c per pathway
    y0 = np.array([0.3, 0.1, 0.25, 0.25, 0.05])  # s_1_1=q1, s_1_2=p1, s_2_1=s_2_2=q2, s_2_3=p2
    sol = solve_ivp(lambda t, y: f(y, [2.0]), (0, 6), y0, rtol=1e-11, atol=1e-13, dense_output=True)
    ts = np.linspace(0, 6, 25)
    Y = sol.sol(ts)
    G = []
    for (qi, pi), depth in zip([(0, 1), (2, 4)], depths):
        F, p, c = race_potential(depth)
        c_val = y0[qi] ** 2 - y0[pi] ** 2
        Fn = sp.lambdify([p, c], F, "mpmath")
        G.append(np.array([float(Fn(Y[pi, k], c_val) - Fn(y0[pi], c_val)) for k in range(len(ts))]))
    assert np.max(np.abs(G[0])) > 0.5  # the race actually ran
    np.testing.assert_allclose(G[0], G[1], atol=1e-8)


def test_d2_closed_form_against_integration():
    """K = (c/2) sinh(2 theta), theta = asinh(p0/sqrt c) + G(t), G from the shared race."""
    forms = race_closed_form_d2()
    theta, c = forms["theta"], forms["c"]
    K_of = sp.lambdify([theta, c], forms["K"], "numpy")
    layer = derive_layer_equations((2, 2))
    f = _numeric(layer)
    y0 = np.array([0.4, 0.05, 0.3, -0.02])
    sol = solve_ivp(lambda t, y: f(y, [1.5]), (0, 8), y0, rtol=1e-11, atol=1e-13, dense_output=True)
    ts = np.linspace(0, 8, 30)
    Y = sol.sol(ts)
    c1 = y0[0] ** 2 - y0[1] ** 2
    c2 = y0[2] ** 2 - y0[3] ** 2
    # G(t) read off pathway 1, then pathway 2 predicted in closed form
    G = np.arcsinh(Y[1] / np.sqrt(c1)) - np.arcsinh(y0[1] / np.sqrt(c1))
    K2 = K_of(np.arcsinh(y0[3] / np.sqrt(c2)) + G, c2)
    np.testing.assert_allclose(K2, Y[2] * Y[3], atol=1e-8)
    assert np.ptp(K2) > 0.2


def test_reduce_to_modes_rejects_unknown_model():
    with pytest.raises(ValueError, match="model: unknown reduced model 'xyz'"):
        reduce_to_modes((2,), model="xyz")


def test_reduce_to_modes_names_every_model():
    assert reduce_to_modes((2, 3), model="two-channel").kind == "two-channel"
    assert reduce_to_modes((2, 3), model="race").kind == "race"
    assert reduce_to_modes((2, 3)).kind == "qp"
