"""Finite-width networks on any graph of linear maps, trained by full-batch gradient descent.

The network of a :class:`~pathdyn.theory.graph.GraphArchitecture`: every edge ``(u, v)``
is a matrix ``W_e`` of shape ``(width of v, width of u)``; a hidden node sums its incoming
edges and applies its activation (``linear``, ``relu`` or ``tanh``); the output ``y`` sums
its incoming edges. Loss and time units are those of
:func:`pathdyn.validation.network.simulate_gd` (``L = 1/(2P) sum ||y - f(x)||^2``,
``t = eta * step``). Runs are recorded in mode coordinates: for every path ``p`` from ``x``
to ``y`` the strength ``K_{p alpha} = u_alpha^T W_last ... W_first v_alpha`` (the
reduced model's per-path strength), the network's total ``diag(U^T Omega V)``, and, for a
network built by :func:`aligned_graph_weights`, every edge strength
``s_{e alpha} = (r_v^alpha)^T W_e r_u^alpha`` in the node bases.

Weights are a dict ``{edge: ndarray}`` (Fortran-ordered, so each update is one BLAS call
with ``beta = 1`` into the weight itself), stepped by the one network engine
(:class:`pathdyn.validation.network.engine.Engine`) that steps pathway networks too.
"""

from __future__ import annotations

import math
import numbers
import time

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from pathdyn._base.checks import is_whole_number
from pathdyn._base.progress import Progress
from pathdyn.errors import ArchitectureError, ConfigError, DatasetError
from pathdyn.numerics.datasets import Dataset, as_dataset
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.theory.architecture import Architecture, as_graph
from pathdyn.theory.graph import INPUT, OUTPUT, GraphArchitecture
from pathdyn.validation.network.blas_threads import blas_threads
from pathdyn.validation.network import (
    ACTIVATIONS,
    DEFAULT_INIT_SCALE,
    DIVERGENCE_FACTOR,
    simulate_gd,
)
from pathdyn.validation.network.engine import Engine, default_deferred_rank
from pathdyn.validation.network.init import haar_orthogonal
from pathdyn.validation.network.spec import check_dtype
from pathdyn.validation.network.wiring import Wiring

__all__ = [
    "GRAPH_INITS",
    "aligned_graph_weights",
    "graph_node_widths",
    "initialize_graph_weights",
    "simulate_graph_gd",
]

GRAPH_INITS = ("gaussian", "orthogonal")
#: Which driver trains a graph: both step the one node-form :class:`Engine`; ``pathway`` is
#: :func:`~pathdyn.validation.network.simulate_gd` (parallel pathways only), ``auto`` is ``graph``.
ENGINES = ("auto", "graph", "pathway")


def graph_node_widths(graph: GraphArchitecture, n_in: int, n_out: int, width: int | None = None) -> dict:
    """Width of every node: ``n_in`` at ``x``, ``n_out`` at ``y``, the graph's widths, else ``width``.

    Parameters
    ----------
    graph : GraphArchitecture
        The graph.
    n_in, n_out : int
        Input and output dimensions.
    width : int, optional
        Width of hidden nodes the graph gives none.

    Returns
    -------
    dict
        Node -> width.

    Raises
    ------
    ArchitectureError
        When a hidden node has no width in the graph and ``width`` is not a positive integer.
    """
    sizes = {INPUT: int(n_in), OUTPUT: int(n_out)}
    missing = []
    for node in graph.hidden_nodes:
        given = graph.width(node)
        if given is not None:
            sizes[node] = given
        elif width is not None and is_whole_number(width) and width >= 1:
            sizes[node] = int(width)
        else:
            missing.append(node)
    if missing:
        raise ArchitectureError(
            f"width: hidden node(s) {', '.join(missing)} have no width in the graph and width={width!r}; "
            "give width=N (a positive integer) or widths in the [graph] table"
        )
    return sizes


def _reference_width(graph, sizes) -> int:
    hidden = [sizes[n] for n in graph.hidden_nodes]
    return max(hidden) if hidden else max(sizes[INPUT], sizes[OUTPUT])


def _check_init_scale(init, init_scale) -> float:
    sigma = DEFAULT_INIT_SCALE[init] if init_scale is None else init_scale
    if not isinstance(sigma, numbers.Real) or not math.isfinite(sigma) or sigma < 0:
        raise ConfigError(f"init_scale: {init_scale!r} is not a finite number >= 0; e.g. init_scale=0.3")
    return float(sigma)


