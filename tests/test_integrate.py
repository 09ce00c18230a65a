"""Compiled right-hand sides and the ensemble integrator."""

import numpy as np
import pytest
import sympy as sp

from pathdyn.errors import ConfigError, IntegrationError
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.initial import draw_initial_state, qp_initial_state
from pathdyn.numerics.integrate import integrate
from pathdyn.theory.modes import Invariant, ModeEquations, mode_symbols
from pathdyn.theory.reduced import reduce_to_modes


def _handwritten_qp(y, S, depths):
    """The paper's q/p right-hand side written by hand (independent of sympy)."""
    out, K, i = [], [], 0
    for depth in depths:
        if depth >= 2:
            q, p = y[i], y[i + 1]
            K.append(q ** (depth - 1) * p)
            i += 2
        else:
            K.append(y[i])
            i += 1
    e = S - sum(K)
    i = 0
    for depth in depths:
        if depth >= 2:
            q, p = y[i], y[i + 1]
            out += [q ** (depth - 2) * p * e, q ** (depth - 1) * e]
            i += 2
        else:
            out.append(e)
            i += 1
    return np.array(out)


@pytest.mark.parametrize("depths", [(2,), (1, 3), (2, 5, 9), (13, 4)])
def test_compiled_rhs_matches_handwritten(depths, rng):
    f = compile_rhs(reduce_to_modes(depths))
    y = rng.uniform(0.2, 1.3, size=(f.num_state, 7, 3))
    S = rng.uniform(0.5, 3.0, size=(7, 3))
    np.testing.assert_allclose(f(0.0, y, S), _handwritten_qp(y, S, depths), rtol=1e-12, atol=1e-12)
    assert f.strengths(y, S).shape == (len(depths), 7, 3)
    assert "y[0] = " + f.state_names[0] in f.__doc__


def test_jacobian_matches_finite_differences(rng):
    f = compile_rhs(reduce_to_modes((3, 2, 1)))
    y = rng.uniform(0.3, 1.1, size=(f.num_state, 4))
    S = 2.0
    J = f.jacobian(0.0, y, S)
    h = 1e-6
    for j in range(f.num_state):
        dy = np.zeros_like(y)
        dy[j] = h
        fd = (f(0.0, y + dy, S) - f(0.0, y - dy, S)) / (2 * h)
        np.testing.assert_allclose(J[:, j], fd, rtol=1e-7, atol=1e-8)


def test_integrate_shapes_and_generic_equations(rng):
    """Batch axes, several modes, a custom non-q/p ModeEquations with its own invariant."""
    x, y, S = sp.Symbol("x"), sp.Symbol("y"), mode_symbols()
    e = S - x * y
    custom = ModeEquations(
        kind="custom", depths=(2,), state=(x, y), rhs=(y * e, x * e), parameters=(S,),
        strengths=(x * y,), invariants=(Invariant(1, x**2 - y**2, "balance"),), state_pathway=(1, 1),
    )
    y0 = rng.uniform(0.05, 0.1, size=(3, 2, 2, 4))
    tr = integrate(custom, y0, [4.0, 3.0, 2.0, 1.0], 30.0, num_points=11, rtol=1e-10, atol=1e-12)
    assert tr.K.shape == (11, 3, 2, 1, 4)
    assert tr.loss.shape == (11, 3, 2)
    assert tr.state.shape == (11, 3, 2, 2, 4)
    assert tr.success
    np.testing.assert_allclose(tr.K[-1, ..., 0, :], np.broadcast_to([4.0, 3.0, 2.0, 1.0], (3, 2, 4)), rtol=1e-6)
    assert tr.invariant_drift.shape == (1,) and tr.invariant_drift[0] < 1e-9


def test_convergence_event_stops_early():
    eq = reduce_to_modes((2, 3))
    y0 = draw_initial_state(eq, 2, 0.1, seed=1, batch=(5,))
    tr = integrate(eq, y0, [2.0, 1.0], 100.0, loss_tol=1e-10)
    assert tr.t[-1] < 100.0 and "converged" in tr.message
    assert tr.loss[-1].max() <= 1.01e-10


