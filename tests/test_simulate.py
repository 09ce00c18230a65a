"""Finite-width gradient-descent simulator (pathdyn.validation.network, pathdyn simulate)."""

import json
import tracemalloc

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from pathdyn.cli.main import main as cli_main
from pathdyn.errors import ArchitectureError, ConfigError, DatasetError, SimulationError
from pathdyn.numerics.datasets import Dataset, hierarchical_dataset, random_dataset
from pathdyn.validation.network import kernels
from pathdyn.validation.network import (
    initialize_weights,
    load_weights,
    loss_and_gradients,
    save_weights,
    simulate_gd,
)

# Tolerances are data (per dtype where it matters).
FD_STEP = 1e-6
FD_RTOL = 1e-6  # central differences at h = 1e-6 in float64: truncation ~h^2, rounding ~1e-16/h
ROUNDING_RTOL = {np.float64: 1e-11, np.float32: 2e-4}
FLOAT32_RTOL = 1e-5  # float32 outputs of the same computation on other BLAS thread counts or CPUs


# ----------------------------------------------------------------------------- helpers
def plain_loss(weights, X, Y, activation, loss, activate_last):
    """The loss written independently of the library (forward pass only)."""
    act = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}[activation]
    out = np.zeros_like(Y)
    for path in weights:
        h = X
        for d, W in enumerate(path):
            h = W @ h
            if d < len(path) - 1 or activate_last:
                h = act(h)
        out = out + h
    sq = float(np.sum((out - Y) ** 2))
    return 0.5 * sq / X.shape[1] if loss == "mean" else sq


def fd_check(weights, grads, X, Y, activation, loss, activate_last, rng, entries=12):
    """Largest relative mismatch between ``grads`` and central differences on sampled entries."""
    worst = 0.0
    for a, path in enumerate(weights):
        for d, W in enumerate(path):
            picks = rng.choice(W.size, size=min(entries, W.size), replace=False)
            scale = max(np.max(np.abs(grads[a][d])), 1e-8)
            for k in picks:
                i, j = np.unravel_index(k, W.shape)
                old = W[i, j]
                W[i, j] = old + FD_STEP
                up = plain_loss(weights, X, Y, activation, loss, activate_last)
                W[i, j] = old - FD_STEP
                down = plain_loss(weights, X, Y, activation, loss, activate_last)
                W[i, j] = old
                fd = (up - down) / (2 * FD_STEP)
                worst = max(worst, abs(fd - grads[a][d][i, j]) / scale)
    return worst


def general_data(rng, n_in=4, n_out=3, P=6):
    """Non-whitened inputs, generic targets."""
    return Dataset(X=rng.standard_normal((n_in, P)), Y=rng.standard_normal((n_out, P)), name="generic")


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("activation", ["linear", "relu", "tanh"])
@pytest.mark.parametrize("activate_last", [False, True])
@pytest.mark.parametrize("loss", ["mean", "paper"])
@pytest.mark.parametrize("engine", ["blas", "stack", "deferred"])
def test_gd_step_is_minus_eta_times_finite_difference_gradient(activation, activate_last, loss, engine, seed):
    """One step of each engine (fused BLAS, stacked over seeds, deferred rank-r) is -eta grad L."""
    rng = np.random.default_rng(seed)
    data = general_data(rng)
    width = 50 if engine == "deferred" else 5  # deferral needs layers >= 4 r wide; r = 2 P = 12 here
    w0 = initialize_weights((1, 2, 3), data.n_in, data.n_out, width, init_scale=1.5, seed=seed)
    eta = 1e-3
    run = simulate_gd((1, 2, 3), data, width, weights=w0, learning_rate=eta, steps=1, activation=activation,
                      loss=loss, activate_last=activate_last, stack=engine == "stack",
                      deferred_rank=12 if engine == "deferred" else 0)
    assert run.stats["engine"] == ("stack" if engine == "stack" else "blas")
    assert (run.stats["deferred_layers"] > 0) == (engine == "deferred")
    w1 = run.extras["final_weights"]
    step_grads = [[(a - b) / eta for a, b in zip(pa, pb)] for pa, pb in zip(w0, w1)]
    weights = [[np.array(W) for W in path] for path in w0]
    assert fd_check(weights, step_grads, data.X, data.Y, activation, loss, activate_last, rng) < 1e-5
    if engine != "blas":
        return
    # The plain reference gradient agrees with finite differences too (tighter: no 1/eta).
    value, grads = loss_and_gradients(weights, data.X, data.Y, activation, loss, activate_last)
    assert value == pytest.approx(plain_loss(weights, data.X, data.Y, activation, loss, activate_last), rel=1e-12)
    assert fd_check(weights, grads, data.X, data.Y, activation, loss, activate_last, rng) < FD_RTOL
    # A deliberately wrong gradient (activation derivative dropped, or the other loss
    # convention) is caught by the same check.
    other = "paper" if loss == "mean" else "mean"
    _, wrong = loss_and_gradients(weights, data.X, data.Y, activation, other, activate_last)
    assert fd_check(weights, wrong, data.X, data.Y, activation, loss, activate_last, rng) > 0.1
    if activation != "linear":
        _, lin = loss_and_gradients(weights, data.X, data.Y, "linear", loss, activate_last)
        assert fd_check(weights, lin, data.X, data.Y, activation, loss, activate_last, rng) > 1e-2