def initialize_graph_weights(graph: GraphArchitecture, n_in: int, n_out: int, width: int | None = None, init: str = "gaussian",
                             init_scale: float | None = None, seed: int = 0) -> dict:
    """Random initial weights of a graph network.

    Parameters
    ----------
    graph : GraphArchitecture
    n_in, n_out : int
    width : int, optional
        Width of hidden nodes the graph gives none.
    init : {"gaussian", "orthogonal"}
        ``gaussian``: every entry normal with variance ``sigma^2 / N``, ``N`` the largest
        hidden width (the convention of :func:`pathdyn.validation.network.initialize_weights`).
        ``orthogonal``: edges between two hidden nodes are ``sigma * O`` with ``O``
        Haar (semi-)orthogonal; edges touching ``x`` or ``y`` Gaussian as above.
    init_scale : float, optional
        ``sigma`` (default 0.3).
    seed : int
        Weights are drawn edge by edge, in edge order.

    Returns
    -------
    dict
        Edge -> Fortran-ordered float64 array.

    Raises
    ------
    ConfigError
        When ``init`` is unknown.
    ArchitectureError
        When a hidden node has no width.
    """
    if init not in GRAPH_INITS:
        raise ConfigError(f"init: unknown {init!r}; choose one of {', '.join(GRAPH_INITS)}")
    sigma = _check_init_scale(init, init_scale)
    sizes = graph_node_widths(graph, n_in, n_out, width)
    N = _reference_width(graph, sizes)
    rng = np.random.default_rng(seed)
    weights = {}
    for u, v in graph.edges:
        rows, cols = sizes[v], sizes[u]
        if init == "orthogonal" and u != INPUT and v != OUTPUT:
            w = sigma * haar_orthogonal(rng, rows, cols)
        else:
            w = (sigma / math.sqrt(N)) * rng.standard_normal((rows, cols))
        weights[(u, v)] = np.asfortranarray(w)
    return weights


def _dataset_modes(dataset: Dataset) -> tuple:
    U, S, Vt = dataset.modes()
    rank = dataset.rank
    if rank == 0:
        raise DatasetError(f"dataset {dataset.name!r}: Sigma_yx = Y X^T / P is zero; there is nothing to learn")
    return U[:, :rank], S[:rank], Vt[:rank].T


def aligned_graph_weights(graph: GraphArchitecture, dataset: Dataset | str, strengths: dict, width: int | None = None, seed: int = 0) -> tuple:
    """Weights on the aligned (decoupled, spectral) initial condition of the reduced model.

    ``W_e = R_v diag(s_e) R_u^T`` with ``R_x = V`` and ``R_y = U`` (the singular vectors of
    ``Sigma_yx``) and, at every hidden node, ``R_h`` a Haar-random matrix with orthonormal
    columns, one per mode. Gradient flow keeps this form and the edge strengths follow the
    graph's per-edge reduced equations exactly (whitened inputs, or ``Sigma_x`` sharing
    the right singular vectors).

    Parameters
    ----------
    graph : GraphArchitecture
    dataset : Dataset or str
    strengths : dict
        Edge -> initial strength ``s_e`` per mode (a number or an array of length ``modes``).
    width : int, optional
        Width of hidden nodes the graph gives none (at least the number of modes).
    seed : int
        Seed of the hidden-node bases.

    Returns
    -------
    (weights, bases) : dict edge -> array, dict node -> (width, modes) array

    Raises
    ------
    ConfigError
        When an edge has no strength, a strength names no edge, or a hidden node is
        narrower than the number of modes (every problem in one message).
    """
    dataset = as_dataset(dataset)
    U, S, V = _dataset_modes(dataset)
    modes = S.size
    sizes = graph_node_widths(graph, dataset.n_in, dataset.n_out, width)
    problems = [f"strengths: no value for edge {e}" for e in graph.edges if e not in strengths]
    problems += [f"strengths: {e} is not an edge of the graph" for e in strengths if tuple(e) not in graph.edges]
    narrow = [n for n in graph.hidden_nodes if sizes[n] < modes]
    if narrow:
        problems.append(f"width: node(s) {', '.join(narrow)} narrower than the {modes} modes; use width >= {modes}")
    if problems:
        raise ConfigError("; ".join(problems))
    rng = np.random.default_rng(seed)
    bases = {INPUT: V, OUTPUT: U}
    for node in graph.hidden_nodes:
        bases[node] = haar_orthogonal(rng, sizes[node], modes)
    weights = {}
    for u, v in graph.edges:
        s = np.broadcast_to(np.asarray(strengths[(u, v)], dtype=float), (modes,))
        weights[(u, v)] = np.asfortranarray((bases[v] * s) @ bases[u].T)
    return weights, bases


