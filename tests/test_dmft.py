"""The DMFT of Gaussian pathways: exact reductions, finite networks, continuous time, errors."""

import math

import numpy as np
import pytest

from pathdyn.errors import ConfigError
from pathdyn.numerics.datasets import random_dataset
from pathdyn.numerics.dmft import DMFTInitialOverlaps, _Pathway, solve_dmft, solve_dmft_flow
from pathdyn.validation.network import simulate_gd


def _depth2_recursion(a2, b2, ab, S, eta, steps):
    """Gradient descent of one depth-2 pathway closes exactly on |a|^2, |b|^2, a.b."""
    K = []
    for _ in range(steps + 1):
        K.append(ab)
        e = S - ab
        a2, b2, ab = (a2 + 2 * eta * e * ab + (eta * e) ** 2 * b2,
                      b2 + 2 * eta * e * ab + (eta * e) ** 2 * a2,
                      ab + eta * e * (a2 + b2) + (eta * e) ** 2 * ab)
    return np.array(K)


def test_depth2_is_the_exact_discrete_recursion():
    # A wrong variant (dropping the a.b cross covariance, or the eta^2 terms) is off by
    # >= 1e-3 here; the DMFT must match to rounding.
    overlaps = DMFTInitialOverlaps([[0.3, 0.2]], [[0.5, 0.1]], [[0.1, -0.05]])
    trajectory = solve_dmft([2], [2.0, 0.7], learning_rate=0.05, steps=200, initial_overlaps=overlaps)
    for alpha, S in enumerate([2.0, 0.7]):
        exact = _depth2_recursion(overlaps.input_norm2[0, alpha], overlaps.output_norm2[0, alpha],
                                  overlaps.overlap[0, alpha], S, 0.05, 200)
        assert np.max(np.abs(trajectory.K[:, 0, alpha] - exact)) < 1e-12


def test_depth1_is_linear_relaxation():
    overlaps = DMFTInitialOverlaps([[1.0]], [[1.0]], [[0.2]])
    trajectory = solve_dmft([1], [2.0], learning_rate=0.05, steps=100, initial_overlaps=overlaps)
    exact = 2.0 - (2.0 - 0.2) * (1 - 0.05) ** np.arange(101)
    assert np.max(np.abs(trajectory.K[:, 0, 0] - exact)) < 1e-12


def test_depth2_flow_is_the_qp_flow_from_the_exact_mapping():
    """Continuous-time DMFT at depth 2 = the project's q/p flow with q0^2 + p0^2 = |a|^2 + |b|^2, q0 p0 = a.b."""
    from pathdyn.numerics.compile import compile_rhs
    from pathdyn.numerics.initial import qp_initial_state
    from pathdyn.numerics.integrate import integrate
    from pathdyn.theory.reduced import derive_qp_equations

    a2, b2, ab = 0.09, 0.16, 0.03
    R = a2 + b2
    q0 = (math.sqrt(R + 2 * ab) + math.sqrt(R - 2 * ab)) / 2
    p0 = (math.sqrt(R + 2 * ab) - math.sqrt(R - 2 * ab)) / 2
    compiled = compile_rhs(derive_qp_equations((2,)))
    flow = solve_dmft_flow([2], [2.0], t_max=4.0, num_points=41, initial_overlaps=DMFTInitialOverlaps([[a2]], [[b2]], [[ab]]),
                           tol=1e-3)
    qp = integrate(compiled, qp_initial_state(compiled, [[q0]], [[p0]]), [2.0], 4.0, t_eval=flow.t, rtol=1e-11, atol=1e-13)
    assert flow.success
    assert np.max(np.abs(flow.K - qp.K)) / 2.0 < flow.stats["error_estimate"]
    # The naive q0 = sqrt(|a|^2), p0 = a.b / q0 misses it (the mapping is part of the theory).
    naive = integrate(compiled, qp_initial_state(compiled, [[math.sqrt(a2)]], [[ab / math.sqrt(a2)]]), [2.0], 4.0,
                      t_eval=flow.t, rtol=1e-11, atol=1e-13)
    assert np.max(np.abs(flow.K - naive.K)) / 2.0 > 1e-2


def test_every_site_gives_the_same_K():
    """K = f_k . g_k at every hidden layer k: the sites' kernels must be mutually consistent."""
    size, eta, S = 120, 0.05, 2.0
    pathway = _Pathway(5, size, 0.25, 0.25, 0.25, 0.0, eta, True)
    e = np.zeros(size)
    spread = 0.0
    for t in range(size):
        pathway.step(t, e)
        values = pathway.site_strengths(t)
        spread = max(spread, max(values) - min(values))
        e[t] = S - values[-1]
    assert abs(values[-1]) > 0.5  # the mode was learned, so the check is not vacuous
    assert spread < 1e-12


