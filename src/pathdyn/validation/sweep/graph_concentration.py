"""Concentration on graphs: how each mode distributes over the paths of a graph network.

The paper's headline question (is each mode learned by one pathway?) asked of graphs that
are not parallel pathways. For every seed a network is trained from random initial weights
by gradient descent; at the end, for each mode ``alpha``, the share of path ``p`` is
``|K_{p alpha}| / sum_q |K_{q alpha}|``. Three summaries per graph, each a mean over seeds
(each seed contributes its mean over modes, since the modes of one network are not
independent) with a t-distribution confidence interval:

- the *dominant path fraction* ``max_p`` share (``1 / n_paths``: even; 1: one path);
- the *dominant output-stream fraction*: shares summed over paths that end with the same
  edge into ``y``, then the largest (two heads, two streams);
- the *dominant input-stream fraction*: the same grouped by the first edge out of ``x``.

A graph with one edge out of ``x`` (a shared trunk) has input-stream fraction 1 by
construction; the report says which groupings are trivial.

With ``dmft=True`` (linear graphs, Gaussian init) the graph DMFT's ``K_p`` at ``t_max``
(:mod:`pathdyn.numerics.dmft_graph`, the infinite-width ensemble mean) stands beside the
networks' seed mean of ``K_p``, and the summary gives the shares of both: which path takes
each mode *on average*. The DMFT predicts the mean, not a single network's split: on equal
paths its shares are even however strongly single networks concentrate.
:func:`shortcut_study` asks it of chains with a shortcut, against depth and against where
the shortcut enters.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from pathdyn._base.progress import Progress
from pathdyn._base.settings import TrainingTime
from pathdyn.errors import ArchitectureError, ConfigError
from pathdyn.io.results import Record, labelled
from pathdyn.numerics.datasets import Dataset
from pathdyn.numerics.display import number, text_summary
from pathdyn.numerics.dmft_graph import solve_dmft_graph, solve_dmft_graph_flow
from pathdyn.theory.architecture import Architecture, as_graph
from pathdyn.theory.graph import MAX_LISTED_PATHS, GraphArchitecture
from pathdyn.validation.sweep.statistics import mean_interval
from pathdyn.validation.network.graph import simulate_graph_gd

__all__ = ["GraphConcentration", "dmft_final_strengths", "measure_graph_concentration", "shortcut_graph", "shortcut_study",
           "stream_shares"]

#: Up to this many gradient steps the DMFT beside the networks is solved at their learning rate, else as the flow.
DMFT_MAX_DISCRETE_STEPS = 800


def stream_shares(K: Any, graph: GraphArchitecture, by: str) -> np.ndarray:
    """Shares ``|K| / sum |K|`` per group of paths, shape ``(..., groups, modes)``.

    ``by``: ``"path"`` (every path its own group), ``"output"`` (last edge) or ``"input"``
    (first edge). Groups come in the order of first appearance along ``graph.paths``.

    Parameters
    ----------
    K : array_like, shape ``(..., paths, modes)``
        Strength of every path (in the order of ``graph.paths``) and mode.
    graph : GraphArchitecture
        The graph.
    by : {"path", "output", "input"}
        How paths are grouped.

    Returns
    -------
    ndarray, shape ``(..., groups, modes)``
        The shares (NaN where every ``K`` of a mode is zero).

    Raises
    ------
    ConfigError
        When ``by`` is not one of the three groupings.
    """
    K = np.abs(np.asarray(K, dtype=float))
    if by == "path":
        keys = list(range(graph.num_paths))
    elif by in ("output", "input"):
        keys = [path[-1] if by == "output" else path[0] for path in graph.paths]
    else:
        raise ConfigError(f"by: unknown grouping {by!r}; choose path, output or input")
    groups = list(dict.fromkeys(keys))
    summed = np.stack([K[..., [i for i, k in enumerate(keys) if k == g], :].sum(axis=-2) for g in groups], axis=-2)
    total = summed.sum(axis=-2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, summed / np.where(total > 0, total, 1.0), np.nan)


@dataclass(frozen=True)
class GraphConcentration(Record):
    """Result of :func:`measure_graph_concentration` for one graph.

    Attributes
    ----------
    graph : GraphArchitecture
    seeds : tuple of int
    final_K : ndarray, shape (seeds, paths, modes)
    finished : ndarray of bool, shape (seeds,)
        Final loss below 1% of the zero network's.
    summary : dict
        For ``path``, ``output``, ``input``: ``groups``, ``mean``, ``ci`` (of the dominant
        fraction), ``even`` (its value for an even split), ``mean_shares`` (groups x modes).
    settings : dict
    wall_time : float
    dmft_final_K : ndarray or None, shape (paths, modes)
        The graph DMFT's ``K_p`` at ``t_max`` (``dmft=True``); the summary's ``dmft`` entry
        holds its shares beside the shares of the networks' seed mean.
    """

    XARRAY_TITLE: ClassVar[str] = "pathdyn graph concentration"

    graph: GraphArchitecture = field(metadata=labelled(
        encode=lambda graph: graph.to_dict(), decode=GraphArchitecture.from_dict,
        sample=lambda sizes, rng: GraphArchitecture.from_dict({"edges": [["x", "h"], ["h", "y"], ["x", "y"]]})))
    seeds: tuple = field(metadata=labelled(coord="seed"))
    final_K: np.ndarray = field(metadata=labelled(dims=("seed", "path", "mode")))
    finished: np.ndarray = field(metadata=labelled(dims=("seed",), dtype="bool"))
    summary: dict
    settings: dict
    wall_time: float
    dmft_final_K: np.ndarray | None = field(default=None, metadata=labelled(dims=("path", "mode")))

    def summary_rows(self) -> list[tuple[str, str]]:
        """``(name, value)`` rows: the run, then the mean dominant share of each grouping with its interval.

        Returns
        -------
        list of (str, str)
        """
        settings = self.settings
        rows = [("run", f"{len(self.graph.edges)} edges, {len(self.seeds)} seeds, width {settings.get('width')}, "
                        f"{settings.get('activation')}, {int(np.sum(self.finished))} of {len(self.seeds)} finished")]
        for by, entry in self.summary.items():
            if isinstance(entry, dict) and "mean" in entry:
                low, high = entry.get("ci", (None, None))
                rows.append((f"dominant {by} share", f"{number(entry['mean'], 3)} [{number(low, 3)}, {number(high, 3)}] "
                                                     f"(even split {number(entry.get('even'), 3)})"))
        return rows

    def __repr__(self) -> str:
        return text_summary("GraphConcentration", self.summary_rows())

    def json_extras(self) -> dict:
        """The graph's paths (lists of edges), in the order of ``final_K``'s path axis.

        Returns
        -------
        dict
        """
        return {"paths": [[list(e) for e in p] for p in self.graph.paths]}


def _summarise(K, graph, confidence) -> dict:
    out = {}
    for by in ("path", "output", "input"):
        shares = stream_shares(K, graph, by)  # (seeds, groups, modes)
        groups = shares.shape[1]
        dominant = np.nanmax(shares, axis=1).mean(axis=-1) if groups > 1 else np.ones(K.shape[0])
        mean, ci = mean_interval(dominant, confidence, bounds=(1.0 / groups, 1.0))
        out[by] = {"groups": groups, "trivial": groups == 1, "even": 1.0 / groups, "mean": mean, "ci": list(ci),
                   "mean_shares": np.nanmean(shares, axis=0).tolist()}
    return out


def dmft_final_strengths(graph: GraphArchitecture, singular_values: ArrayLike, *, init_scale: float, learning_rate: float,
                         t_max: float) -> np.ndarray:
    """The graph DMFT's ``K_p`` per path and mode at ``t_max``: the infinite-width mean of gradient descent.

    Parameters
    ----------
    graph : GraphArchitecture
    singular_values : array_like, shape (modes,)
    init_scale : float
        ``sigma`` of every edge matrix.
    learning_rate, t_max : float
        Solved at ``learning_rate`` up to :data:`DMFT_MAX_DISCRETE_STEPS` steps, else as the
        flow (then ``O(eta)`` from gradient descent).

    Returns
    -------
    ndarray, shape (paths, modes)
    """
    steps = TrainingTime(learning_rate, t_max).steps
    if steps <= DMFT_MAX_DISCRETE_STEPS:
        run = solve_dmft_graph(graph, singular_values, learning_rate=learning_rate, steps=steps, init_scale=init_scale,
                               per_path=True)
    else:
        run = solve_dmft_graph_flow(graph, singular_values, t_max=t_max, num_points=2, init_scale=init_scale,
                                    per_path=True, tol=1e-3)
    return np.asarray(run.K[-1])


def _dmft_summary(K, dmft_K, graph) -> dict:
    """Shares of the seed mean of ``K`` and of the DMFT's ``K``, per grouping, and their largest gap."""
    out: dict = {}
    mean_K = K.mean(axis=0)
    for by in ("path", "output", "input"):
        mean_shares, dmft_shares = stream_shares(mean_K, graph, by), stream_shares(dmft_K, graph, by)
        out[by] = {"seed_mean_shares": mean_shares.tolist(), "dmft_shares": dmft_shares.tolist(),
                   "largest_gap": float(np.nanmax(np.abs(mean_shares - dmft_shares)))}
    out["seed_mean_K"] = mean_K.tolist()
    out["standard_error_K"] = (K.std(axis=0, ddof=1) / np.sqrt(K.shape[0])).tolist() if K.shape[0] > 1 else None
    return out


