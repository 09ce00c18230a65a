"""The batched Rosenbrock integrator (integrate(method="rosenbrock")): per-member steps.

Checked like the default method in test_race.py: against the race oracle, the mpmath
Taylor reference and the conserved quantities, plus blow-up, convergence stop, the
batched LU and the power chains of the compiled functions. A loose-tolerance run must
fail the same checks.
"""

import importlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from pathdyn.errors import IntegrationError
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.initial import draw_initial_state, qp_initial_state
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.race import race_final_strengths
from pathdyn.numerics.rosenbrock import lu_factor, lu_solve
from pathdyn.theory.modes import ModeEquations, mode_symbols
from pathdyn.theory.reduced import reduce_to_modes

integrate_module = importlib.import_module("pathdyn.numerics.solvers")


def _sibling(name):
    """Load a sibling test module (pytest runs with --import-mode=importlib) for its helpers."""
    spec = importlib.util.spec_from_file_location(f"_rosenbrock_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


test_race = _sibling("test_race")  # the same tolerances and reference as the default method's tests
_handwritten_qp = _sibling("test_integrate")._handwritten_qp

ORACLE_RTOL = test_race.ORACLE_RTOL
DRIFT_TOL = test_race.DRIFT_TOL
MPMATH_RTOL = test_race.MPMATH_RTOL
TIGHT = dict(test_race.TIGHT, method="rosenbrock")


def test_matches_race_oracle_on_random_configurations(rng):
    """Up to 4 pathways, unequal depths up to 13, 3 modes each."""
    test_race.check_random_configurations(rng, 3, TIGHT)


@pytest.mark.slow
def test_matches_race_oracle_on_more_configurations(seed):
    test_race.check_random_configurations(np.random.default_rng(seed + 200), 20, TIGHT)


def test_ensemble_matches_race_oracle_per_member(rng):
    traj = test_race.check_ensemble(rng, 100, TIGHT)
    # Per-member steps: members took different numbers of steps, fewer than sweeps x members.
    assert traj.stats["steps"] < traj.stats["sweeps"] * 200


@pytest.mark.parametrize("depths, seed_offset", [((2, 5), 0), pytest.param((3, 4), 1, marks=pytest.mark.slow)])
def test_output_times_match_mpmath_taylor_reference(depths, seed_offset, seed):
    """Dense output (cubic Hermite) at given times against mpmath's Taylor solver."""
    rng = np.random.default_rng(seed + seed_offset)
    p0 = rng.uniform(0.05, 0.2, size=len(depths))
    q0 = np.sqrt(p0**2 + 1.0)
    S, times = 2.5, [0.5, 0.9, 1.0, 1.7, 2.0]
    reference = test_race._mpmath_reference(depths, q0, p0, S, times)
    eqs = reduce_to_modes(depths)
    traj = integrate(eqs, qp_initial_state(eqs, q0[:, None], p0[:, None]), [S], 2.0, t_eval=times, **TIGHT)
    np.testing.assert_array_equal(traj.t, times)
    assert np.max(np.abs(traj.K[:, :, 0] - reference)) / S < MPMATH_RTOL


def test_agrees_with_lsoda_on_a_trajectory(rng):
    eqs = reduce_to_modes((2, 8))
    y0 = draw_initial_state(eqs, 3, 0.1, seed=rng, batch=(20,))
    a = integrate(eqs, y0, [3.0, 1.5, 0.7], 30.0, num_points=31, **test_race.TIGHT)
    b = integrate(eqs, y0, [3.0, 1.5, 0.7], 30.0, num_points=31, **TIGHT)
    assert b.K.shape == a.K.shape and b.loss.shape == a.loss.shape and b.state.shape == a.state.shape
    assert np.max(np.abs(a.K - b.K)) < 1e-9


def test_loose_tolerance_is_caught(seed):
    """The same checks reject the method at rtol 1e-3 (the tests can fail)."""
    rng = np.random.default_rng(seed)
    depths, q0, p0 = (2, 6), np.full((2, 2), 1.05), np.full((2, 2), 0.3)
    S = np.array([3.0, 1.2])
    eqs = reduce_to_modes(depths)
    y0 = qp_initial_state(eqs, q0 + rng.uniform(0, 0.01, q0.shape), p0)
    q_init = y0[[0, 2], :]
    oracle = race_final_strengths(depths, q_init, p0, S)
    loose = integrate(eqs, y0, S, 60.0, method="rosenbrock", rtol=1e-3, atol=1e-6)
    assert test_race.oracle_error(loose.K[-1], oracle, S) > ORACLE_RTOL
    assert loose.invariant_drift.max() > DRIFT_TOL
    good = integrate(eqs, y0, S, 60.0, **TIGHT)
    assert test_race.oracle_error(good.K[-1], oracle, S) < ORACLE_RTOL and good.invariant_drift.max() < DRIFT_TOL


def test_convergence_stops_each_member():
    eq = reduce_to_modes((2, 3))
    y0 = draw_initial_state(eq, 2, 0.1, seed=1, batch=(5,))
    tr = integrate(eq, y0, [2.0, 1.0], 100.0, loss_tol=1e-10, method="rosenbrock")
    assert tr.t[-1] < 100.0 and "converged" in tr.message
    assert tr.stats["t_converged"] == tr.t[-1]
    assert tr.loss[-1].max() <= 1e-10
    assert np.all(np.diff(tr.t) > 0)


def test_blowup_is_an_integration_error():
    """dx/dt = x^2 from x = 1 diverges at t = 1."""
    x, S = sp.Symbol("x"), mode_symbols()
    explode = ModeEquations(kind="custom", depths=(1,), state=(x,), rhs=(x**2,), parameters=(S,), strengths=(x,))
    with pytest.raises(IntegrationError, match="blow-up"):
        integrate(explode, [[[1.0]], [[0.5]]], [1.0], 2.0, method="rosenbrock", blowup_threshold=1e6)


@pytest.mark.slow
def test_blowup_with_the_default_threshold_is_an_integration_error():
    x, S = sp.Symbol("x"), mode_symbols()
    explode = ModeEquations(kind="custom", depths=(1,), state=(x,), rhs=(x**2,), parameters=(S,), strengths=(x,))
    with pytest.raises(IntegrationError, match="blow-up"):
        integrate(explode, [[1.0]], [1.0], 2.0, method="rosenbrock")


def test_chunks_do_not_change_the_result(monkeypatch):
    eq = reduce_to_modes((3, 5))
    y0 = draw_initial_state(eq, 2, 0.2, seed=3, batch=(20,))
    whole = integrate(eq, y0, [2.0, 1.0], 20.0, num_points=11, method="rosenbrock", loss_tol=1e-14)
    monkeypatch.setattr(integrate_module, "ROSENBROCK_CHUNK", 7)
    chunked = integrate(eq, y0, [2.0, 1.0], 20.0, num_points=11, method="rosenbrock", loss_tol=1e-14)
    np.testing.assert_array_equal(whole.t, chunked.t)
    np.testing.assert_allclose(whole.K, chunked.K, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("n", [1, 2, 4, 6])
def test_batched_lu_matches_numpy(n, rng):
    A = rng.normal(size=(300, n, n))
    if n > 1:
        A[:100, 0, 0] = 0.0  # needs a row swap
        A[100:150, 1, 1] = 1e-14
    b = rng.normal(size=(300, n))
    stack = np.ascontiguousarray(A.transpose(1, 2, 0))
    x = lu_solve(lu_factor(stack), b.T.copy()).T
    np.testing.assert_allclose(x, np.linalg.solve(A, b[..., None])[..., 0], rtol=1e-9, atol=1e-9)


def test_power_chains_match_plain_powers(rng):
    """Large batches use repeated multiplication for q**k; same values as numpy's power."""
    f = compile_rhs(reduce_to_modes((13, 4)))
    y = rng.uniform(0.3, 1.4, size=(f.num_state, 5000))
    S = rng.uniform(0.5, 3.0, size=5000)
    expected = _handwritten_qp(y, S, (13, 4))
    np.testing.assert_allclose(f(0.0, y, S), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f(0.0, y[:, :10], S[:10]), expected[:, :10], rtol=1e-12, atol=1e-12)
    J = f.jacobian(0.0, y, S)
    np.testing.assert_allclose(J[:, :, :10], f.jacobian(0.0, y[:, :10], S[:10]), rtol=1e-12, atol=1e-12)



def test_lsoda_through_odeint_matches_solve_ivp():
    """Without events LSODA runs through odeint; with a (never firing) event through solve_ivp."""
    eq = reduce_to_modes((2, 13))
    y0 = draw_initial_state(eq, 2, 0.1, seed=4, batch=(30,))
    fast = integrate(eq, y0, [3.0, 1.0], 10.0, num_points=21, rtol=1e-10, atol=1e-12)
    stepped = integrate(eq, y0, [3.0, 1.0], 10.0, num_points=21, rtol=1e-10, atol=1e-12, loss_tol=1e-300)
    assert "converged" not in stepped.message and fast.message == stepped.message
    np.testing.assert_array_equal(fast.t, stepped.t)
    assert np.max(np.abs(fast.K - stepped.K)) < 1e-8
    assert fast.stats["nfev"] > 0 and fast.invariant_drift.max() < DRIFT_TOL
    late = integrate(eq, y0, [3.0, 1.0], 10.0, t_eval=[2.0, 5.0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(late.K, fast.K[[4, 10]], rtol=0, atol=1e-8)
