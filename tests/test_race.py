"""The race oracle, and the integrator checked against it and against mpmath.

The oracle (pathdyn.numerics.race) calls no ODE integrator: it evaluates the race
potential in closed/elementary form and root-finds one scalar equation per mode. The
same check functions are applied to deliberately poor integrations, which must fail.
"""

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from pathdyn.errors import ConfigError
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.initial import qp_initial_state
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.race import inverse_race_potential, race_final_strengths, race_potential_numeric
from pathdyn.theory.reduced import race_potential, reduce_to_modes

#: Tolerances are data: what each check demands.
ORACLE_RTOL = 1e-8  # final K vs race oracle, relative to max S
DRIFT_TOL = 1e-9  # absolute drift of q^2 - p^2
MPMATH_RTOL = 1e-9  # K(t) vs the mpmath Taylor reference
TIGHT = {"rtol": 1e-12, "atol": 1e-14}  # integrator settings used for the accuracy claims

P_VALUES = np.array([-3.0, -0.4, 0.0, 0.1, 0.7, 2.0, 5.0])


def oracle_error(K_final, K_oracle, S) -> float:
    """Largest |K - K_oracle| relative to the largest singular value."""
    return float(np.max(np.abs(K_final - K_oracle)) / np.max(S))


def random_configuration(rng, max_pathways=4, max_depth=13, modes=3):
    M = int(rng.integers(1, max_pathways + 1))
    depths = tuple(int(d) for d in rng.choice(np.arange(1, max_depth + 1), size=M, replace=False))
    p0 = rng.normal(0.0, 0.3, size=(M, modes))
    q0 = np.sqrt(p0**2 + rng.uniform(0.2, 2.0, size=(M, modes)))
    S = rng.uniform(0.5, 5.0, size=modes)
    return depths, q0, p0, S