def shortcut_graph(depth: int, leaves: int | None = None, enters: int | None = None) -> GraphArchitecture:
    """A chain ``x -> h1 -> ... -> h_{depth-1} -> y`` with one shortcut.

    Parameters
    ----------
    depth : int
        Edges of the chain (at least 3).
    leaves : int, optional
        The shortcut ``h_leaves -> y`` (a skip to the readout; path length ``leaves + 1``).
    enters : int, optional
        The shortcut ``x -> h_enters`` (an input that enters the chain at depth ``enters``;
        path length ``depth - enters + 1``). Give exactly one of ``leaves`` and ``enters``.

    Returns
    -------
    GraphArchitecture

    Raises
    ------
    ConfigError
        When the shortcut would duplicate a chain edge or both (or neither) are given.
    """
    if (leaves is None) == (enters is None) or depth < 3:
        raise ConfigError("shortcut_graph: give depth >= 3 and exactly one of leaves, enters")
    nodes = ["x"] + [f"h{i}" for i in range(1, depth)] + ["y"]
    edges = list(zip(nodes[:-1], nodes[1:]))
    if leaves is not None and not 1 <= leaves <= depth - 2:
        raise ConfigError(f"leaves: {leaves} must be between 1 and depth - 2 = {depth - 2}")
    if enters is not None and not 2 <= enters <= depth - 1:
        raise ConfigError(f"enters: {enters} must be between 2 and depth - 1 = {depth - 1}")
    edges.append((f"h{leaves}", "y") if leaves is not None else ("x", f"h{enters}"))
    return GraphArchitecture(edges=tuple(edges))


