"""The orthogonal-hidden-layer DMFT: exact at finite width, the two-channel model as eta -> 0, wide networks.

Each accuracy test also runs deliberately wrong variants and shows that they fail it: the
Gaussian DMFT (``init="gaussian"``) applied to the orthogonal case, and the march with the
``eta`` memory terms of the cross overlaps dropped (``cross_memory=False``).
"""

import numpy as np
import pytest

from pathdyn.errors import ConfigError
from pathdyn.numerics.datasets import random_dataset
from pathdyn.numerics.dmft import DMFTInitialOverlaps, solve_dmft, solve_dmft_flow
from pathdyn.numerics.dmft_orthogonal import solve_orthogonal_dmft
from pathdyn.validation.mapping import forward_backward_vectors, map_initial_state
from pathdyn.validation.network import initialize_weights, simulate_gd

SIGMA = 0.7


def _own_overlaps(weights, U, V):
    """A network's initial ``|a|^2``, ``|b|^2`` and ``K(0)`` per pathway and mode."""
    a2, b2, k0 = [], [], []
    for layers in weights:
        f, g = forward_backward_vectors(layers, U, V)
        a2.append(np.sum(f[1] ** 2, axis=0))
        b2.append(np.sum(g[-2] ** 2, axis=0))
        k0.append(np.einsum("im,im->m", U, f[-1]))
    return DMFTInitialOverlaps(np.array(a2), np.array(b2), np.array(k0))


@pytest.mark.parametrize("depths", [(3,), (4,), (3, 4)])
def test_march_is_gradient_descent_of_one_mode_at_finite_width(depths):
    """One mode, exactly orthogonal hidden layers, width 128: the march is an identity, not a limit.

    Measured: 1e-15 for the march; the wrong variants are 0.06-0.4 off (cross memory
    dropped: 0.07 / 0.20 / 0.06; Gaussian DMFT: 0.09 / 0.39 / 0.12).
    """
    data = random_dataset([2.0], n_in=1, n_out=1, seed=0)
    U, S, Vt = data.modes()
    weights = initialize_weights(depths, 1, 1, 128, init="orthogonal", init_scale=SIGMA, seed=1)
    overlaps = _own_overlaps(weights, U, Vt.T)
    assert np.all(np.abs(overlaps.overlap) > 1e-3)  # a generic start: K(0) != 0 enters the march
    network = simulate_gd(depths, data, 128, weights=weights, learning_rate=0.05, steps=150)
    settings = dict(learning_rate=0.05, steps=150, init_scale=SIGMA, initial_overlaps=overlaps)
    march = solve_orthogonal_dmft(depths, S, **settings)
    assert np.max(np.abs(network.K - march.K)) < 1e-10
    assert march.stats["site_spread"] < 1e-12  # K(t) = X_k(t, t) at every site
    assert abs(network.K[-1].sum() - 2.0) < 1e-3  # the run learns the mode: the whole dynamics is compared
    no_memory = solve_orthogonal_dmft(depths, S, cross_memory=False, **settings)
    gaussian = solve_dmft(depths, S, **settings)
    assert np.max(np.abs(network.K - no_memory.K)) > 0.01
    assert np.max(np.abs(network.K - gaussian.K)) > 0.01


@pytest.mark.parametrize("depths", [(1,), (2,), (1, 2)])
def test_depths_without_a_hidden_matrix_agree_with_the_gaussian_solver(depths):
    """No hidden matrix, nothing to be orthogonal or Gaussian: both solvers are exact GD."""
    overlaps = DMFTInitialOverlaps([[0.3, 0.2]] * len(depths), [[0.5, 0.1]] * len(depths), [[0.1, -0.05]] * len(depths))
    settings = dict(learning_rate=0.05, steps=200, initial_overlaps=overlaps)
    orthogonal = solve_orthogonal_dmft(depths, [2.0, 0.7], **settings)
    gaussian = solve_dmft(depths, [2.0, 0.7], **settings)
    assert np.max(np.abs(orthogonal.K - gaussian.K)) < 1e-12