class _GraphRecorder:
    """Per-path (or, for graphs with too many paths to list, total), total and per-edge mode strengths."""

    def __init__(self, graph, dataset, bases):
        self.graph = graph
        U, S, V = _dataset_modes(dataset)
        self.Ut, self.V, self.S = U.T, V, S
        self.XpV = np.linalg.pinv(dataset.X) @ V
        self.bases = bases

    def paths(self, W) -> np.ndarray:
        """``u^T (product along p) v`` for every path, or the total ``diag(U^T Omega V)`` alone (node form)."""
        if not self.graph.paths_listed:
            return self.forward_total(W)[None, :]
        out = np.empty((self.graph.num_paths, self.S.size))
        # Depth first over the edges, in the order of graph.paths, keeping the product of every prefix:
        # one product per edge of the tree of path prefixes, not one per edge of every path.
        prefix, stack, count = [self.V], [iter(self.graph.out_edges(INPUT))], 0
        while stack:
            edge = next(stack[-1], None)
            if edge is None:
                stack.pop()
                prefix.pop()
                continue
            M = W[edge] @ prefix[-1]
            if edge[1] == OUTPUT:
                out[count] = np.einsum("ai,ia->a", self.Ut, M)
                count += 1
            else:
                prefix.append(M)
                stack.append(iter(self.graph.out_edges(edge[1])))
        return out

    def forward_total(self, W) -> np.ndarray:
        """``diag(U^T Omega V)`` from the forward maps ``F_v V``, node by node in topological order."""
        forward = {INPUT: self.V}
        for node in self.graph.nodes[1:]:
            forward[node] = sum(W[e] @ forward[e[0]] for e in self.graph.in_edges(node))
        return np.einsum("ai,ia->a", self.Ut, forward[OUTPUT])

    def total(self, F) -> np.ndarray:
        return np.einsum("ai,ia->a", self.Ut @ F, self.XpV)

    def edges(self, W) -> np.ndarray:
        return np.stack([np.einsum("ia,ij,ja->a", self.bases[v], W[(u, v)], self.bases[u]) for u, v in self.graph.edges])


def _check_run(learning_rate, steps, record_every, engine, threads):
    problems = []
    if threads is not None and (not is_whole_number(threads) or threads < 1):
        problems.append(f"threads: {threads!r} is not a whole number >= 1")
    if not isinstance(learning_rate, numbers.Real) or not (learning_rate > 0 and math.isfinite(learning_rate)):
        problems.append(f"learning_rate: {learning_rate!r} must be a positive number")
    if not is_whole_number(steps) or steps < 0:
        problems.append(f"steps: {steps!r} must be a whole number >= 0")
    if not is_whole_number(record_every) or record_every < 1:
        problems.append(f"record_every: {record_every!r} must be a whole number >= 1")
    if engine not in ENGINES:
        problems.append(f"engine: unknown {engine!r}; choose one of {', '.join(ENGINES)}")
    if problems:
        raise ConfigError("; ".join(problems))