def shortcut_study(dataset: Dataset, depths: Sequence[int] = (4, 5), seeds: Sequence[int] = tuple(range(16)), *, width: int = 256,
                   init_scale: float = 0.5, learning_rate: float = 0.05, t_max: float = 20.0) -> list[dict[str, Any]]:
    """Which path takes each mode, against depth and against where the shortcut leaves or enters.

    For every chain depth and every shortcut position (:func:`shortcut_graph`), the networks'
    seed mean of the final ``K_p`` and the graph DMFT's, per path and mode.

    Parameters
    ----------
    dataset : Dataset
        Whitened, non-degenerate.
    depths : sequence of int
        Chain depths.
    seeds, width, init_scale, learning_rate, t_max
        As :func:`measure_graph_concentration` (Gaussian init, linear).

    Returns
    -------
    list of dict
        One row per graph: ``edges``, ``shortcut`` (``"leaves h_k"`` or ``"enters h_k"``),
        ``path_lengths``, ``seed_mean_K``, ``standard_error_K``, ``dmft_K`` (paths x modes),
        ``seed_mean_shares`` and ``dmft_shares`` (paths x modes), ``largest_gap`` of the shares.
    """
    rows = []
    for depth in depths:
        options = [("leaves", k) for k in range(1, depth - 1)] + [("enters", k) for k in range(2, depth)]
        for kind, k in options:
            graph = shortcut_graph(depth, **{kind: k})
            result = measure_graph_concentration(graph, dataset, seeds, width=width, init_scale=init_scale,
                                                 learning_rate=learning_rate, t_max=t_max, dmft=True)
            paths = result.summary["dmft"]
            rows.append({"edges": [list(e) for e in graph.edges], "shortcut": f"{kind} h{k}",
                         "path_lengths": list(graph.path_lengths), "seed_mean_K": paths["seed_mean_K"],
                         "standard_error_K": paths["standard_error_K"], "dmft_K": np.asarray(result.dmft_final_K).tolist(),
                         "seed_mean_shares": paths["path"]["seed_mean_shares"],
                         "dmft_shares": paths["path"]["dmft_shares"], "largest_gap": paths["path"]["largest_gap"]})
    return rows