@pytest.mark.parametrize("method", ["LSODA", "Radau", "DOP853"])
def test_blowup_is_an_integration_error(method):
    """dx/dt = x^2 from x = 1 diverges at t = 1: an error, never NaN or a silent stop."""
    x, S = sp.Symbol("x"), mode_symbols()
    explode = ModeEquations(kind="custom", depths=(1,), state=(x,), rhs=(x**2,), parameters=(S,), strengths=(x,))
    with pytest.raises(IntegrationError, match="blow-up"):
        integrate(explode, [[1.0]], [1.0], 2.0, method=method)


def test_overflow_at_start_is_an_integration_error():
    eq = reduce_to_modes((40,))
    with pytest.raises(IntegrationError, match="overflows"):
        integrate(eq, qp_initial_state(eq, [[1e20]], [[1.0]]), [1.0], 1.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"t_max": -1.0}, "t_max"),
        ({"singular_values": [1.0, 2.0, 3.0]}, "singular_values"),
        ({"method": "Euler"}, "method"),
        ({"parameters": {"c_9": 1.0}}, "unknown"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    eq = reduce_to_modes((2, 2))
    args = {"initial_state": draw_initial_state(eq, 2, 0.1, seed=0), "singular_values": [1.0, 2.0], "t_max": 1.0}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        integrate(eq, **args)


def test_qp_initial_state_shape_errors():
    eq = reduce_to_modes((2, 3))
    with pytest.raises(ConfigError, match="pathways=2"):
        qp_initial_state(eq, np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ConfigError, match="q0 has shape"):
        qp_initial_state(eq, np.ones((2, 2)), np.ones((2, 3)))


def test_stacked_jacobians_match_finite_differences(rng):
    """The banded (LSODA) and sparse (BDF/Radau) Jacobians of the stacked ensemble."""
    from pathdyn.numerics.integrate import _Ensemble

    f = compile_rhs(reduce_to_modes((3, 1, 2)))
    y0 = rng.uniform(0.3, 1.2, size=(3, f.num_state, 2))
    ens = _Ensemble(f, y0, [2.0, 1.0], None)
    N, n = ens.B * ens.n, ens.n
    dense = np.empty((N, N))
    h = 1e-6
    for j in range(N):
        dy = np.zeros(N)
        dy[j] = h
        dense[:, j] = (ens.rhs(0.0, ens.y0 + dy) - ens.rhs(0.0, ens.y0 - dy)) / (2 * h)
    np.testing.assert_allclose(ens.jac_sparse(0.0, ens.y0).toarray(), dense, rtol=1e-6, atol=1e-7)
    banded = ens.jac_banded(0.0, ens.y0)
    unpacked = np.zeros((N, N))
    for i in range(N):
        for j in range(max(0, i - n + 1), min(N, i + n)):
            unpacked[i, j] = banded[n - 1 + i - j, j]
    np.testing.assert_allclose(unpacked, dense, rtol=1e-6, atol=1e-7)


def test_convergence_stop_near_the_rounding_floor_is_not_reported_as_blow_up():
    """loss_tol = 1e-26 is at float64's rounding floor for K ~ 4: scipy's event root-finder
    raised there ("f(a) and f(b) must have different signs"), which surfaced as a false
    blow-up. The run must stop as converged and agree with the race oracle."""
    from pathdyn.numerics import qp_initial_state, race_final_strengths
    from pathdyn.theory import reduce_to_modes

    depths = (8, 12)
    # one of test_race's seeded configurations, written out in full precision
    q0 = np.array([[1.437020666855637, 1.093035799321465, 0.9238470767141372, 1.1708740123809602, 1.45697822229947],
                   [1.4118355793866268, 1.0382356058512745, 0.9121846993314118, 1.2564114259749695,
                    1.2920458485955355]])
    p0 = np.array([[-0.32462296828730397, 0.22536343087660743, -0.1113908227041514, -0.5450920775605181,
                    -0.47313194091706917],
                   [0.21581747008875465, -0.44091505930684677, 0.12805578793202554, -0.1677816043532781,
                    0.6519186113127823]])
    S = np.array([0.9981472357494632, 3.007218523214439, 4.264603421318349, 3.9472437276003105, 3.727059599124888])
    eqs = reduce_to_modes(depths)
    traj = integrate(eqs, qp_initial_state(eqs, q0, p0), S, 2000.0, loss_tol=1e-26, rtol=1e-12, atol=1e-14)
    assert traj.success and traj.message.startswith("converged"), traj.message
    assert traj.t[-1] < 5.0
    oracle = race_final_strengths(depths, q0, p0, S)
    assert np.max(np.abs(traj.K[-1] - oracle) / S) < 1e-8