@pytest.mark.parametrize("depth", [2, 3, 4, 7, 13])
@pytest.mark.parametrize("c", [0.3, 1.0, 2.5])
def test_race_potential_three_ways_agree(depth, c):
    """Elementary recursion vs scipy hyp2f1 vs mpmath quadrature (30 digits)."""
    elementary = race_potential_numeric(P_VALUES, depth, c)
    np.testing.assert_allclose(elementary, race_potential_numeric(P_VALUES, depth, c, "mpmath"), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(elementary, race_potential_numeric(P_VALUES, depth, c, "hyp2f1"), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_race_potential_matches_theory_layer(depth):
    """The numeric F equals the sympy-derived race_potential of the theory layer."""
    F, p, c = race_potential(depth)
    exact = sp.lambdify((p, c), F, "mpmath")
    for value in P_VALUES:
        assert race_potential_numeric(value, depth, 0.7) == pytest.approx(float(exact(value, 0.7)), rel=1e-13, abs=1e-14)


def test_depth_two_closed_form():
    assert race_potential_numeric(1.3, 2, 0.5) == pytest.approx(math.asinh(1.3 / math.sqrt(0.5)), rel=1e-15)
    assert inverse_race_potential(0.8, 2, 0.5) == pytest.approx(math.sqrt(0.5) * math.sinh(0.8), rel=1e-15)


@pytest.mark.parametrize("depth", [1, 2, 3, 6, 13])
def test_inverse_race_potential_round_trip(depth):
    for value in P_VALUES[np.abs(P_VALUES) < 3]:
        F = race_potential_numeric(value, depth, 1.2)
        assert inverse_race_potential(F, depth, 1.2) == pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("depth", [3, 7])
def test_inverse_at_the_edge_of_the_range_is_infinite(depth):
    """Just inside |F| < F(inf) the root is beyond sinh's float range: +-inf, not an overflow."""
    from pathdyn.numerics.race import _sech_integral_limit

    edge = math.nextafter(_sech_integral_limit(depth - 2), 0.0)
    assert inverse_race_potential(edge, depth, 1.0) == math.inf
    assert inverse_race_potential(-edge, depth, 1.0) == -math.inf
    assert inverse_race_potential(edge, depth, 1.0, strict=False) == math.inf


def test_inverse_outside_range_is_an_error():
    with pytest.raises(ConfigError, match="outside the range"):
        inverse_race_potential(10.0, 5, 1.0)
    with pytest.raises(ConfigError, match="c > 0"):
        race_potential_numeric(0.3, 4, -1.0)


def test_oracle_allocations_sum_to_S_and_favour_the_deeper_pathway():
    """Symmetric small init: the deeper pathway wins most of every mode (the paper's result)."""
    depths = (2, 8)
    p0 = np.full((2, 2), 0.05)
    q0 = np.sqrt(p0**2 + 1.0)
    K = race_final_strengths(depths, q0, p0, [3.0, 1.0])
    np.testing.assert_allclose(K.sum(axis=0), [3.0, 1.0], rtol=1e-12)
    assert np.all(K[1] > K[0])


def check_random_configurations(rng, count, settings):
    """``count`` random configurations (up to 4 pathways, unequal depths up to 13, 3 modes)
    integrated with ``settings`` to convergence: each within ORACLE_RTOL and DRIFT_TOL."""
    worst = 0.0
    for _ in range(count):
        depths, q0, p0, S = random_configuration(rng)
        eqs = reduce_to_modes(depths)
        oracle = race_final_strengths(depths, q0, p0, S)
        traj = integrate(eqs, qp_initial_state(eqs, q0, p0), S, 400.0, loss_tol=1e-26, **settings)
        assert traj.success and "converged" in traj.message, (depths, traj.message)
        worst = max(worst, oracle_error(traj.K[-1], oracle, S))
        assert traj.invariant_drift.max(initial=0.0) < DRIFT_TOL, (depths, traj.invariant_drift)
    assert worst < ORACLE_RTOL


def check_ensemble(rng, members, settings):
    """One vectorised call for ``members`` x 2 modes, depths (3, 11); every member against
    the oracle. Returns the trajectory."""
    depths = (3, 11)
    eqs = reduce_to_modes(depths)
    p0 = rng.normal(0.0, 0.3, size=(members, 2, 2))
    q0 = np.sqrt(p0**2 + rng.uniform(0.5, 1.5, size=p0.shape))
    S = np.array([4.0, 1.5])
    traj = integrate(eqs, qp_initial_state(eqs, q0, p0), S, 200.0, loss_tol=1e-26, **settings)
    assert oracle_error(traj.K[-1], race_final_strengths(depths, q0, p0, S), S) < ORACLE_RTOL
    assert traj.invariant_drift.max(initial=0.0) < DRIFT_TOL
    return traj


def test_integrator_matches_race_oracle(rng):
    """Seeded random configurations: up to 4 pathways, unequal depths up to 13, 3 modes each."""
    check_random_configurations(rng, 6, TIGHT)


def test_ensemble_matches_race_oracle_per_member(rng):
    """One vectorised call for 200 members x 2 modes; each member is checked separately."""
    check_ensemble(rng, 200, TIGHT)


def _mpmath_reference(depths, q0, p0, S, times, dps=25):
    """K(t) of one mode from mpmath's Taylor-series ODE solver at ``dps`` digits."""
    with mpmath.workdps(dps):
        def rhs(t, y):
            K, i = [], 0
            for d in depths:
                K.append(y[i] ** (d - 1) * y[i + 1])
                i += 2
            e = S - sum(K)
            out, i = [], 0
            for d in depths:
                out += [y[i] ** (d - 2) * y[i + 1] * e, y[i] ** (d - 1) * e]
                i += 2
            return out

        y0 = []
        for q, p in zip(q0, p0):
            y0 += [mpmath.mpf(q), mpmath.mpf(p)]
        solution = mpmath.odefun(rhs, 0, y0)
        out = []
        for t in times:
            y = solution(t)
            out.append([float(y[2 * a] ** (d - 1) * y[2 * a + 1]) for a, d in enumerate(depths)])
    return np.array(out)


@pytest.mark.parametrize("depths, seed_offset", [((2, 5), 0), ((3, 4), 1)])
def test_integrator_matches_mpmath_taylor_reference(depths, seed_offset, seed):
    rng = np.random.default_rng(seed + seed_offset)
    p0 = rng.uniform(0.05, 0.2, size=len(depths))
    q0 = np.sqrt(p0**2 + 1.0)
    S, times = 2.5, [0.5, 1.0, 2.0]
    reference = _mpmath_reference(depths, q0, p0, S, times)
    eqs = reduce_to_modes(depths)
    traj = integrate(eqs, qp_initial_state(eqs, q0[:, None], p0[:, None]), [S], 2.0, t_eval=times, **TIGHT)
    assert np.max(np.abs(traj.K[:, :, 0] - reference)) / S < MPMATH_RTOL


def _forward_euler(eqs, y0, S, t_max, dt):
    """The straightforward scheme (the paper's code): a fixed-step Euler loop."""
    f = compile_rhs(eqs)
    y = np.array(y0, dtype=float)
    for _ in range(int(round(t_max / dt))):
        y = y + dt * f(0.0, y, S)
    return f.strengths(y, S), f.invariants(y, S) - f.invariants(np.asarray(y0, float), S)


def test_poor_integrations_are_caught(seed):
    """The same checks reject forward Euler (dt = 1e-3) and a loose-tolerance RK23."""
    rng = np.random.default_rng(seed)
    depths, q0, p0, S = random_configuration(rng, max_pathways=2, max_depth=6, modes=2)
    depths, q0, p0 = (2, 6), q0[:1].repeat(2, 0), p0[:1].repeat(2, 0)
    eqs = reduce_to_modes(depths)
    y0 = qp_initial_state(eqs, q0, p0)
    oracle = race_final_strengths(depths, q0, p0, S)

    K_euler, drift_euler = _forward_euler(eqs, y0, S, 60.0, 1e-3)
    assert oracle_error(K_euler, oracle, S) > ORACLE_RTOL
    assert np.abs(drift_euler).max() > DRIFT_TOL

    loose = integrate(eqs, y0, S, 60.0, method="RK23", rtol=1e-3, atol=1e-6)
    assert oracle_error(loose.K[-1], oracle, S) > ORACLE_RTOL
    assert loose.invariant_drift.max() > DRIFT_TOL

    good = integrate(eqs, y0, S, 60.0, **TIGHT)
    assert oracle_error(good.K[-1], oracle, S) < ORACLE_RTOL and good.invariant_drift.max() < DRIFT_TOL


def test_oracle_polishes_or_refuses_where_float64_saturates():
    """Deep pathways with small c: float64 loses digits, mpmath Newton restores them, or a clear error."""
    p0 = np.array([[0.02], [0.03]])
    q0 = np.sqrt(p0**2 + 0.01)
    K = race_final_strengths((12, 13), q0, p0, [2.0])
    assert abs(K.sum() - 2.0) < 1e-12
    np.testing.assert_allclose(K, race_final_strengths((12, 13), q0, p0, [2.0], refine_dps=50), rtol=1e-12, atol=1e-20)
    with pytest.raises(ConfigError, match="larger c"):
        race_final_strengths((12, 13), np.sqrt(p0**2 + 1e-3), p0, [2.0])


@pytest.mark.slow
def test_integrator_matches_race_oracle_many_configurations(seed):
    """40 more seeded configurations, 5 modes each (slow tier)."""
    rng = np.random.default_rng(seed + 100)
    for _ in range(40):
        depths, q0, p0, S = random_configuration(rng, modes=5)
        eqs = reduce_to_modes(depths)
        traj = integrate(eqs, qp_initial_state(eqs, q0, p0), S, 2000.0, loss_tol=1e-26, **TIGHT)
        assert "converged" in traj.message, (depths, traj.message)
        assert oracle_error(traj.K[-1], race_final_strengths(depths, q0, p0, S), S) < ORACLE_RTOL, depths
        assert traj.invariant_drift.max(initial=0.0) < DRIFT_TOL, depths


def _batch(rng, members, depths, modes=3):
    p0 = rng.normal(0.0, 0.3, size=(members, len(depths), modes))
    q0 = np.sqrt(p0**2 + rng.uniform(0.3, 1.5, size=p0.shape))
    return q0, p0, rng.uniform(0.5, 5.0, size=modes)


def _polished_error(depths, q0, p0, S) -> float:
    """The batched float64 oracle against its own mpmath Newton polish at 40 digits."""
    fast = race_final_strengths(depths, q0, p0, S)
    polished = race_final_strengths(depths, q0, p0, S, refine_dps=40)
    return oracle_error(fast, polished, S)


@pytest.mark.parametrize("depths", [(1, 3, 6), (2, 9), (4, 7, 13)])
def test_batched_oracle_matches_the_mpmath_polish(rng, depths):
    """All members and modes solved at once agree with a 40-digit Newton polish of each."""
    q0, p0, S = _batch(rng, 4, depths)
    assert _polished_error(depths, q0, p0, S) < 1e-10


def test_a_loose_batched_oracle_fails_the_polish_check(rng, monkeypatch):
    """The check above can fail: stopping the root finders early (and not polishing) is caught."""
    import pathdyn.numerics.race as race

    depths = (1, 3, 6)
    q0, p0, S = _batch(rng, 4, depths)
    assert _polished_error(depths, q0, p0, S) < 1e-10
    monkeypatch.setattr(race, "G_XTOL", 1e-3)
    monkeypatch.setattr(race, "RTOL", 1e-3)
    monkeypatch.setattr(race, "SUM_TOL", 1.0)
    fast = race_final_strengths(depths, q0, p0, S)
    monkeypatch.undo()
    assert oracle_error(fast, race_final_strengths(depths, q0, p0, S, refine_dps=40), S) > 1e-10


def test_batched_oracle_equals_one_mode_at_a_time(rng):
    """Solving a batch gives each problem the answer it gets alone (no cross-talk between members)."""
    depths = (2, 5, 8)
    q0, p0, S = _batch(rng, 5, depths)
    batch = race_final_strengths(depths, q0, p0, S)
    for member in range(5):
        for mode in range(3):
            alone = race_final_strengths(depths, q0[member, :, mode:mode + 1], p0[member, :, mode:mode + 1], S[mode:mode + 1])
            np.testing.assert_allclose(batch[member, :, mode], alone[:, 0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("depth", [2, 3, 4, 6, 13])
def test_inverse_race_potential_is_vectorised(depth):
    """An array of values gives the scalar answers, element by element."""
    c = np.array([0.4, 1.0, 2.2])[:, None]
    values = race_potential_numeric(np.array([-2.0, -0.3, 0.0, 0.5, 1.7]), depth, c)
    inverse = inverse_race_potential(values, depth, c)
    for i, j in np.ndindex(values.shape):
        assert inverse[i, j] == pytest.approx(inverse_race_potential(float(values[i, j]), depth, float(c[i, 0])), rel=1e-14, abs=1e-15)
    np.testing.assert_allclose(inverse, np.broadcast_to([-2.0, -0.3, 0.0, 0.5, 1.7], values.shape), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("S, match", [(-1.0, "singular_values: -1.0"), (0.0, "singular_values: 0.0"),
                                      (float("nan"), "singular_values: nan")])
def test_oracle_refuses_non_positive_singular_values(S, match):
    from pathdyn.errors import DatasetError

    p0 = np.full((2, 1), 0.05)
    with pytest.raises(DatasetError, match=match):
        race_final_strengths((2, 3), np.sqrt(p0**2 + 1.0), p0, [S])


@pytest.mark.parametrize("depths", [(2.7, 3), (0, 3), ("3", 2)])
def test_oracle_refuses_depths_that_are_not_whole_numbers(depths):
    from pathdyn.errors import ArchitectureError

    p0 = np.full((2, 1), 0.05)
    with pytest.raises(ArchitectureError, match="depths: .*whole numbers >= 1"):
        race_final_strengths(depths, np.sqrt(p0**2 + 1.0), p0, [1.0])
