"""Initial-state mappings from a network's weights to the reduced models."""

import numpy as np
import pytest

from pathdyn.errors import ConfigError
from pathdyn.numerics.compile import compile_rhs
from pathdyn.theory.reduced import derive_qp_equations
from pathdyn.theory.two_channel import derive_two_channel_equations
from pathdyn.validation.mapping import forward_backward_vectors, map_initial_state
from pathdyn.validation.network import initialize_weights, loss_and_gradients
from pathdyn.validation.sweep.cases import default_dataset


@pytest.fixture
def data():
    dataset = default_dataset()
    U, S, Vt = dataset.modes()
    return dataset, U, S, Vt.T


def test_exact_depth_2_mapping_reproduces_K0_and_the_invariant(data, seed):
    dataset, U, S, V = data
    weights = initialize_weights((2, 2), 4, 4, 200, init="gaussian", init_scale=0.3, seed=seed)
    state = map_initial_state(weights, U, V, theory="qp")
    assert state.method == "exact"
    for a, (W1, W2) in enumerate(weights, start=1):
        A = W1 @ V  # a = W1 v per mode (columns)
        B = W2.T @ U  # b = W2^T u
        q, p = state.value("q", a), state.value("p", a)
        np.testing.assert_allclose(q * p, np.sum(A * B, axis=0), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(q**2 + p**2, np.sum(A * A + B * B, axis=0), rtol=1e-12)
        # the conserved (|a|^2 + |b|^2)^2 - 4 (a.b)^2 equals (q^2 - p^2)^2
        invariant = np.sum(A * A + B * B, axis=0) ** 2 - 4 * np.sum(A * B, axis=0) ** 2
        np.testing.assert_allclose((q**2 - p**2) ** 2, invariant, rtol=1e-10)
        assert np.all(q >= np.abs(p))


def test_growth_matched_equals_exact_at_depth_2(data, seed):
    _, U, _, V = data
    weights = initialize_weights((2,), 4, 4, 100, seed=seed)
    exact = map_initial_state(weights, U, V, theory="qp", method="exact")
    matched = map_initial_state(weights, U, V, theory="qp", method="growth-matched")
    for role in ("q", "p"):
        np.testing.assert_allclose(exact.value(role, 1), matched.value(role, 1), rtol=1e-9)


@pytest.mark.parametrize("depth", [3, 4])
def test_growth_matched_matches_K0_and_growth(data, seed, depth):
    _, U, _, V = data
    weights = initialize_weights((depth,), 4, 4, 150, init="gaussian", init_scale=0.5, seed=seed)
    state = map_initial_state(weights, U, V, theory="qp")
    assert state.method == "growth-matched"
    q, p = state.value("q", 1), state.value("p", 1)
    np.testing.assert_allclose(q ** (depth - 1) * p, state.K0[0], rtol=1e-10, atol=1e-14)
    rate = (depth - 1) * q ** (2 * (depth - 2)) * p**2 + q ** (2 * (depth - 1))
    np.testing.assert_allclose(rate, state.growth[0], rtol=1e-9)
    assert np.all(q**2 >= p**2)


def _chain_strength_and_growth(values, a, depth, modes):
    """K and sum_d |g_d|^2 |f_{d-1}|^2 of the width-2 chain, from the mapped values."""
    out_K, out_r = [], []
    for m in range(modes):
        A = np.array([values[("A", a, 1, (i,))][m] for i in (1, 2)])[:, None]
        B = np.array([values[("B", a, depth, (j,))][m] for j in (1, 2)])[None, :]
        hidden = [np.array([[values[("M", a, d, (i, j))][m] for j in (1, 2)] for i in (1, 2)]) for d in range(2, depth)]
        layers = [A, *hidden, B]
        f, g = forward_backward_vectors(layers, np.ones((1, 1)), np.ones((1, 1)))
        out_K.append(f[-1][0, 0])
        out_r.append(sum(np.sum(g[d] ** 2) * np.sum(f[d - 1] ** 2) for d in range(1, depth + 1)))
    return np.array(out_K), np.array(out_r)


def mode_strengths(layers, U, V) -> np.ndarray:
    """``K_alpha = u_alpha^T W_D ... W_1 v_alpha`` for every mode (shape ``(modes,)``)."""
    f, _ = forward_backward_vectors(layers, U, V)
    return np.einsum("im,im->m", U, f[-1])


def growth_coefficients(layers, U, V) -> np.ndarray:
    """``r_alpha = sum_{d=1}^{D} |g_d|^2 |f_{d-1}|^2`` (so ``dK/dt = e r`` initially)."""
    f, g = forward_backward_vectors(layers, U, V)
    return sum(np.sum(g[d] ** 2, axis=0) * np.sum(f[d - 1] ** 2, axis=0) for d in range(1, len(layers) + 1))


@pytest.mark.parametrize("init,depth", [("orthogonal", 3), ("gaussian", 4), ("orthogonal", 2)])
def test_two_channel_projection_reproduces_K0_and_initial_growth(data, seed, init, depth):
    _, U, _, V = data
    weights = initialize_weights((depth, 2), 4, 4, 120, init=init, init_scale=0.5, seed=seed)
    state = map_initial_state(weights, U, V, theory="two-channel")
    K, r = _chain_strength_and_growth(state.values, 1, depth, U.shape[1])
    np.testing.assert_allclose(K, mode_strengths(weights[0], U, V), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(r, growth_coefficients(weights[0], U, V), rtol=1e-10)


def test_two_channel_initial_velocity_matches_the_network(data, seed):
    """dK/dt of the compiled two-channel rhs at t = 0 against the network's true gradient.

    The network's dK/dt includes cross-mode terms of size O(N^-1/2); at large width the
    relative difference is small, and the chain's value is exactly e * r (mode-diagonal part).
    """
    dataset, U, S, V = data
    depths = (3, 3)
    eqs = derive_two_channel_equations(depths)
    f = compile_rhs(eqs)
    weights = initialize_weights(depths, 4, 4, 1500, init="orthogonal", init_scale=0.5, seed=seed)
    state = map_initial_state(weights, U, V, theory="two-channel")
    y = state.state_array(f)
    dy = f(0.0, y, S)
    # dK/dt of the chain from the Jacobian of K: numerically by a small step
    h = 1e-7
    dK_chain = (f.strengths(y + h * dy, S) - f.strengths(y - h * dy, S)) / (2 * h)
    _, grads = loss_and_gradients(weights, dataset.X, dataset.Y)
    dK_net = []
    for W, G in zip(weights, grads):
        total = 0
        for d in range(len(W)):
            left = U.T
            for w in W[d + 1:][::-1]:
                left = left @ w
            right = V
            for w in W[:d]:
                right = w @ right
            total = total + np.diag(left @ (-G[d]) @ right)
        dK_net.append(total)
    dK_net = np.array(dK_net)
    error = S - state.K0.sum(axis=0)
    np.testing.assert_allclose(dK_chain, error * state.growth, rtol=1e-5)
    assert np.max(np.abs(dK_net - dK_chain)) < 0.1 * np.max(np.abs(dK_net))


def test_naive_mapping_ignores_the_measured_norms(data, seed):
    _, U, _, V = data
    weights = initialize_weights((2,), 4, 4, 100, seed=seed)
    naive = map_initial_state(weights, U, V, theory="qp", method="naive", init_scale=0.3)
    np.testing.assert_allclose(naive.value("q", 1), 0.3)
    np.testing.assert_allclose(naive.value("q", 1) * naive.value("p", 1), naive.K0[0])
    exact = map_initial_state(weights, U, V, theory="qp", method="exact")
    # |a|^2 + |b|^2 is about 2 sigma^2, so the exact q0 is about sqrt(2) sigma: naive misses it
    assert np.all(exact.value("q", 1) > 1.2 * naive.value("q", 1))


def test_state_array_follows_the_equations_order(data, seed):
    _, U, _, V = data
    weights = initialize_weights((1, 3), 4, 4, 50, seed=seed)
    eqs = derive_qp_equations((1, 3))
    state = map_initial_state(weights, U, V, theory="qp")
    array = state.state_array(eqs)
    assert array.shape == (3, 4)
    np.testing.assert_allclose(array[0], state.K0[0])  # depth-1 pathway: p_1 = K0
    with pytest.raises(ConfigError, match="A_2_1"):
        state.state_array(derive_two_channel_equations((1, 3)))


def test_mapping_errors(data, seed):
    _, U, _, V = data
    deep = initialize_weights((3,), 4, 4, 20, seed=seed)
    with pytest.raises(ConfigError, match="exact q/p mapping exists only for depth <= 2"):
        map_initial_state(deep, U, V, theory="qp", method="exact")
    with pytest.raises(ConfigError, match="theory"):
        map_initial_state(deep, U, V, theory="layers")
    with pytest.raises(ConfigError, match="method"):
        map_initial_state(deep, U, V, theory="two-channel", method="exact")
    with pytest.raises(ConfigError, match="init_scale"):
        map_initial_state(deep, U, V, theory="qp", method="naive")
    with pytest.raises(ConfigError, match="n_in"):
        map_initial_state(deep, U, V[:3], theory="qp")