def _two_channel_start(depths):
    """The two-channel state of the infinite-width orthogonal start, from the project's projection mapping.

    A width-64 orthogonal network with ``|a| = |b| = sigma`` and ``a`` orthogonal to
    ``J^T ... b`` (so ``K(0) = 0`` and every ``f_k(0)`` is orthogonal to ``g_k(0)``, as at
    infinite width) maps exactly to ``A = (sigma, 0)``, ``M = sigma I``, ``B = (0, sigma)``.
    """
    weights = initialize_weights(depths, 1, 1, 64, init="orthogonal", init_scale=SIGMA, seed=3)
    one = np.ones((1, 1))
    for layers in weights:
        _, g = forward_backward_vectors(layers, one, one)
        direction = g[1][:, 0] / np.linalg.norm(g[1][:, 0])
        a = layers[0][:, 0] - direction * (direction @ layers[0][:, 0])
        layers[0] = SIGMA * (a / np.linalg.norm(a))[:, None]
        layers[-1] = SIGMA * layers[-1] / np.linalg.norm(layers[-1])
    state = map_initial_state(weights, one, one, theory="two-channel")
    for key, value in state.values.items():
        role, entry = key[0], key[3]
        expected = SIGMA if (role, entry) in (("A", (1,)), ("B", (2,)), ("M", (1, 1)), ("M", (2, 2))) else 0.0
        assert abs(value[0] - expected) < 1e-12, key
    return state


@pytest.fixture(scope="module", params=[(3, 3), (3, 4)], ids=["depths33", "depths34"])
def two_channel(request):
    """The two-channel flow of two modes from the infinite-width orthogonal start, at 41 times in [0, 5]."""
    from pathdyn.numerics.compile import compile_rhs
    from pathdyn.numerics.integrate import integrate
    from pathdyn.theory.two_channel import derive_two_channel_equations

    depths = request.param
    equations = compile_rhs(derive_two_channel_equations(depths, invariants=False))  # once: compiling costs seconds
    start = np.repeat(_two_channel_start(depths).state_array(equations), 2, axis=1)
    t = np.linspace(0.0, 5.0, 41)
    flow = integrate(equations, start, [2.0, 1.0], 5.0, t_eval=t, rtol=1e-11, atol=1e-13)
    return depths, equations, start, flow


def test_orthogonal_flow_is_the_two_channel_model(two_channel):
    """Continuous-time orthogonal DMFT = two-channel flow, within the DMFT's own error estimate.

    Measured (this setting): the difference is 0.07-0.15 of the estimate at tol 1e-3 and
    1e-4 (depths 3,3: 4.6e-5 then 2.9e-6 of S_1; depths 3,4: 6.3e-5 then 6.3e-6), so it
    falls with the tolerance. The Gaussian DMFT is 1.4% (3,3) and 4.9% (3,4) of S_1 off,
    43x and 58x the estimate at tol 1e-3.
    """
    depths, _, _, reference = two_channel
    flow = solve_dmft_flow(depths, [2.0, 1.0], t_max=5.0, num_points=41, init_scale=SIGMA, tol=1e-3, init="orthogonal")
    estimate = flow.stats["error_estimate"]
    assert flow.success and flow.provenance["init"] == "orthogonal"
    assert np.max(np.abs(flow.K - reference.K)) / 2.0 < estimate
    gaussian = solve_dmft_flow(depths, [2.0, 1.0], t_max=5.0, num_points=41, init_scale=SIGMA, tol=1e-3)
    assert np.max(np.abs(gaussian.K - reference.K)) / 2.0 > 20 * estimate


def test_discrete_orthogonal_dmft_approaches_the_two_channel_flow_at_first_order(two_channel):
    """Gradient descent at eta is O(eta) from the flow: halving eta halves the distance; without cross memory it stalls.

    Measured (of S_1, eta = 0.05 / 0.025 / 0.0125): 8.2e-3 / 4.0e-3 / 2.0e-3 (3,3) and
    1.16e-2 / 5.7e-3 / 2.8e-3 (3,4); without cross memory 1.6e-2 / 1.2e-2 / 1.05e-2 (3,3)
    and 2.4e-2 / 2.3e-2 / 2.3e-2 (3,4).
    """
    from pathdyn.numerics.integrate import integrate

    depths, equations, start, _ = two_channel
    distances = {}
    for cross_memory in (True, False):
        for eta in (0.05, 0.025):
            march = solve_orthogonal_dmft(depths, [2.0, 1.0], learning_rate=eta, steps=int(round(5.0 / eta)),
                                          init_scale=SIGMA, cross_memory=cross_memory)
            flow = integrate(equations, start, [2.0, 1.0], 5.0, t_eval=march.t, rtol=1e-11, atol=1e-13)
            distances[cross_memory, eta] = np.max(np.abs(march.K - flow.K)) / 2.0
    assert 1.8 < distances[True, 0.05] / distances[True, 0.025] < 2.2
    assert distances[True, 0.025] < 0.01
    assert not distances[False, 0.05] / distances[False, 0.025] > 1.8