def measure_graph_concentration(graph: GraphArchitecture | Architecture, dataset: Dataset, seeds: Sequence[int] = tuple(range(20)), *, width: int = 64,
                                activation: str | None = None, init: str = "gaussian", init_scale: float = 0.5,
                                learning_rate: float = 0.03, t_max: float = 90.0,
                                confidence: float = 0.95, dmft: bool = False, progress: bool = False) -> GraphConcentration:
    """Train one network per seed and summarise how the modes split over paths and streams.

    Parameters
    ----------
    graph : GraphArchitecture or Architecture (pathways: the graph of their chains)
    dataset : Dataset
    seeds : sequence of int
    width : int
        Hidden width of nodes the graph gives none.
    activation : str, optional
        Activation of every hidden node; None (default): each node's own, as the graph's
        ``activations`` give them (linear unless given).
    init, init_scale, learning_rate, t_max : as :func:`simulate_graph_gd`
        (``steps = round(t_max / learning_rate)``).
    confidence : float
    dmft : bool
        Also the graph DMFT's ``K_p`` at ``t_max`` (:func:`dmft_final_strengths`) and, in
        ``summary["dmft"]``, its shares beside those of the networks' seed mean (linear
        graphs, Gaussian init, whitened data).
    progress : bool
        Show progress on standard error: a bar on a terminal, a line every few seconds elsewhere.

    Returns
    -------
    GraphConcentration

    Raises
    ------
    ConfigError
        When there are no seeds, ``learning_rate`` or ``t_max`` is not positive, or
        ``confidence`` is outside ``(0, 1)``.
    ArchitectureError
        When the graph has more paths than :data:`~pathdyn.theory.graph.MAX_LISTED_PATHS`.
    ConfigError
        With ``dmft``: a nonlinear activation, an init other than Gaussian, or non-whitened data.

    Warns
    -----
    UserWarning
        When some networks did not finish learning (their split is not final).
    """
    graph = as_graph(graph)  # pathways are the graph of their chains
    seeds = tuple(int(s) for s in seeds)
    time_settings = TrainingTime(learning_rate, t_max)
    if not seeds or not 0 < confidence < 1:
        raise ConfigError(f"seeds, confidence: give seeds and 0 < confidence < 1, got {seeds}, {confidence}")
    if not graph.paths_listed:
        raise ArchitectureError(f"graph: {graph.num_paths:,} paths from x to y, above the {MAX_LISTED_PATHS:,} whose "
                                "shares are measured one by one; use a graph with fewer paths")
    # activation None: each node's own, as the graph's table gives them
    linear = activation == "linear" or (activation is None and all(graph.activation(n) == "linear"
                                                                    for n in graph.hidden_nodes))
    if dmft and (not linear or init != "gaussian" or not dataset.is_whitened):
        raise ConfigError("dmft: the graph DMFT is the theory of linear graphs with Gaussian init on whitened data; "
                          f"got activation={activation!r}, init={init!r}, whitened={dataset.is_whitened}")
    started = time.perf_counter()
    steps = time_settings.steps
    zero_loss = 0.5 * float(np.vdot(dataset.Y, dataset.Y)) / dataset.num_samples
    finals, ends = [], []
    with Progress(len(seeds), f"graph-concentration {activation}", enabled=None if progress else False) as bar:
        for seed in seeds:
            run = simulate_graph_gd(graph, dataset, width, init=init, init_scale=init_scale, activation=activation,
                                    learning_rate=learning_rate, steps=steps, record_every=steps, seed=seed)
            finals.append(run.K[-1])
            ends.append(bool(run.success and run.loss[-1] < 0.01 * zero_loss))
            bar.update()
    K, finished = np.array(finals), np.array(ends)
    if not finished.all():
        warnings.warn(f"{int((~finished).sum())} of {len(seeds)} networks did not finish learning in t_max={t_max}; "
                      "raise t_max", stacklevel=2)
    own = ", ".join(f"{n} = {a}" for n, a in graph.activations or ()) or "linear"
    settings = {"width": width, "activation": activation or own, "init": init, "init_scale": init_scale,
                "learning_rate": learning_rate, "t_max": t_max, "confidence": confidence, "dataset": dataset.name}
    summary = _summarise(K, graph, confidence)
    dmft_K = None
    if dmft:
        dmft_K = dmft_final_strengths(graph, dataset.modes()[1], init_scale=init_scale, learning_rate=learning_rate,
                                      t_max=t_max)
        summary["dmft"] = _dmft_summary(K, dmft_K, graph)
    return GraphConcentration(graph, seeds, K, finished, summary, settings, time.perf_counter() - started, dmft_K)