def _node_activations(graph, activation) -> dict:
    if activation is not None and activation not in ACTIVATIONS:
        raise ConfigError(f"activation: unknown {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    return {n: activation or graph.activation(n) for n in graph.hidden_nodes}


def simulate_graph_gd(graph: GraphArchitecture | Architecture, dataset: Dataset | str, width: int | None = None, *, init: str = "gaussian",
                      init_scale: float | None = None, activation: str | None = None, learning_rate: float,
                      steps: int, record_every: int = 1, seed: int = 0, weights: dict | None = None,
                      bases: dict | None = None, engine: str = "auto", dtype: DTypeLike = np.float64,
                      threads: int | None = 1, divergence_factor: float = DIVERGENCE_FACTOR,
                      progress: bool = False) -> Trajectory:
    """Train a finite graph network by full-batch gradient descent, recorded in mode coordinates.

    Parameters
    ----------
    graph : GraphArchitecture or Architecture (pathways: the graph of their chains)
    dataset : Dataset or str
    width : int, optional
        Width of hidden nodes the graph gives none.
    init, init_scale, seed : see :func:`initialize_graph_weights` (ignored with ``weights``).
    activation : {"linear", "relu", "tanh"}, optional
        Activation of every hidden node; default each node's own (``linear`` unless the
        graph says otherwise).
    learning_rate, steps, record_every : as :func:`pathdyn.validation.network.simulate_gd`.
    weights : dict, optional
        Initial weights (edge -> array), e.g. from :func:`aligned_graph_weights`; copied.
    bases : dict, optional
        Node -> orthonormal mode basis (from :func:`aligned_graph_weights`); records the
        edge strengths ``extras["edge_strengths"]`` of shape ``(T, n_edges, modes)``.
    engine : {"auto", "graph", "pathway"}
        Which driver: both step the one node-form engine
        (:class:`~pathdyn.validation.network.engine.Engine`, with its C kernels and deferred
        updates). ``graph`` (and ``auto``) records per path from the edge matrices;
        ``pathway`` hands the network to :func:`~pathdyn.validation.network.simulate_gd`
        (linear graphs of parallel pathways without ``bases`` only), which records per pathway.
    dtype : float64 (default) or float32
        The weights' and the data's dtype while training (records are computed in float64).
    threads : int or None
        BLAS threads (default 1; ``None`` leaves BLAS alone).
    divergence_factor : float
        Stop as diverged when the loss exceeds this factor times
        ``max(initial loss, loss of the zero network)``.
    progress : bool
        Show progress on standard error (:class:`pathdyn._base.progress.Progress`: a bar on a
        terminal, a line every few seconds elsewhere, and the projected total of a long run).

    Returns
    -------
    Trajectory
        ``K`` of shape ``(T, n_paths, modes)``: ``u^T (product along path p) v`` per path, in
        ``graph.paths`` order (for a graph with more than
        :data:`~pathdyn.theory.graph.MAX_LISTED_PATHS` paths, shape ``(T, 1, modes)``: the
        product of the forward maps, ``diag(U^T Omega V)``); ``extras["K_total"]`` ``(T, modes)`` the network's
        ``diag(U^T Omega V)`` (from its outputs; equal to the sum over paths when linear);
        ``extras["singular_values"]``, ``extras["final_weights"]``.

    Raises
    ------
    ConfigError, ArchitectureError, DatasetError
        For bad input. A diverging run returns ``success=False`` with a message.
    """
    graph = as_graph(graph)  # pathways are the graph of their chains
    _check_run(learning_rate, steps, record_every, engine, threads)
    dtype = check_dtype(dtype)
    dataset = as_dataset(dataset)
    activations = _node_activations(graph, activation)
    depths = graph.pathway_depths()
    # The pathway driver records K from each pathway's output, the graph driver from the product of
    # the edge matrices: the two agree for linear networks only, so only those are handed over.
    pathway_ok = depths is not None and set(activations.values()) <= {"linear"} and bases is None
    if engine == "pathway" and not (pathway_ok and dtype == np.float64 and threads == 1):
        raise ConfigError("engine: 'pathway' needs a linear graph of parallel pathways, no bases, float64 and one "
                          "thread; use engine='graph'")
    if engine == "pathway":
        return _simulate_as_pathways(graph, dataset, width, depths, activations, init, init_scale, learning_rate,
                                     steps, record_every, seed, weights, divergence_factor, progress)
    if weights is None:
        weights = initialize_graph_weights(graph, dataset.n_in, dataset.n_out, width, init, init_scale, seed)
    sizes = graph_node_widths(graph, dataset.n_in, dataset.n_out, width)
    weights = _check_weights(graph, weights, sizes, dtype)
    recorder = _GraphRecorder(graph, dataset, bases)
    rank = default_deferred_rank(max(sizes[n] for n in graph.hidden_nodes) if graph.hidden_nodes else 0,
                                 dataset.num_samples)
    engine_ = Engine(weights, dataset.X, dataset.Y, activations, False, "mean", dtype, rank,
                     wiring=Wiring.of_graph(graph))
    with blas_threads(threads), Progress(steps, "simulate", enabled=None if progress else False) as bar:
        return _run(graph, dataset, engine_, recorder, learning_rate, steps, record_every, divergence_factor,
                    {"init": init if bases is None else "aligned", "init_scale": init_scale, "seed": seed,
                     "activations": activations, "engine": "graph", "dtype": dtype.name, "threads": threads,
                     "deferred_rank": engine_.rank}, bar)


def _check_weights(graph, weights, sizes, dtype) -> dict:
    problems = []
    out = {}
    for u, v in graph.edges:
        w = weights.get((u, v))
        if w is None:
            problems.append(f"weights: no matrix for edge {u} -> {v}")
            continue
        w = np.asarray(w, dtype=float)
        if w.shape != (sizes[v], sizes[u]):
            problems.append(f"weights[{u}->{v}]: shape {w.shape}, expected {(sizes[v], sizes[u])}")
        elif not np.all(np.isfinite(w)):
            problems.append(f"weights[{u}->{v}]: holds NaN or infinite values")
        out[(u, v)] = np.array(w, order="F", dtype=dtype)
    if problems:
        raise ConfigError("; ".join(problems))
    return out


def _run(graph, dataset, engine, recorder, eta, steps, record_every, divergence_factor, settings, bar) -> Trajectory:
    record_steps = sorted(set(range(0, steps + 1, record_every)) | {steps})
    K, total, edges, losses = [], [], [], []
    zero_loss = 0.5 * float(np.vdot(dataset.Y, dataset.Y)) / dataset.num_samples
    start = time.perf_counter()
    half_mean = 0.5 / dataset.num_samples  # the engine returns ||E||^2; L = ||E||^2 / (2P)
    loss = half_mean * engine.forward()
    limit = divergence_factor * max(loss, zero_loss)
    success, message = True, f"completed {steps} gradient-descent steps"
    done: list[Any] = []
    for step in range(steps + 1):
        if not (math.isfinite(loss) and loss <= limit):
            success = False
            message = (f"diverged at step {step} (loss {loss:.3g}); use a smaller learning_rate "
                       f"(now {eta:g}) or a smaller init_scale")
            break
        if step == record_steps[len(done)]:
            done.append(step)
            engine.fold_all()  # the recorder reads the weights themselves
            K.append(recorder.paths(engine.weights))
            total.append(recorder.total(engine.out))
            losses.append(loss)
            if recorder.bases is not None:
                edges.append(recorder.edges(engine.weights))
        if step == steps:
            break
        engine.backward_update(eta)
        loss = half_mean * engine.forward()
        bar.update()
    engine.fold_all()
    extras = {"K_total": np.array(total), "singular_values": recorder.S, "final_weights": engine.weights}
    if edges:
        extras["edge_strengths"] = np.array(edges)
    steps_done = np.array(done)
    return Trajectory(
        t=eta * steps_done, K=np.array(K), loss=np.array(losses), success=success, message=message,
        step=steps_done, extras=extras,
        stats={"wall_time": time.perf_counter() - start, "steps": int(steps_done[-1]) if done else 0},
        provenance={"graph": graph.to_dict(), "dataset": dataset.name, "learning_rate": eta, **settings},
    )


def _simulate_as_pathways(graph, dataset, width, depths, activations, init, init_scale, eta, steps, record_every,
                          seed, weights, divergence_factor, progress) -> Trajectory:
    """A graph of parallel pathways run by the pathway driver (same engine, same network, its recording)."""
    segments = graph.chain_segments()
    sizes = graph_node_widths(graph, dataset.n_in, dataset.n_out, width)
    hidden = [[sizes[e[1]] for e in segment[:-1]] for segment in segments]
    if weights is None:
        weights = initialize_graph_weights(graph, dataset.n_in, dataset.n_out, width, init, init_scale, seed)
    missing = [e for e in graph.edges if e not in weights]
    if missing:
        raise ConfigError(f"weights: no matrix for edge(s) {missing}")
    layered = [[weights[e] for e in segment] for segment in segments]  # simulate_gd checks and copies them
    trajectory = simulate_gd(
        depths, dataset, width=hidden,
        learning_rate=eta, steps=steps, record_every=record_every, weights=layered,
        divergence_factor=divergence_factor, progress=progress,
    )
    trajectory.extras["K_total"] = trajectory.K.sum(axis=1)  # linear: the paths add up to Omega
    trajectory.provenance.update({"graph": graph.to_dict(), "engine": "pathway", "init": init, "seed": seed})
    return trajectory