def test_discrete_time_converges_to_the_flow_at_first_order():
    """Gradient descent's DMFT approaches the flow like eta (halving eta halves the error)."""
    reference = solve_dmft_flow([3, 2], [2.0], t_max=4.0, num_points=21, init_scale=0.5, tol=2e-4)
    assert reference.success
    errors = []
    for steps in (20, 40, 80):
        discrete = solve_dmft([3, 2], [2.0], learning_rate=4.0 / steps, steps=steps, init_scale=0.5)
        errors.append(np.max(np.abs(discrete.K[:: steps // 20] - reference.K)))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 0.85) & (orders < 1.2)), orders


def test_flow_error_estimate_is_honest():
    coarse = solve_dmft_flow([3], [2.0], t_max=3.0, num_points=31, init_scale=0.5, tol=1e-2)
    fine = solve_dmft_flow([3], [2.0], t_max=3.0, num_points=31, init_scale=0.5, tol=1e-3)
    assert fine.stats["steps"] > coarse.stats["steps"]
    actual = np.max(np.abs(coarse.K - fine.K)) / 2.0
    assert coarse.success and actual <= coarse.stats["error_estimate"]


def _network_ensemble(depths, dataset, width, seeds, eta, steps):
    runs = [simulate_gd(depths, dataset, width, init="gaussian", init_scale=0.5, learning_rate=eta, steps=steps, seed=s)
            for s in seeds]
    return np.stack([r.K for r in runs]), np.stack([r.extras["UtOmegaV"] for r in runs])


def test_seed_mean_of_finite_networks_matches_and_responses_matter():
    """Depth 3, width 512, 6 seeds: the seed mean sits on the DMFT within sampling error.

    The deliberately wrong variant without response terms (gradient independence) is
    several times the tolerance away, so this test can fail.
    """
    dataset = random_dataset((2.0, 1.0))
    S = dataset.singular_values
    eta, steps = 0.025, 200
    K, full = _network_ensemble((3,), dataset, 512, range(6), eta, steps)
    dmft = solve_dmft((3,), S, learning_rate=eta, steps=steps, init_scale=0.5).K
    wrong = solve_dmft((3,), S, learning_rate=eta, steps=steps, init_scale=0.5, responses=False).K
    difference = np.abs(K.mean(axis=0) - dmft) / S[0]
    noise = K.std(axis=0, ddof=1).max() / math.sqrt(K.shape[0]) / S[0]
    tolerance = 3 * noise + 0.005
    assert difference.max() < tolerance
    assert np.abs(K.mean(axis=0) - wrong).max() / S[0] > 3 * tolerance
    # Modes decouple: the cross-mode entries u_1^T Omega v_2 average to zero within noise.
    cross = full[:, :, 0, 0, 1]
    assert np.abs(cross.mean(axis=0)).max() < 3 * cross.std(axis=0, ddof=1).max() / math.sqrt(K.shape[0]) + 1e-3


def test_modes_decouple_in_networks():
    """Mode 1's seed mean is the same whether or not a second mode is being learned.

    The networks share their hidden matrices between modes; if the modes coupled at
    infinite width, learning mode 2 would move mode 1's mean by O(1), not O(noise).
    """
    eta, steps, width, seeds = 0.025, 160, 384, range(6)
    both, _ = _network_ensemble((3,), random_dataset((2.0, 1.5)), width, seeds, eta, steps)
    alone, _ = _network_ensemble((3,), random_dataset((2.0, 1e-9)), width, seeds, eta, steps)
    difference = np.abs(both[:, :, 0, 0].mean(axis=0) - alone[:, :, 0, 0].mean(axis=0)) / 2.0
    noise = np.hypot(both[:, :, 0, 0].std(axis=0, ddof=1), alone[:, :, 0, 0].std(axis=0, ddof=1)).max() / math.sqrt(6) / 2.0
    assert difference.max() < 3 * noise + 0.005


@pytest.mark.slow
def test_seed_mean_error_falls_with_width_two_pathways():
    from pathdyn.validation.sweep.dmft import validate_dmft_width

    report = validate_dmft_width((3, 3), (128, 512, 2048), seeds=range(16), init_scale=0.5, learning_rate=0.02, t_max=6.0)
    assert report.ensemble_errors[-1] < 3 * report.standard_errors[-1] + 0.004
    assert report.scatter[-1] < report.scatter[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depths=[0, 3]), "depths"),
        (dict(singular_values=[2.0, -1.0]), "singular_values"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(steps=0), "steps"),
        (dict(steps=200000), "GiB"),
        (dict(init_scale=float("nan")), "init_scale"),
    ],
)
def test_bad_input_is_a_config_error(kwargs, match):
    settings = dict(depths=[3], singular_values=[2.0], learning_rate=0.1, steps=10, init_scale=0.5)
    settings.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        solve_dmft(settings.pop("depths"), settings.pop("singular_values"), **settings)


def test_validate_dmft_rejects_the_paper_init_and_one_seed():
    from pathdyn.validation.sweep.dmft import validate_dmft_width

    with pytest.raises(ConfigError, match="init: the dmft model assumes gaussian or orthogonal"):
        validate_dmft_width((3,), (64, 128), seeds=(0, 1), init="paper")
    with pytest.raises(ConfigError, match="seeds"):
        validate_dmft_width((3,), (64, 128), seeds=(0,))


def test_conditioning_on_a_depth2_network_predicts_that_network():
    """Depth 2: the DMFT conditioned on the network's own |a|^2, |b|^2, a.b is its infinite-width limit."""
    from pathdyn.validation.sweep.dmft import predict_network
    from pathdyn.validation.network import initialize_weights

    dataset = random_dataset((2.0, 1.0))
    weights = initialize_weights((2, 2), 2, 2, 1024, init="gaussian", init_scale=0.3, seed=3)
    network = simulate_gd((2, 2), dataset, 1024, weights=weights, learning_rate=0.05, steps=120).K
    own = predict_network(weights, dataset, init_scale=0.3, learning_rate=0.05, steps=120).K
    ensemble = solve_dmft((2, 2), dataset.singular_values, learning_rate=0.05, steps=120, init_scale=0.3).K
    assert np.abs(network - own).max() / 2.0 < 0.01
    assert np.abs(network - ensemble).max() / 2.0 > 3 * np.abs(network - own).max() / 2.0
