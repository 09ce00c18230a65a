"""Finite graph networks: the engine's gradient, and the aligned network against the graph's reduced model."""

import functools
from pathlib import Path

import numpy as np
import pytest

from pathdyn.errors import ArchitectureError, ConfigError
from pathdyn.numerics.datasets import Dataset, random_dataset
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.integrate import integrate
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.theory.graph_reduced import derive_graph_mode_equations
from pathdyn.validation.compare import compare
from pathdyn.validation.network.wiring import Wiring
from pathdyn.validation.network.engine import Engine
from pathdyn.validation.network.graph import (
    aligned_graph_weights,
    initialize_graph_weights,
    simulate_graph_gd,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ("two_pathways", "shared_trunk", "two_stream", "two_stream_cross", "visual_cortex")


def example(name, **changes) -> GraphArchitecture:
    graph = GraphArchitecture.from_toml(EXAMPLES / f"{name}.toml")
    return GraphArchitecture(**{"edges": graph.edges, **changes})


def _loss(graph, weights, X, Y, activations):
    act = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}
    values = {"x": X}
    for node in graph.nodes[1:]:
        z = sum(weights[e] @ values[e[0]] for e in graph.in_edges(node))
        values[node] = z if node == "y" else act[activations[node]](z)
    return 0.5 * np.sum((values["y"] - Y) ** 2) / X.shape[1]


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh"])
def test_one_step_is_gradient_descent(activation, rng):
    """The engine's update against central differences of the loss, on a graph with merges and a skip."""
    graph = example("two_stream_cross")
    graph = GraphArchitecture(edges=list(graph.edges) + [("x", "y")])
    X, Y = rng.standard_normal((4, 7)), rng.standard_normal((3, 7))
    weights = initialize_graph_weights(graph, 4, 3, width=5, init_scale=0.8, seed=1)
    activations = {n: activation for n in graph.hidden_nodes}
    before = {e: w.copy() for e, w in weights.items()}
    engine = _engine(graph, weights, X, Y, activations)
    assert abs(0.5 * engine.forward() / X.shape[1] - _loss(graph, before, X, Y, activations)) < 1e-12
    eta, h = 0.1, 1e-6
    engine.backward_update(eta)
    for edge in graph.edges:
        D = rng.standard_normal(before[edge].shape)
        plus, minus = dict(before), dict(before)
        plus[edge], minus[edge] = before[edge] + h * D, before[edge] - h * D
        finite = (_loss(graph, plus, X, Y, activations) - _loss(graph, minus, X, Y, activations)) / (2 * h)
        step = np.sum((before[edge] - engine.weights[edge]) * D) / eta
        assert abs(step - finite) < 1e-6 * max(1, abs(finite)), edge


def _engine(graph, weights, X, Y, activations, deferred_rank=0):
    """The one network engine on a graph's wiring (copies of ``weights``)."""
    return Engine({e: np.asfortranarray(w.copy()) for e, w in weights.items()}, X, Y, activations, False, "mean",
                  np.dtype(np.float64), deferred_rank, wiring=Wiring.of_graph(graph))


@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_deferred_updates_on_a_graph_are_the_same_descent(activation, rng):
    # Merges, a skip and a cross edge: the hidden-to-hidden weights (64 x 64) hold their updates
    # as W0 + A B^T and fold them every 4 steps; the iterates are those of plain updates.
    graph = GraphArchitecture.from_toml(EXAMPLES / "trunk_cross_skip.toml")
    X, Y = rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    weights = initialize_graph_weights(graph, 4, 3, width=64, init_scale=1.0, seed=3)
    activations = {n: activation for n in graph.hidden_nodes}
    plain, deferred = _engine(graph, weights, X, Y, activations), _engine(graph, weights, X, Y, activations, 8)
    assert deferred.deferred_layers() > 0
    for _ in range(10):
        losses = plain.forward(), deferred.forward()
        assert abs(losses[0] - losses[1]) <= 1e-12 * losses[0]
        plain.backward_update(0.05)
        deferred.backward_update(0.05)
    deferred.fold_all()
    moved = max(np.max(np.abs(plain.weights[e] - weights[e])) for e in graph.edges)
    assert moved > 1e-3
    for e in graph.edges:
        assert np.max(np.abs(plain.weights[e] - deferred.weights[e])) <= 1e-12 * moved, e