@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_deferred_updates_follow_the_same_iterates(activation, seed):
    """Deferred rank-r folds change only rounding, across several folds and a partial one."""
    data = hierarchical_dataset()
    common = dict(activation=activation, learning_rate=0.01, steps=45, record_every=4, seed=seed, init_scale=0.8)
    eager = simulate_gd((3, 2), data, 160, deferred_rank=0, **common)
    lazy = simulate_gd((3, 2), data, 160, deferred_rank=32, **common)
    assert lazy.provenance["deferred_rank"] == 32 and lazy.stats["deferred_layers"] == 1
    scale = np.max(np.abs(eager.K))
    assert np.max(np.abs(eager.K - lazy.K)) < ROUNDING_RTOL[np.float64] * scale * 10
    for pa, pb in zip(eager.extras["final_weights"], lazy.extras["final_weights"]):
        for a, b in zip(pa, pb):
            assert np.max(np.abs(a - b)) < 1e-12
    # ... and the step really moved the network (the comparison is not vacuous).
    assert np.max(np.abs(eager.K[-1] - eager.K[0])) > 0.1 * scale


def test_float32_tracks_float64(seed):
    data = hierarchical_dataset()
    kw = dict(activation="relu", learning_rate=0.01, steps=200, record_every=50, seed=seed)
    a = simulate_gd((2, 3), data, 128, **kw)
    b = simulate_gd((2, 3), data, 128, dtype=np.float32, **kw)
    assert b.extras["final_weights"][0][0].dtype == np.float32
    assert np.max(np.abs(a.K - b.K)) < ROUNDING_RTOL[np.float32] * np.max(np.abs(a.K)) * 10


# ----------------------------------------------------------------------------- records
def test_records_time_mapping_and_projections(seed):
    data = random_dataset([2.0, 1.2, 0.7], n_in=5, n_out=4, seed=seed)
    run = simulate_gd((2, 3), data, 40, learning_rate=0.02, steps=25, record_every=10, seed=seed)
    assert run.step.tolist() == [0, 10, 20, 25]
    assert np.allclose(run.t, 0.02 * run.step)
    assert run.K.shape == (4, 2, 3) and run.extras["UtOmegaV"].shape == (4, 2, 3, 3)
    assert np.array_equal(run.K, np.diagonal(run.extras["UtOmegaV"], axis1=-2, axis2=-1))
    # Last record = u^T W^D ... W^1 v of the final weights, computed here independently.
    U, S, Vt = data.modes()
    U, S, Vt = U[:, :3], S[:3], Vt[:3]  # the zero singular value (rank 3 of 4) is not a mode
    assert np.allclose(run.extras["singular_values"], [2.0, 1.2, 0.7])
    for a, path in enumerate(run.extras["final_weights"]):
        omega = np.linalg.multi_dot(path[::-1])
        assert np.allclose(run.extras["UtOmegaV"][-1, a], U.T @ omega @ Vt.T, atol=1e-12)
    out = sum(np.linalg.multi_dot(p[::-1]) for p in run.extras["final_weights"]) @ data.X
    assert run.loss[-1] == pytest.approx(0.5 * np.sum((out - data.Y) ** 2) / data.num_samples, rel=1e-10)
    paper = simulate_gd((2, 3), data, 40, learning_rate=0.02, steps=25, record_every=10, seed=seed, loss="paper")
    assert np.allclose(paper.t, 2 * data.num_samples * 0.02 * paper.step)