def test_init_dispatch_and_bad_arguments():
    settings = dict(learning_rate=0.05, steps=40, init_scale=SIGMA)
    direct = solve_orthogonal_dmft((3, 4), [2.0, 1.0], **settings)
    via = solve_dmft((3, 4), [2.0, 1.0], init="orthogonal", **settings)
    np.testing.assert_array_equal(via.K, direct.K)
    assert solve_dmft((3,), [2.0], **settings).provenance["init"] == "gaussian"
    with pytest.raises(ConfigError, match="init: expected one of gaussian, orthogonal, got 'haar'"):
        solve_dmft((3,), [2.0], init="haar", **settings)
    with pytest.raises(ConfigError, match="init"):
        solve_dmft_flow((3,), [2.0], t_max=1.0, init="haar")
    with pytest.raises(ConfigError, match="responses"):
        solve_dmft((3,), [2.0], init="orthogonal", responses=False, **settings)
    gains = DMFTInitialOverlaps([[0.5]], [[0.5]], [[0.0]], gains=((np.ones((2, 1)), np.ones((2, 1))),))
    with pytest.raises(ConfigError, match="initial_overlaps: gains"):
        solve_orthogonal_dmft((3,), [2.0], initial_overlaps=gains, **settings)
    with pytest.raises(ConfigError, match="initial_overlaps: shape"):
        solve_orthogonal_dmft((3, 3), [2.0], initial_overlaps=DMFTInitialOverlaps([[0.5]], [[0.5]], [[0.0]]), **settings)
    with pytest.raises(ConfigError, match="steps"):
        solve_orthogonal_dmft((3,), [2.0], learning_rate=0.05, steps=0)


def _width_errors(widths, seeds, depths=(3, 4), eta=0.04, steps=150):
    """Per width: median over seeds of each network's distance from the ensemble DMFT, from the DMFT
    conditioned on its own initial overlaps and from the Gaussian DMFT (all ``max |K - K_DMFT| / S_1``)."""
    data = random_dataset([2.0, 1.0], seed=0)
    U, S, Vt = data.modes()
    ensemble = solve_orthogonal_dmft(depths, S, learning_rate=eta, steps=steps, init_scale=SIGMA)
    gaussian = solve_dmft(depths, S, learning_rate=eta, steps=steps, init_scale=SIGMA)
    single, conditioned, wrong = [], [], []
    for width in widths:
        run = simulate_gd(depths, data, width, init="orthogonal", init_scale=SIGMA, learning_rate=eta, steps=steps,
                          seeds=seeds)
        single.append(np.median(np.max(np.abs(run.K - ensemble.K[:, None]), axis=(0, 2, 3))) / S[0])
        wrong.append(np.median(np.max(np.abs(run.K - gaussian.K[:, None]), axis=(0, 2, 3))) / S[0])
        own = []
        for i, seed in enumerate(seeds):
            weights = initialize_weights(depths, 2, 2, width, init="orthogonal", init_scale=SIGMA, seed=seed)
            march = solve_orthogonal_dmft(depths, S, learning_rate=eta, steps=steps, init_scale=SIGMA,
                                          initial_overlaps=_own_overlaps(weights, U, Vt.T))
            own.append(np.max(np.abs(run.K[:, i] - march.K)) / S[0])
        conditioned.append(np.median(own))
    return np.array(single), np.array(conditioned), np.array(wrong)


def test_conditioned_march_error_falls_like_one_over_width():
    """Two modes: what is left of a network's distance from the march conditioned on its own
    initial overlaps is the cross-mode overlaps, O(1/N), against O(N^{-1/2}) unconditioned.

    Measured, median over seeds 0-2 at N = 64, 256: 6.1e-3, 9.8e-4 of S_1 (slope -1.32;
    over 6 seeds -0.98, and 2.6e-4 at N = 1024); unconditioned 0.090, 0.049 (slope -0.44).
    """
    single, conditioned, _ = _width_errors((64, 256), seeds=(0, 1, 2))
    slope = np.log(conditioned[1] / conditioned[0]) / np.log(4.0)
    assert -1.6 < slope < -0.7 and conditioned[-1] < 2e-3
    assert np.all(conditioned < single / 10)


@pytest.mark.slow
def test_finite_orthogonal_networks_approach_the_orthogonal_dmft():
    """Widths 64 / 256 / 1024, seeds 0-3: single networks approach the ensemble march as N^{-1/2};
    the Gaussian DMFT (the wrong variant) stays a fixed distance away.

    Measured (6 seeds): median 0.092, 0.047, 0.025 of S_1 (slope -0.47).
    """
    single, conditioned, gaussian = _width_errors((64, 256, 1024), seeds=(0, 1, 2, 3))
    slope = np.polyfit(np.log([64, 256, 1024]), np.log(single), 1)[0]
    assert -0.8 < slope < -0.3 and single[-1] < 0.04
    assert np.all(np.diff(conditioned) < 0) and conditioned[-1] < 1e-3
    assert gaussian[-1] > 1.5 * single[-1]
