"""The phase-plane path: q/p initial states integrated through the race form.

``integrate_race_form`` integrates one variable per pathway with each member's own
``c_a = q_a^2 - p_a^2``. It is checked against the race oracle (no ODE solver), against
the q/p equations integrated at a tight tolerance, and against mpmath's Taylor-series
solver; a race form run with the wrong ``c`` must fail the same checks.
"""

import mpmath
import numpy as np
import pytest

from pathdyn.errors import ConfigError
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.initial import draw_initial_state, qp_initial_state
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.phase_plane import compute_phase_panel, integrate_race_form
from pathdyn.numerics.race import race_final_strengths
from pathdyn.theory.reduced import reduce_to_modes

ORACLE_RTOL = 1e-8  # final K vs race oracle, relative to max S (as tests/test_race.py)
QP_RTOL = 1e-8  # K(t) vs the q/p equations at TIGHT, relative to S
MPMATH_RTOL = 1e-9  # K(t) vs the mpmath Taylor reference, relative to S
TIGHT = {"rtol": 1e-12, "atol": 1e-14}


def _forms(depths):
    qp = compile_rhs(reduce_to_modes(depths))
    race = compile_rhs(reduce_to_modes(depths, model="race"))
    return qp, race


def test_race_form_matches_race_oracle(rng):
    """Random unequal depths 1-13, 1-4 pathways, 3 modes, c_a drawn per pathway and mode."""
    worst = 0.0
    for _ in range(5):
        M = int(rng.integers(1, 5))
        depths = tuple(int(d) for d in rng.choice(np.arange(1, 14), size=M, replace=False))
        p0 = rng.normal(0.0, 0.3, size=(M, 3))
        q0 = np.sqrt(p0**2 + rng.uniform(0.2, 2.0, size=(M, 3)))
        S = rng.uniform(0.5, 5.0, size=3)
        qp, race = _forms(depths)
        traj = integrate_race_form(race, qp_initial_state(qp, q0, p0), S, 400.0, qp_equations=qp,
                                   loss_tol=1e-26, **TIGHT)
        assert traj.success and "converged" in traj.message, (depths, traj.message)
        oracle = race_final_strengths(depths, q0, p0, S)
        worst = max(worst, float(np.max(np.abs(traj.K[-1] - oracle)) / S.max()))
    assert worst < ORACLE_RTOL


@pytest.mark.parametrize("depth", [2, 3, 8, 13])
def test_race_form_matches_qp_equations_on_the_phase_plane(depth):
    """The phase-plane setting (S = 10, c = 1, t in [0, 10]) at both initial scales, K(t) per member."""
    qp, race = _forms((depth, depth))
    y0 = np.concatenate([draw_initial_state(qp, 1, s, seed=row, c=1.0, batch=(20,)) for row, s in
                         enumerate((0.5, 0.05))])
    times = np.linspace(0.0, 10.0, 41)
    reference = integrate(qp, y0, [10.0], 10.0, t_eval=times, method="Radau", **TIGHT).K
    fast = integrate_race_form(race, y0, [10.0], 10.0, t_eval=times, qp_equations=qp, **TIGHT)
    assert fast.K.shape == reference.shape
    assert np.max(np.abs(fast.K - reference)) / 10.0 < QP_RTOL


def test_race_form_matches_mpmath_taylor_reference(seed):
    depths = (3, 4)
    rng = np.random.default_rng(seed)
    p0 = rng.uniform(0.05, 0.2, size=2)
    q0 = np.sqrt(p0**2 + rng.uniform(0.5, 1.5, size=2))
    S, times = 2.5, [0.5, 1.0, 2.0]
    with mpmath.workdps(25):
        def rhs(t, y):
            K = [y[0] ** 2 * y[1], y[2] ** 3 * y[3]]
            e = S - K[0] - K[1]
            return [y[0] * y[1] * e, y[0] ** 2 * e, y[2] ** 2 * y[3] * e, y[2] ** 3 * e]

        solution = mpmath.odefun(rhs, 0, [mpmath.mpf(q0[0]), mpmath.mpf(p0[0]), mpmath.mpf(q0[1]), mpmath.mpf(p0[1])])
        reference = []
        for t in times:
            y = solution(t)
            reference.append([float(y[0] ** 2 * y[1]), float(y[2] ** 3 * y[3])])
    qp, race = _forms(depths)
    traj = integrate_race_form(race, qp_initial_state(qp, q0[:, None], p0[:, None]), [S], 2.0, t_eval=times,
                               qp_equations=qp, **TIGHT)
    assert np.max(np.abs(traj.K[:, :, 0] - np.array(reference))) / S < MPMATH_RTOL


def test_race_form_with_a_wrong_c_is_caught(rng):
    """Members with different c_a: one shared c = 1 (not each member's own) fails the q/p check."""
    qp, race = _forms((8, 8))
    p0 = rng.normal(0.0, 0.3, size=(30, 2, 1))
    q0 = np.sqrt(p0**2 + rng.uniform(0.5, 1.5, size=p0.shape))
    y0 = qp_initial_state(qp, q0, p0)
    times = np.linspace(0.0, 5.0, 21)
    reference = integrate(qp, y0, [10.0], 5.0, t_eval=times, method="Radau", **TIGHT).K
    good = integrate_race_form(race, y0, [10.0], 5.0, t_eval=times, qp_equations=qp, **TIGHT).K
    wrong = integrate(race, p0, [10.0], 5.0, t_eval=times, parameters={"c_1": 1.0, "c_2": 1.0}, **TIGHT).K
    assert np.max(np.abs(good - reference)) / 10.0 < QP_RTOL
    assert np.max(np.abs(wrong - reference)) / 10.0 > 1e3 * QP_RTOL


def test_race_form_refuses_states_off_its_domain():
    qp, race = _forms((3, 3))
    y0 = qp_initial_state(qp, np.array([[1.0], [-1.2]]), np.array([[0.1], [0.2]]))  # q_2 < 0
    with pytest.raises(ConfigError, match="q_2 > 0"):
        integrate_race_form(race, y0, [1.0], 1.0, qp_equations=qp)
    y0 = qp_initial_state(qp, np.array([[0.5], [1.0]]), np.array([[0.6], [0.2]]))  # c_1 < 0
    with pytest.raises(ConfigError, match="q_1\\^2 - p_1\\^2 > 0"):
        integrate_race_form(race, y0, [1.0], 1.0, qp_equations=qp)
    with pytest.raises(ConfigError, match="race_equations"):
        integrate_race_form(qp, y0, [1.0], 1.0, qp_equations=qp)


def test_phase_panel_through_race_form_equals_qp_panel():
    qp, race = _forms((13, 13))
    slow = compute_phase_panel(qp, 0.5, num_members=10, seed=3, grid_points=3, num_points=11, **TIGHT)
    fast = compute_phase_panel(qp, 0.5, num_members=10, seed=3, grid_points=3, num_points=11, race_equations=race,
                               **TIGHT)
    assert np.max(np.abs(fast.K - slow.K)) / 10.0 < QP_RTOL
