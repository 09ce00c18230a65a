"""Random-initialisation width sweeps of graph networks: the measured infinite-width limit.

For graphs with hidden edges between wide nodes there is, in general, no exact reduced
model from a random initial state (as for parallel pathways of depth >= 3 with Gaussian
hidden layers, the flow does not close on finitely many mode coordinates). This sweep
measures what the finite networks converge to as width grows: for every width and seed the
network's total mode strength ``K_alpha(t) = u_alpha^T Omega v_alpha`` is recorded; per width
the report gives the mean over seeds, the seed spread, each mode's half-time (first time
``K_alpha >= S_alpha / 2``) with a confidence interval, and the distance of the mean
trajectory to the widest width's, ``max_t |<K>_N - <K>_{N_max}| / S_1``.

Where a mapping of the initial state exists (linear graphs of parallel pathways), each
network is also compared with a reduced model started from its own initial weights
(:func:`pathdyn.validation.mapping.map_initial_state`): the paper's q/p model for Gaussian
init (exact mapping for depth-2 pathways, growth-matched beyond), the two-channel model
(projection) for orthogonal init; the median error over seeds is reported per width.

The data get the checks of a pathway sweep: inputs misaligned with the modes are refused
with the measured misalignment unless ``allow_misaligned``; inputs that are not whitened
give the reduced model their input variances ``lambda``. Hidden nodes keep the graph's
activations (the mapping to a reduced model is made only for linear graphs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
import time

import numpy as np

from pathdyn._base.progress import Progress
from pathdyn._base.settings import TrainingTime
from pathdyn.errors import ConfigError
from pathdyn.numerics.alignment import check_alignment
from pathdyn.numerics.datasets import Dataset, as_dataset
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.theory.architecture import Architecture, as_graph
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.validation.compare import compare
from pathdyn.io.jsonio import finite_or_none
from pathdyn.validation.sweep.statistics import fit_slope, mean_interval
from pathdyn.validation.sweep.verdicts import graph_stability_note, limit_evidence, sweep_verdict, tail_slope
from pathdyn.validation.network.graph import initialize_graph_weights, simulate_graph_gd
from pathdyn.validation.mapping import default_method, map_initial_state
from pathdyn.validation.models import reduced_equations

__all__ = ["graph_width_sweep", "half_times", "sweep_judgement"]


def half_times(t: Any, K: Any, S: Any) -> np.ndarray:
    """First time each mode's ``K`` reaches ``S / 2`` (NaN if never), ``K`` of shape ``(T, modes)``.

    Parameters
    ----------
    t : array_like, shape ``(T,)``
        Times.
    K : array_like, shape ``(T, modes)``
        Total strength of every mode.
    S : array_like, shape ``(modes,)``
        Singular values.

    Returns
    -------
    ndarray, shape ``(modes,)``
        The half times.
    """
    reached = np.asarray(K) >= 0.5 * np.asarray(S)
    first = np.argmax(reached, axis=0)
    return np.where(reached.any(axis=0), np.asarray(t)[first], np.nan)


def graph_width_sweep(graph: GraphArchitecture | Architecture, dataset: Dataset | str, widths: Sequence[int],
                      seeds: Sequence[int] = tuple(range(4)), *, init: str = "gaussian", init_scale: float = 0.3, learning_rate: float = 0.02, t_max: float = 30.0,
                      record_dt: float = 0.2, confidence: float = 0.95, progress: bool = False,
                      allow_misaligned: bool = False) -> dict:
    """Train ``len(seeds)`` networks at every width and summarise their total mode strengths.

    Parameters
    ----------
    graph : GraphArchitecture or Architecture (pathways: the graph of their chains)
        The graph.
    dataset : Dataset or str
        Training data.
    widths : sequence of int
        Hidden widths of nodes the graph gives none.
    seeds : sequence of int
        One network per seed at every width.
    init, init_scale, learning_rate : as :func:`simulate_graph_gd`
        The training settings.
    t_max : float
        Training time.
    record_dt : float
        Time between records.
    confidence : float
        Level of the half-time intervals.
    allow_misaligned : bool
        Go on when the inputs are misaligned with the modes (warned).
    progress : bool
        Show progress on standard error: a bar on a terminal, a line every few seconds elsewhere
        (:class:`pathdyn._base.progress.Progress`).

    Returns
    -------
    dict
        ``widths``, ``t``, ``singular_values``, per width: ``mean_K`` (T x modes), ``spread``
        (max over t and modes of the seed standard deviation / S_1), ``half_time`` (mean and
        CI per mode), ``distance_to_widest``; and ``settings``.

    Raises
    ------
    ConfigError
        When a width is not positive or there is no seed.
    DatasetError
        When the inputs are misaligned with the modes (the measured value in the message)
        and ``allow_misaligned`` is false.
    """
    graph = as_graph(graph)  # pathways are the graph of their chains
    widths = [int(w) for w in widths]
    seeds = tuple(int(s) for s in seeds)
    if not widths or min(widths) < 1 or not seeds:
        raise ConfigError(f"widths, seeds: give positive widths and at least one seed, got {widths}, {seeds}")
    run_time = TrainingTime(learning_rate, t_max, record_dt=record_dt)
    dataset = as_dataset(dataset)
    alignment = check_alignment(dataset, allow_misaligned)
    lam = None if alignment.unit_variances else alignment.input_variances
    steps, every = run_time.steps, run_time.record_every
    started = time.perf_counter()
    per_width = []
    depths = graph.pathway_depths() if all(graph.activation(n) == "linear" for n in graph.hidden_nodes) else None
    # a step's time grows as the N x N edges' entries, width squared
    weights = [width**2 for width in widths for _ in seeds]
    with Progress(len(widths) * len(seeds), "graph-sweep networks", enabled=None if progress else False,
                  weights=weights) as bar:
        for width in widths:
            per_width.append(_width_entry(graph, dataset, width, seeds, depths, bar, init=init, init_scale=init_scale,
                                          learning_rate=learning_rate, steps=steps, every=every, confidence=confidence,
                                          lam=lam))
    t, S = per_width[-1].pop("t"), per_width[-1].pop("S")
    for entry in per_width[:-1]:
        del entry["t"], entry["S"]
    widest = per_width[-1]["mean_K"]
    for entry in per_width:
        entry["distance_to_widest"] = float(np.abs(entry["mean_K"] - widest).max() / S[0])
        entry["mean_K"] = entry["mean_K"].tolist()
    judgement = sweep_judgement(widths, per_width, confidence)
    note = graph_stability_note(learning_rate, graph, S, alignment.input_variances)
    if note is not None:
        judgement["verdict"] = f"{judgement['verdict']}; {note}"
    return {"graph": graph.to_dict(), "widths": widths, "seeds": list(seeds), "t": t.tolist(),
            "singular_values": S.tolist(), "per_width": per_width, **judgement,
            "settings": {"init": init, "init_scale": init_scale, "learning_rate": learning_rate, "t_max": t_max,
                         "dataset": dataset.name, "confidence": confidence,
                         "input_variances": alignment.input_variances.tolist(), "misalignment": alignment.misalignment},
            "wall_time": time.perf_counter() - started}


def sweep_judgement(widths: Sequence[int], per_width: list, confidence: float = 0.95) -> dict:
    """The verdict of a graph's width sweep, by the rules of ``pathdyn validate`` (:func:`sweep_verdict`).

    Parameters
    ----------
    widths : sequence of int
    per_width : list of dict
        The entries of :func:`graph_width_sweep`: each network's ``theory_error`` where the graph
        has a reduced model, and its ``seed_deviation`` (its distance to the seed mean).
    confidence : float
        Level of the slope's interval.

    Returns
    -------
    dict
        ``compared`` (what the errors measure), ``slope``, ``slope_ci``, ``verdict``,
        ``passed`` (None: a graph sweep has no targets) and ``evidence`` (:func:`limit_evidence`).

    Notes
    -----
    With a reduced model the error is ``max |K_GD - K_theory| / S_1`` of each network against the
    model started from its own weights; without one it is ``max |K_seed - <K>_seeds| / S_1``, the
    finite-width fluctuation, which should fall as ``N^{-1/2}``. No ``O(eta)`` floor is measured,
    so no limit is claimed.
    """
    if all("theory_error" in entry for entry in per_width):
        model = per_width[0]["theory_error"]
        errors = np.array([entry["theory_error"]["per_seed"] for entry in per_width], dtype=float)
        compared = f"each network against the {model['model']} model ({model['mapping']} mapping) from its own weights"
    else:
        errors = np.array([entry["seed_deviation"] for entry in per_width], dtype=float)
        compared = "each network against the seed mean (finite-width fluctuation; no reduced model for this graph)"
    slope, ci, tail = float("nan"), (float("nan"), float("nan")), float("nan")
    if len(set(widths)) >= 2:
        slope, ci, _ = fit_slope(widths, errors, confidence)
        tail = tail_slope(widths, errors)
    verdict, passed = sweep_verdict(slope, ci, tail, errors, list(widths), None, {}, expected_exact=False,
                                    confidence=confidence)
    return {"compared": compared, "slope": finite_or_none(slope), "slope_ci": [finite_or_none(v) for v in ci],
            "verdict": verdict, "passed": passed, "evidence": limit_evidence(widths, errors, None, confidence)}


def _width_entry(graph: GraphArchitecture, dataset: Dataset, width: int, seeds: Sequence[int], depths: tuple[int, ...] | None,
                 bar: Progress, *, init: str, init_scale: float, learning_rate: float, steps: int, every: int,
                 confidence: float, lam: np.ndarray | None = None) -> dict[str, Any]:
    """One width of :func:`graph_width_sweep`: its networks trained (each counted on ``bar``) and summarised.

    ``lam``: the modes' input variances (None for whitened inputs), for the reduced model.
    """
    initial = [initialize_graph_weights(graph, dataset.n_in, dataset.n_out, width, init, init_scale, seed) for seed in seeds]
    runs = []
    for weights in initial:
        runs.append(simulate_graph_gd(graph, dataset, width, weights=weights, learning_rate=learning_rate, steps=steps,
                                      record_every=every))
        bar.update()
    t = runs[0].t
    S = np.asarray(runs[0].extras["singular_values"])
    K = np.array([r.extras["K_total"] for r in runs])  # (seeds, T, modes)
    halves = np.array([half_times(t, k, S) for k in K])  # (seeds, modes)
    stats = [mean_interval(halves[:, m], confidence, bounds=(0.0, np.inf)) for m in range(S.size)]
    deviation = np.abs(K - K.mean(axis=0)).max(axis=(1, 2)) / S[0]  # each network against the seed mean
    entry = {"width": width, "mean_K": K.mean(axis=0), "spread": float(K.std(axis=0).max() / S[0]),
             "seed_deviation": deviation.tolist(),
             "half_time": [{"mean": m, "ci": list(ci)} for m, ci in stats],
             "diverged": int(sum(not r.success for r in runs)), "t": t, "S": S}
    if depths is not None:
        theory = "two-channel" if init == "orthogonal" else "qp"
        errors = [_theory_error(depths, theory, dataset, w, r, lam, graph.chain_segments())
                  for w, r in zip(initial, runs)]
        entry["theory_error"] = {"model": theory, "mapping": default_method(theory, depths),
                                 "median": float(np.median(errors)), "per_seed": errors}
    return entry


def _theory_error(depths: Sequence[int], theory: str, dataset: Dataset, weights: Mapping[tuple[str, str], np.ndarray], run: Trajectory,
                  lam: np.ndarray | None, segments: Sequence[Sequence[tuple[str, str]]]) -> float:
    """``max |K_GD - K_theory| / S_1`` of one parallel-graph network against a reduced model from its own weights.

    ``lam``: the modes' input variances (None for whitened inputs), a parameter of the equations.
    """

    U, S, Vt = dataset.modes()
    rank = np.asarray(run.extras["singular_values"]).size
    layered = [[weights[e] for e in segment] for segment in segments]
    state = map_initial_state(layered, U[:, :rank], Vt[:rank].T, theory=theory)
    equations = reduced_equations(depths, theory, whitened=lam is None)
    result = integrate(equations, state.state_array(equations), S[:rank], float(run.t[-1]), t_eval=run.t,
                       parameters=None if lam is None else {"lambda": lam})
    return float(compare(run, result).error)
