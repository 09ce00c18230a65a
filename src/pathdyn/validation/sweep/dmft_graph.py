"""Finite graph networks against the graph DMFT: the seed mean of ``K`` per path as width grows.

The graph DMFT (:mod:`pathdyn.numerics.dmft_graph`) predicts the infinite-width limit of the
ensemble mean of ``K_p(t) = u^T (product along path p) v`` when every edge matrix starts
Gaussian with entries of variance ``sigma^2 / N``. :func:`validate_dmft_graph_width` trains
``len(seeds)`` networks of every width (:func:`pathdyn.validation.network.graph.simulate_graph_gd`),
compares their seed mean with the DMFT (``max_{t, p, alpha} |<K>_seeds - K_DMFT| / S_1``), fits
the slope against width and gives the verdict, with the report and result protocol of the
pathway sweep (:func:`pathdyn.validation.sweep.dmft.validate_dmft_width`): a
:class:`GraphDMFTWidthReport` is a :class:`~pathdyn.validation.sweep.report.DMFTWidthReport`
that also names the graph and its paths.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from pathdyn._base.progress import Progress
from pathdyn._base.settings import TrainingTime
from pathdyn.errors import ConfigError
from pathdyn.numerics.datasets import Dataset
from pathdyn.numerics.dmft_graph import solve_dmft_graph, solve_dmft_graph_flow
from pathdyn.theory.architecture import Architecture, as_graph
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.validation.network.graph import simulate_graph_gd
from pathdyn.validation.sweep.cases import default_dataset
from pathdyn.validation.sweep.dmft import MAX_DISCRETE_STEPS, ensemble_verdict, seed_mean_statistics
from pathdyn.validation.sweep.report import TIME_MAPPING, DMFTWidthReport
from pathdyn.validation.sweep.statistics import fit_slope
from pathdyn.validation.sweep.verdicts import MIN_SEEDS, MIN_WIDTHS, graph_stability_note, limit_evidence, tail_slope

__all__ = ["GraphDMFTWidthReport", "dmft_graph_prediction", "validate_dmft_graph_width", "DEFAULT_TARGETS"]

#: The issue's targets for the seed-mean error: slope at most -0.3, at most 0.5% of S_1 at the largest width.
DEFAULT_TARGETS = {"max_slope": -0.3, "max_error": 0.005}
#: Tolerance of the continuous-time solve (relative to S_1) beyond :data:`MAX_DISCRETE_STEPS`.
FLOW_TOL = 2e-4
COMPARED = ("seed mean of per-path K_p = u^T (product of edge matrices along p) v against the graph DMFT "
            "(the infinite-width ensemble mean)")
LIMIT = ("graph DMFT: infinite-width limit of gradient descent with every edge matrix Gaussian (variance sigma^2/N), "
         "whitened data, modes decoupled")


@dataclass(frozen=True, repr=False, kw_only=True)
class GraphDMFTWidthReport(DMFTWidthReport):
    """A :class:`DMFTWidthReport` of a graph: ``depths`` are the paths' lengths, in ``paths`` order.

    Attributes
    ----------
    architecture : dict
        The graph (:meth:`pathdyn.theory.graph.GraphArchitecture.to_dict`).
    paths : tuple of str
        Every compared path as its node sequence, ``"x>t1>a1>y"``; ``("total",)`` when the
        graph has too many paths and the total ``K`` is compared instead.
    """

    architecture: dict = field(default_factory=dict)
    paths: tuple = ()


def dmft_graph_prediction(graph: GraphArchitecture, singular_values: ArrayLike, *, init_scale: float, learning_rate: float,
                          steps: int, per_path: bool = True) -> tuple:
    """The graph DMFT's ``K`` at every gradient step ``0 .. steps``.

    Parameters
    ----------
    graph : GraphArchitecture
    singular_values : array_like, shape (modes,)
    init_scale : float
        ``sigma`` of every edge matrix.
    learning_rate : float
        ``eta`` of the networks; step ``k`` is time ``eta k``.
    steps : int
        Gradient steps of the networks.
    per_path : bool
        ``K`` per path; False: the total ``K`` alone, shape ``(steps + 1, 1, modes)``.

    Returns
    -------
    K : ndarray, shape (steps + 1, paths or 1, modes)
    discrete : bool
        Whether solved at ``learning_rate`` (up to :data:`MAX_DISCRETE_STEPS` steps), else in
        continuous time and interpolated.

    Raises
    ------
    ConfigError, IntegrationError
        As :func:`pathdyn.numerics.dmft_graph.solve_dmft_graph`.
    """
    if steps <= MAX_DISCRETE_STEPS:
        run = solve_dmft_graph(graph, singular_values, learning_rate=learning_rate, steps=steps, init_scale=init_scale,
                               per_path=per_path)
        discrete = True
    else:
        run = solve_dmft_graph_flow(graph, singular_values, t_max=learning_rate * steps, num_points=4 * steps + 1,
                                    init_scale=init_scale, per_path=per_path, tol=FLOW_TOL)
        discrete = False
    K = run.K if per_path else run.extras["K_total"][:, None, :]
    if not discrete:
        t = learning_rate * np.arange(steps + 1)
        flat = K.reshape(K.shape[0], -1)
        K = np.stack([np.interp(t, run.t, flat[:, j]) for j in range(flat.shape[1])], axis=1).reshape(t.size, *K.shape[1:])
    return K, discrete


def _checked_dataset(dataset: Dataset | None) -> Dataset:
    """Whitened, non-degenerate data (the DMFT's setting); the default data when ``None``."""
    dataset = default_dataset() if dataset is None else dataset
    if not dataset.is_whitened:
        raise ConfigError(f"dataset: {dataset.name!r} is not whitened; the graph DMFT assumes Sigma_x = I")
    if any(len(block) > 1 for block in dataset.degenerate_blocks()):
        raise ConfigError(f"dataset: {dataset.name!r} has degenerate singular values; per-mode K is undefined there, "
                          "use non-degenerate data (e.g. random:2,1.4,0.9,0.5)")
    return dataset


def _check_sweep(graph: GraphArchitecture, widths: Sequence[int], seeds: Sequence[int], init_scale: float, learning_rate: float,
                 t_max: float) -> None:
    """One :class:`ConfigError` listing every bad setting of a sweep."""
    problems = []
    if any(graph.activation(node) != "linear" for node in graph.hidden_nodes):
        problems.append("architecture: the graph has nonlinear activations; the DMFT is the linear network's theory")
    if not widths or any(int(w) != w or w < 1 for w in widths):
        problems.append(f"widths: expected whole numbers >= 1, got {list(widths)}")
    if len(seeds) < 2:
        problems.append(f"seeds: a seed mean needs at least two seeds, got {list(seeds)}")
    for name, value in (("init-scale", init_scale), ("learning-rate", learning_rate), ("t-max", t_max)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            problems.append(f"{name}: expected a positive number, got {value!r}")
    if problems:
        raise ConfigError("; ".join(problems))


def _network_K(graph: GraphArchitecture, dataset: Dataset, width: int, seed: int, init_scale: float, learning_rate: float, steps: int,
               per_path: bool) -> np.ndarray:
    """One network's ``K`` (per path, or the total as one column); its final weights are dropped at once."""
    run = simulate_graph_gd(graph, dataset, width, init="gaussian", init_scale=init_scale, learning_rate=learning_rate,
                            steps=steps, seed=seed)
    return np.asarray(run.K if per_path else run.extras["K_total"][:, None])


def validate_dmft_graph_width(graph: GraphArchitecture | Architecture, widths: Sequence[int] = (128, 256, 512, 1024),
                              seeds: Sequence[int] = tuple(range(8)), *, init_scale: float = 0.5,
                              learning_rate: float = 0.02, t_max: float = 8.0, dataset: Dataset | None = None,
                              targets: dict | None = None, confidence: float = 0.95, progress: bool = False,
                              ) -> GraphDMFTWidthReport:
    """Sweep widths: the seed mean of per-path ``K`` of finite graph networks against the graph DMFT.

    Parameters
    ----------
    graph : GraphArchitecture or Architecture (pathways: the graph of their chains)
        Linear; every hidden node gets the sweep's width.
    widths : sequence of int
        Hidden widths ``N`` (every node).
    seeds : sequence of int
        At least two; one network per (width, seed), Gaussian init at ``init_scale``.
    init_scale : float
        ``sigma``: every edge matrix has entries of variance ``sigma^2 / N``.
    learning_rate, t_max : float
        Gradient descent at ``eta`` for ``round(t_max / eta)`` steps (time ``t = eta k``).
    dataset : Dataset, optional
        Whitened, non-degenerate (default :func:`pathdyn.validation.sweep.cases.default_dataset`).
    targets : dict, optional
        ``max_slope`` and ``max_error`` (default :data:`DEFAULT_TARGETS`).
    confidence : float
        Of the slope's interval.
    progress : bool
        Show progress on standard error (:class:`pathdyn._base.progress.Progress`).

    Returns
    -------
    GraphDMFTWidthReport
        ``ensemble_errors`` (the seed mean's error per width), ``standard_errors`` (its
        sampling noise there), ``total_errors`` (summed over paths), slope and verdict.

    Raises
    ------
    ConfigError
        Nonlinear graphs, non-whitened or degenerate data, fewer than two seeds, bad settings.
    """
    graph = as_graph(graph)  # pathways are the graph of their chains
    widths, seeds = tuple(int(w) for w in widths), tuple(int(s) for s in seeds)
    _check_sweep(graph, widths, seeds, init_scale, learning_rate, t_max)
    dataset = _checked_dataset(dataset)
    targets = dict(DEFAULT_TARGETS if targets is None else targets)
    started = time.perf_counter()
    S = dataset.modes()[1]
    steps = TrainingTime(learning_rate, t_max).steps
    per_path = graph.paths_listed
    K_dmft, discrete = dmft_graph_prediction(graph, S, init_scale=init_scale, learning_rate=learning_rate, steps=steps,
                                             per_path=per_path)
    stacks = []
    # a step's time grows as the N x N edges' entries, width squared
    weights = [width**2 for width in widths for _ in seeds]
    with Progress(len(weights), "validate dmft graph", enabled=None if progress else False, weights=weights) as bar:
        for width in widths:
            runs = []
            for seed in seeds:
                runs.append(_network_K(graph, dataset, width, seed, init_scale, learning_rate, steps, per_path))
                bar.update()
            stacks.append(np.stack(runs))
    statistics = seed_mean_statistics(stacks, K_dmft, float(np.max(S)))
    paths = tuple(">".join([p[0][0]] + [e[1] for e in p]) for p in graph.paths) if per_path else ("total",)
    depths = graph.path_lengths if per_path else (graph.longest_path,)
    slope, ci, _ = fit_slope(widths, statistics.ensemble[:, None], confidence)
    tail = tail_slope(widths, statistics.ensemble[:, None])
    scatter_slope = fit_slope(widths, statistics.scatter[:, None])[0]
    evidence = limit_evidence(widths, statistics.ensemble[:, None], None, confidence)
    evidence.update(num_seeds=len(seeds), enough_data=bool(evidence["num_widths"] >= MIN_WIDTHS and len(seeds) >= MIN_SEEDS))
    verdict, passed = ensemble_verdict(slope, ci, tail, statistics.ensemble, widths, evidence, targets,
                                       statistics.standard[-1])
    verdict += (f"; summed over paths {statistics.total_errors[-1]:.4f} (noise {statistics.total_standard[-1]:.4f})"
                f"; sampling noise of the mean {statistics.standard[-1]:.4f} at width {widths[-1]}"
                f"; single networks scatter {statistics.scatter[-1]:.4f} (slope {scatter_slope:.2f} against width)")
    note = graph_stability_note(learning_rate, graph, S)  # the DMFT's data are whitened (lambda = 1)
    verdict = verdict if note is None else f"{verdict}; {note}"
    t = learning_rate * np.arange(steps + 1)
    return GraphDMFTWidthReport(
        depths=tuple(depths), widths=widths, seeds=seeds, init="gaussian", init_scale=float(init_scale), theory="dmft",
        mapping="none", dataset=dataset.name, singular_values=tuple(float(s) for s in S),
        learning_rate=float(learning_rate), t_max=float(t[-1]), steps=steps, errors=statistics.errors, slope=slope,
        slope_ci=ci, tail_slope=tail, confidence=confidence, lr_floor=None, time_mapping=TIME_MAPPING,
        limit=LIMIT + ("; solved at the networks' learning rate (no O(eta) floor)" if discrete
                       else "; solved in continuous time"),
        compared=COMPARED, verdict=verdict, passed=passed, targets=targets, final_K_gd=statistics.final_gd,
        final_K_theory=np.broadcast_to(K_dmft[-1], statistics.final_gd.shape).copy(),
        example={"width": widths[-1], "seed": seeds[0], "t": t, "K_gd": stacks[-1].mean(axis=0), "K_theory": K_dmft},
        wall_time_s=time.perf_counter() - started, ensemble_errors=statistics.ensemble,
        standard_errors=statistics.standard, scatter=statistics.scatter, scatter_slope=scatter_slope, discrete=discrete,
        total_errors=statistics.total_errors, total_standard_errors=statistics.total_standard, evidence=evidence,
        architecture=graph.to_dict(), paths=paths,
    )