@functools.lru_cache(maxsize=None)
def _compiled(graph):
    return compile_rhs(derive_graph_mode_equations(graph, invariants=False))


def _aligned_runs(graph, dataset, eta, width, theory_graph=None, t_max=5.0, lam=None):
    """GD from the aligned initial condition and the reduced model of ``theory_graph`` (default: the same graph)."""
    rng = np.random.default_rng(0)
    s0 = {e: 0.1 + 0.2 * rng.random(3) for e in graph.edges}
    weights, bases = aligned_graph_weights(graph, dataset, s0, width=width, seed=2)
    run = simulate_graph_gd(graph, dataset, width, weights=weights, bases=bases, learning_rate=eta,
                            steps=int(round(t_max / eta)), record_every=int(round(0.1 / eta)))
    theory_graph = theory_graph or graph
    equations = _compiled(theory_graph)
    y0 = np.array([s0[e] for e in theory_graph.edges])
    parameters = {} if theory_graph.whitened else {"lambda": lam}
    theory = integrate(equations, y0, run.extras["singular_values"], run.t[-1], t_eval=run.t, parameters=parameters,
                       rtol=1e-11, atol=1e-13)
    return run, theory


def _aligned_error(*args, **kwargs):
    run, theory = _aligned_runs(*args, **kwargs)
    return compare(run, theory).error, run


@pytest.fixture(scope="module")
def data():
    return random_dataset([3.0, 2.0, 1.0], n_in=6, n_out=5, seed=1)


@pytest.mark.parametrize("name", NAMES)
def test_aligned_network_follows_reduced_model_to_the_eta_floor(name, data):
    """Error O(eta): halves when eta halves, and is the same at every width (the flow is exact)."""
    graph = example(name)
    coarse, run = _aligned_error(graph, data, 0.02, width=6)
    fine, _ = _aligned_error(graph, data, 0.01, width=6)
    wide, _ = _aligned_error(graph, data, 0.02, width=40)
    assert 1.7 < coarse / fine < 2.3, (coarse, fine)
    assert fine < 0.05
    assert abs(wide - coarse) < 1e-9
    np.testing.assert_allclose(run.extras["K_total"], run.K.sum(axis=1), atol=1e-12)


def test_wrong_reduced_model_is_caught(data):
    """The visual-cortex network's total K against the reduced model of the graph without its shortcut."""
    graph = example("visual_cortex")
    no_shortcut = GraphArchitecture(edges=[e for e in graph.edges if e != ("V1", "y")])
    scale = data.singular_values[0]
    errors = []
    for theory_graph in (graph, no_shortcut):
        run, theory = _aligned_runs(graph, data, 0.01, width=6, theory_graph=theory_graph)
        errors.append(np.abs(run.extras["K_total"] - theory.K.sum(axis=1)).max() / scale)
    right, wrong = errors
    assert right < 0.02 and wrong > 10 * right, errors


def _aligned_general_dataset(lam, seed=3):
    """Inputs with Sigma_x = V diag(lam) V^T sharing V with Sigma_yx = U diag(S) V^T."""
    base = random_dataset([3.0, 2.0, 1.0], n_in=3, n_out=4, seed=seed)
    U, S, V = base.modes()[0][:, :3], base.modes()[1][:3], base.modes()[2][:3].T
    P = 3
    X = np.sqrt(P) * V @ np.diag(np.sqrt(lam)) @ V.T
    Y = P * (U * S) @ V.T @ np.linalg.inv(X.T)
    return Dataset(X=X, Y=Y, name="aligned non-whitened")


def test_non_whitened_aligned_network_needs_lambda():
    lam = np.array([1.6, 0.7, 1.2])
    data = _aligned_general_dataset(lam)
    graph = example("visual_cortex", whitened=False)
    S = data.modes()[1][:3]  # 3, 2, 1: mode i has input variance lam[i]
    right, run = _aligned_error(graph, data, 0.01, width=6, lam=lam)
    wrong, _ = _aligned_error(graph, data, 0.01, width=6, lam=np.ones(3))
    assert right < 0.02 and wrong > 10 * right, (right, wrong)
    np.testing.assert_allclose(run.extras["K_total"][-1], S / lam, rtol=1e-3)