def test_nonlinear_projection_is_response_mapped_back_through_inputs(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((4, 7))  # full row rank, not whitened
    data = Dataset(X=X, Y=rng.standard_normal((3, 7)))
    run = simulate_gd((2, 3), data, 30, activation="tanh", learning_rate=0.01, steps=5, record_every=5, seed=seed)
    U, S, Vt = data.modes()
    for a, path in enumerate(run.extras["final_weights"]):
        h = X
        for d, W in enumerate(path):
            h = W @ h if d == len(path) - 1 else np.tanh(W @ h)
        assert np.allclose(run.extras["UtOmegaV"][-1, a], U.T @ h @ np.linalg.pinv(X) @ Vt.T, atol=1e-12)


def test_rank_deficient_inputs_use_the_weight_product(seed):
    rng = np.random.default_rng(seed)
    data = Dataset(X=rng.standard_normal((6, 3)), Y=rng.standard_normal((2, 3)))  # n_in > P
    run = simulate_gd((2,), data, 200, learning_rate=0.01, steps=17, record_every=8, seed=seed, deferred_rank=6)
    U, S, Vt = data.modes()
    omega = run.extras["final_weights"][0][1] @ run.extras["final_weights"][0][0]
    assert np.allclose(run.extras["UtOmegaV"][-1, 0], U.T @ omega @ Vt.T, atol=1e-12)


# ----------------------------------------------------------------------------- theory
def _qp_prediction(weights, U, S, V, t):
    """q/p flow of docs/theory.md, *The q/p model*, for depth-2 pathways, initial state measured from the net.

    Per pathway and mode: a = W1 v, b = W2^T u; q0^2 + p0^2 = |a|^2 + |b|^2, q0 p0 = a.b.
    """
    y0 = []
    for W1, W2 in weights:
        A, B = W1 @ V, W2.T @ U
        s, m = (A * A).sum(0) + (B * B).sum(0), (A * B).sum(0)
        q = np.sqrt((s + np.sqrt(s * s - 4 * m * m)) / 2)
        y0 += [q, m / q]
    return _integrate_qp(np.array(y0), S, t)


def _naive_prediction(weights, U, S, V, t, sigma):
    y0 = []
    for W1, W2 in weights:
        m = ((W1 @ V) * (W2.T @ U)).sum(0)
        y0 += [np.full_like(m, sigma), m / sigma]
    return _integrate_qp(np.array(y0), S, t)


def _integrate_qp(y0, S, t):
    M = y0.shape[0] // 2

    def rhs(_, y):
        y = y.reshape(2 * M, -1)
        e = S - (y[0::2] * y[1::2]).sum(0)
        out = np.empty_like(y)
        out[0::2], out[1::2] = y[1::2] * e, y[0::2] * e
        return out.ravel()

    sol = solve_ivp(rhs, (0, t[-1]), y0.ravel(), t_eval=t, method="DOP853", rtol=1e-11, atol=1e-13)
    assert sol.success
    y = sol.y.T.reshape(len(t), 2 * M, -1)
    return y[:, 0::2] * y[:, 1::2]


def test_depth2_linear_training_follows_the_qp_flow_at_large_width(seed):
    """docs/theory.md, *Where each model is exact*: error = O(N^{-1/2}) + O(eta).

    Two depth-2 pathways, non-degenerate whitened data. Gradient descent is the Euler
    scheme of the flow, so its error must halve with eta; the Richardson combination
    2 K(eta/2) - K(eta) removes the O(eta) term and must then be within the width term,
    bounded by the size of the initial cross-mode overlaps, sigma^2 / sqrt(N) (relative
    to S_1). The naive initial condition (q0 = sigma) must fail the same bound.
    """
    N, sigma, eta, horizon = 2048, 0.3, 0.01, 12.0
    data = random_dataset([2.0, 1.3, 0.8, 0.5], n_in=4, n_out=4, seed=seed)
    U, S, Vt = data.modes()
    w0 = initialize_weights((2, 2), 4, 4, N, init_scale=sigma, seed=seed)
    steps = int(round(horizon / eta))
    coarse = simulate_gd((2, 2), data, N, weights=w0, learning_rate=eta, steps=steps, record_every=10)
    fine = simulate_gd((2, 2), data, N, weights=w0, learning_rate=eta / 2, steps=2 * steps, record_every=20)
    assert np.allclose(coarse.t, fine.t)
    theory = _qp_prediction(w0, U, S, Vt.T, coarse.t)
    error = lambda K: np.max(np.abs(K - theory)) / S[0]  # noqa: E731
    e_coarse, e_fine = error(coarse.K), error(fine.K)
    e_richardson = error(2 * fine.K - coarse.K)
    bound = sigma**2 / np.sqrt(N)
    assert 1.6 < e_coarse / e_fine < 2.4, (e_coarse, e_fine)
    assert e_richardson < bound, (e_richardson, bound)
    assert e_richardson < e_fine / 2
    # The network learned (the comparison is over the whole sigmoidal rise).
    assert np.allclose(coarse.K[-1].sum(axis=0), S, rtol=1e-3)
    naive = _naive_prediction(w0, U, S, Vt.T, coarse.t, sigma)
    assert error(2 * fine.K - coarse.K - theory + naive) > 10 * bound


# ----------------------------------------------------------------------------- init
def test_initialisation_families(seed):
    N = 400
    w = initialize_weights((3, 1), 6, 5, N, init="gaussian", init_scale=0.5, seed=seed)
    assert [x.shape for x in w[0]] == [(N, 6), (N, N), (5, N)] and w[1][0].shape == (5, 6)
    assert np.var(w[0][1]) == pytest.approx(0.25 / N, rel=0.02)
    assert np.var(w[0][0]) == pytest.approx(0.25 / N, rel=0.15)
    o = initialize_weights((4,), 6, 5, N, init="orthogonal", init_scale=0.5, seed=seed)
    for hidden in o[0][1:3]:
        assert np.allclose(hidden.T @ hidden, 0.25 * np.eye(N), atol=1e-12)
    assert np.var(o[0][0]) == pytest.approx(0.25 / N, rel=0.15)
    p = initialize_weights((3,), 6, 5, N, init="paper", seed=seed)
    assert np.std(p[0][1]) == pytest.approx(0.01, rel=0.02)
    w32 = initialize_weights((3, 1), 6, 5, N, init_scale=0.5, seed=seed, dtype=np.float32)
    assert w32[0][1].dtype == np.float32 and np.allclose(w32[0][1], w[0][1], rtol=1e-6)


def test_weight_file_round_trip(tmp_path, seed):
    w = initialize_weights((2, 3), 4, 3, 9, seed=seed)
    path = tmp_path / "w.npz"
    save_weights(path, w)
    with np.load(path) as archive:
        assert sorted(archive.files) == ["W_1_1", "W_1_2", "W_2_1", "W_2_2", "W_2_3"]
        assert archive["W_2_3"].shape == (3, 9)
    back = load_weights(path)
    assert all(np.array_equal(a, b) for pa, pb in zip(w, back) for a, b in zip(pa, pb))


# ----------------------------------------------------------------------------- reproducibility, memory
@pytest.mark.parametrize("width", [24, 96])  # stacked engine, sequential BLAS engine
def test_same_seed_is_bit_identical_and_batches_match(width, seed):
    data = hierarchical_dataset()
    kw = dict(activation="relu", learning_rate=0.01, steps=60, record_every=10)
    a = simulate_gd((2, 3), data, width, seed=seed, **kw)
    b = simulate_gd((2, 3), data, width, seed=seed, **kw)
    c = simulate_gd((2, 3), data, width, seed=seed + 1, **kw)
    assert np.array_equal(a.K, b.K) and np.array_equal(a.loss, b.loss)
    assert all(np.array_equal(x, y) for p, q in zip(a.extras["final_weights"], b.extras["final_weights"]) for x, y in zip(p, q))
    assert not np.array_equal(a.K, c.K)
    batch = simulate_gd((2, 3), data, width, seeds=[seed, seed + 1], **kw)
    assert batch.K.shape == (7, 2, 2, 8) and batch.loss.shape == (7, 2)
    assert np.array_equal(batch.K[:, 0], a.K) and np.array_equal(batch.K[:, 1], c.K)


def test_memory_does_not_grow_with_steps(seed):
    """No history of weights: the peak allocation is the same for 20 and 200 steps."""
    data = hierarchical_dataset()
    weight_bytes = 2 * 300 * 300 * 8

    def peak(steps):
        tracemalloc.start()
        simulate_gd((3, 3), data, 300, learning_rate=0.001, steps=steps, record_every=steps, seed=seed)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    short, long = peak(20), peak(200)
    assert abs(long - short) < 0.1 * weight_bytes
    assert short < 4 * weight_bytes


# ----------------------------------------------------------------------------- errors
def test_bad_inputs_give_clear_errors(seed):
    data = hierarchical_dataset()
    ok = dict(learning_rate=0.01, steps=3)
    with pytest.raises(ArchitectureError, match="width: -5 is not a positive width"):
        simulate_gd((2, 2), data, -5, **ok)
    for eta in (0, -0.1, float("nan")):
        with pytest.raises(ConfigError, match="learning_rate"):
            simulate_gd((2, 2), data, 10, learning_rate=eta, steps=3)
    with pytest.raises(ConfigError, match="activation: unknown value 'sigmoid'; choose one of linear, relu, tanh"):
        simulate_gd((2, 2), data, 10, activation="sigmoid", **ok)
    with pytest.raises(ConfigError, match="init: unknown value 'xavier'"):
        simulate_gd((2, 2), data, 10, init="xavier", **ok)
    with pytest.raises(ConfigError, match="init: unknown value"):
        initialize_weights((2,), 3, 3, 4, init="xavier")
    with pytest.raises(ConfigError, match="steps"):
        simulate_gd((2, 2), data, 10, learning_rate=0.1, steps=-1)
    with pytest.raises(DatasetError, match="X has 5 samples .* but Y has 4"):
        Dataset(X=np.ones((3, 5)), Y=np.ones((2, 4)))
    bad = np.ones((3, 5))
    bad[1, 2] = np.nan
    with pytest.raises(DatasetError, match="X contains NaN"):
        Dataset(X=bad, Y=np.ones((2, 5)))
    w = initialize_weights((2, 2), 8, 15, 10, seed=seed)
    w[1][0] = w[1][0][:, :3]
    with pytest.raises(ArchitectureError, match=r"W_2_1 has shape \(10, 3\), expected \(10, 8\)"):
        simulate_gd((2, 2), data, 10, weights=w, **ok)


def test_divergence_is_caught_within_a_few_steps(seed):
    data = hierarchical_dataset()
    with pytest.raises(SimulationError, match=r"diverged at step [0-9] \(seed .*smaller learning_rate") as info:
        simulate_gd((2, 2), data, 100, learning_rate=5.0, steps=1000, seed=seed)
    assert "loss" in str(info.value)
    with pytest.raises(SimulationError, match="smaller learning_rate"):
        simulate_gd((3,), data, 50, activation="tanh", learning_rate=50.0, steps=1000, seed=seed, init_scale=3.0)


# ----------------------------------------------------------------------------- CLI
def test_cli_writes_run_weights_and_plot(tmp_path, seed, capsys):
    run, weights, png = tmp_path / "run.npz", tmp_path / "w.npz", tmp_path / "run.png"
    argv = ["simulate", "--depths", "2,3", "--width", "24", "--init", "orthogonal", "--init-scale", "0.5",
            "--activation", "tanh", "--dataset", "random:2,1,0.5", "--learning-rate", "0.02", "--steps", "30",
            "--record-every", "10", "--seed", str(seed), "-o", str(run), "--save-weights", str(weights),
            "--plot", str(png), "--activate-last", "--loss", "paper", "--float32"]
    assert cli_main(argv) == 0
    with np.load(run) as out:
        assert out["K"].shape == (4, 2, 3) and out["t"].shape == (4,) and out["loss"].shape == (4,)
        config = json.loads(str(out["config"]))
    assert config["init"] == "orthogonal" and config["activate_last"] is True and config["dtype"] == "float32"
    assert config["seed"] == seed and config["loss"] == "paper" and config["learning_rate"] == 0.02
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    # Continue from the saved weights.
    again = tmp_path / "again.npz"
    assert cli_main(["simulate", "--depths", "2,3", "--activation", "tanh", "--dataset", "random:2,1,0.5",
                     "--learning-rate", "0.02", "--steps", "0", "--init-from", str(weights), "-o", str(again)]) == 0
    with np.load(again) as out2:
        assert out2["K"].shape == (1, 2, 3)


def test_cli_divergence_leaves_nothing_on_disk(tmp_path, capsys):
    run = tmp_path / "run.npz"
    code = cli_main(["simulate", "--depths", "2,2", "--width", "50", "--learning-rate", "10", "--steps", "500",
                     "-o", str(run), "--save-weights", str(tmp_path / "w.npz")])
    assert code == 2
    err = capsys.readouterr().err
    assert "diverged" in err and "smaller --learning-rate" in err and "Traceback" not in err  # the CLI names options
    assert list(tmp_path.iterdir()) == []
    assert cli_main(["simulate", "--width", "5", "--learning-rate", "0.1", "--steps", "1", "--activation", "softmax",
                     "-o", str(run)]) == 2
    assert "activation" in capsys.readouterr().err


def test_user_dataset_files_npz_and_csv_with_raw_inputs(tmp_path, rng):
    X = rng.standard_normal((3, 10))  # not whitened
    Y = rng.standard_normal((2, 10))
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    with open(tmp_path / "data.csv", "w") as handle:
        handle.write("x1,x2,x3,y1,y2\n")
        for i in range(10):
            handle.write(",".join(f"{v:.17g}" for v in [*X[:, i], *Y[:, i]]) + "\n")
    runs = [simulate_gd((2, 2), str(tmp_path / name), 20, learning_rate=0.01, steps=40, record_every=40, seed=1)
            for name in ("data.npz", "data.csv")]
    assert np.array_equal(runs[0].K, runs[1].K)
    assert runs[0].loss[-1] < runs[0].loss[0]
    assert cli_main(["simulate", "--width", "20", "--dataset", str(tmp_path / "data.csv"), "--learning-rate", "0.01",
                     "--steps", "5", "-o", str(tmp_path / "run.npz")]) == 0
    np.savez(tmp_path / "bad.npz", X=X, Y=Y[:, :7])
    with pytest.raises(DatasetError, match="X has 10 samples"):
        simulate_gd((2, 2), str(tmp_path / "bad.npz"), 20, learning_rate=0.01, steps=1)


@pytest.mark.parametrize("width", [512, 800])
def test_parallel_pathways_agree_with_one_thread(width, seed):
    """threads=2 runs the two pathways on two Python threads (1-thread BLAS each; the C
    kernels from width 768; deferred folds after each sweep on 2-thread BLAS). Not the same
    bits on every CPU: 2-thread sgemm splits its sums differently from 1-thread sgemm on
    some CPUs (1.4e-10 on entries ~0.05 was measured on an AVX2-only AMD CPU). Twenty
    float32 steps agree to FLOAT32_RTOL relative to the trajectory's scale (float32 has
    eps 6e-8; a few hundred roundings stay far below 1e-5)."""
    data = hierarchical_dataset()
    kw = dict(activation="tanh", learning_rate=0.01, steps=20, record_every=10, seed=seed, dtype=np.float32)
    one = simulate_gd((3, 2), data, width, threads=1, **kw)
    two = simulate_gd((3, 2), data, width, threads=2, **kw)
    assert two.stats["pathway_workers"] == 2 and two.stats["blas_threads"] == 1
    assert two.stats["deferred_layers"] == 1  # 20 steps: two folds
    for a, b in ((one.K, two.K), (one.loss, two.loss)):
        assert np.max(np.abs(a - b)) <= FLOAT32_RTOL * np.max(np.abs(a))


def train_engine_variants(w, data, activation, activate_last, steps, rank, variants):
    """Train a copy of ``w`` per engine option set in ``variants`` (``eta = 0.05``, float64);
    returns ``[(engine, loss after the steps)]`` with every deferred update folded in."""
    from pathdyn.validation.network.engine import Engine

    trained = []
    for options in variants:
        engine = Engine([[x.copy(order="F") for x in p] for p in w], data.X, data.Y, activation, activate_last,
                         "mean", np.dtype(np.float64), rank, **options)
        for _ in range(steps):
            engine.forward()
            engine.backward_update(0.05)
        engine.fold_all()
        trained.append((engine, engine.forward()))
    return trained


def test_float32_backward_variant_matches_plain_product(seed):
    """The h^T W form of W^T G (used in float32) is the same product, up to rounding."""
    data = hierarchical_dataset()
    w = initialize_weights((4,), 8, 15, 200, init_scale=1.0, seed=seed)
    (plain, _), (rows, _) = train_engine_variants(w, data, "tanh", True, 3, 0, [
        dict(backward_as_row=False, use_kernels=False), dict(backward_as_row=True, use_kernels=False)])
    moved = max(np.max(np.abs(a - b)) for a, b in zip(plain.W[0], w[0]))
    assert moved > 1e-4
    assert max(np.max(np.abs(a - b)) for a, b in zip(plain.W[0], rows.W[0])) < 1e-12 * max(1.0, moved) * 1e3


def test_blocked_forward_variant_matches_plain_product(seed):
    """gemv over column blocks (used for wide float32 layers) is the same W h, up to rounding."""
    from pathdyn.validation.network import FORWARD_BLOCKS_MIN_WIDTH

    data = hierarchical_dataset()
    w = initialize_weights((3,), 8, 15, FORWARD_BLOCKS_MIN_WIDTH, init_scale=1.0, seed=seed)
    (plain, loss), (blocks, loss_blocks) = train_engine_variants(w, data, "relu", False, 2, 0, [
        dict(forward_by_blocks=False, use_kernels=False), dict(forward_by_blocks=True, use_kernels=False)])
    assert abs(loss - loss_blocks) < 1e-10 * loss
    assert max(np.max(np.abs(a - b)) for a, b in zip(plain.W[0], w[0])) > 1e-4  # the steps moved it
    assert max(np.max(np.abs(a - b)) for a, b in zip(plain.W[0], blocks.W[0])) < 1e-12


@pytest.mark.parametrize("variant", [pytest.param(v, id=v) for v in kernels.supported()[1:]] or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"no C kernel variant runs here ({kernels.supported()})"))])
@pytest.mark.parametrize("activation", ["linear", "tanh"])
@pytest.mark.parametrize("P", [8, 5])
def test_engine_steps_with_kernels_match_blas(variant, activation, P, seed):
    """Training steps through each C kernel variant the CPU runs (P = 8, and P = 5 padded to 8)
    equal BLAS's up to rounding."""
    from pathdyn.validation.network import KERNEL_MIN_WIDTH

    rng = np.random.default_rng(seed)
    if P == 8:
        data = hierarchical_dataset()
    else:
        data = Dataset(X=rng.standard_normal((6, P)), Y=rng.standard_normal((4, P)), name="generic")
    N = KERNEL_MIN_WIDTH + 37  # not a multiple of any block size
    w = initialize_weights((3, 2), data.n_in, data.n_out, N, init_scale=1.0, seed=seed)
    # 12 steps: one fold of the deferred updates and a partial one.
    (plain, loss), (fast, loss_fast) = train_engine_variants(w, data, activation, False, 12, 8 * P, [
        dict(use_kernels=False), dict(use_kernels=variant)])
    assert (plain.kernel_layers(), fast.kernel_layers()) == (0, 1) and fast.kernel_path == variant
    moved = max(np.max(np.abs(a - b)) for a, b in zip(plain.W[0], w[0]))
    assert moved > 1e-3  # the steps moved the network: the comparison is not vacuous
    assert abs(loss - loss_fast) < 1e-10 * loss
    assert max(np.max(np.abs(a - b)) for a, b in zip(plain.W[0], fast.W[0])) < 1e-12