def test_parallel_graph_engines_agree(data):
    graph = example("two_pathways")
    weights = initialize_graph_weights(graph, data.n_in, data.n_out, width=12, seed=4)
    runs = [simulate_graph_gd(graph, data, 12, weights=weights, learning_rate=0.02, steps=200, record_every=20,
                              engine=engine) for engine in ("graph", "pathway")]
    assert runs[1].provenance["engine"] == "pathway"
    np.testing.assert_allclose(runs[0].K, runs[1].K, atol=1e-10)
    np.testing.assert_allclose(runs[0].loss, runs[1].loss, rtol=1e-10)


@pytest.mark.parametrize("init, activation", [("orthogonal", "relu"), ("gaussian", "tanh")])
def test_random_init_nonlinear_runs(init, activation, data):
    graph = GraphArchitecture.from_toml(EXAMPLES / "visual_cortex.toml")  # widths 64, 32, 32 from the file
    run = simulate_graph_gd(graph, data, init=init, activation=activation, learning_rate=0.05, steps=300,
                            record_every=50, seed=5)
    assert run.success and run.K.shape == (7, 3, 3) and run.loss[-1] < run.loss[0]
    assert run.provenance["activations"]["V1"] == activation


def test_errors(data):
    graph = example("shared_trunk")
    with pytest.raises(ArchitectureError, match="no width"):
        simulate_graph_gd(graph, data, learning_rate=0.1, steps=1)
    with pytest.raises(ConfigError, match="learning_rate.*steps"):
        simulate_graph_gd(graph, data, 4, learning_rate=-1, steps=-1)
    with pytest.raises(ConfigError, match="engine: 'pathway'"):
        simulate_graph_gd(graph, data, 4, learning_rate=0.1, steps=1, engine="pathway")
    with pytest.raises(ConfigError, match="narrower than the 3 modes"):
        aligned_graph_weights(graph, data, {e: 0.1 for e in graph.edges}, width=2)


def test_validate_graph_aligned_reads_lambda_from_the_data():
    from pathdyn.validation.sweep.graph_validate import validate_graph_aligned

    data = _aligned_general_dataset(np.array([1.6, 0.7, 1.2]))
    result = validate_graph_aligned(example("two_stream_cross", whitened=False), data, 6, learning_rate=0.01, t_max=4)
    assert result.comparison.error < 0.02


def test_engines_agree_where_the_c_kernels_run():
    """Width 800: the hidden-to-hidden products go through the C kernels (when built) in both engines."""
    data = random_dataset([3.0, 2.0, 1.0], n_in=6, n_out=5, seed=1)
    graph = example("two_pathways")
    weights = initialize_graph_weights(graph, data.n_in, data.n_out, width=800, seed=4)
    runs = [simulate_graph_gd(graph, data, 800, weights=weights, learning_rate=0.05, steps=20, record_every=10,
                              engine=engine) for engine in ("graph", "pathway")]
    np.testing.assert_allclose(runs[0].K, runs[1].K, atol=1e-10)


def test_float32_graph_follows_the_float64_run(data):
    # Merges, a skip and a cross edge in float32 on the one engine: the run follows float64's
    # to float32's rounding (6e-8), amplified over 200 steps (measured: 6e-8 of S_1; the bound
    # leaves 100x for other CPUs' kernels). A gap of 0 would mean float32 never ran.
    graph = GraphArchitecture.from_toml(EXAMPLES / "trunk_cross_skip.toml")
    runs = [simulate_graph_gd(graph, data, 48, learning_rate=0.05, steps=200, record_every=50, seed=2, dtype=dtype)
            for dtype in (np.float64, np.float32)]
    assert runs[1].provenance["dtype"] == "float32" and runs[0].provenance["dtype"] == "float64"
    moved = np.max(np.abs(runs[0].K[-1] - runs[0].K[0]))
    gap = np.max(np.abs(runs[0].K - runs[1].K))
    assert moved > 0.1 and 0 < gap < 6e-6 * data.singular_values[0], gap


def test_bad_dtype_and_threads_are_refused(data):
    graph = example("two_pathways")
    with pytest.raises(ConfigError, match="dtype"):
        simulate_graph_gd(graph, data, 4, learning_rate=0.1, steps=1, dtype="int8")
    with pytest.raises(ConfigError, match="threads: 0"):
        simulate_graph_gd(graph, data, 4, learning_rate=0.1, steps=1, threads=0)
    with pytest.raises(ConfigError, match="float64 and one thread"):
        simulate_graph_gd(graph, data, 4, learning_rate=0.1, steps=1, dtype=np.float32, engine="pathway")
