"""Why a finite network's seed mean is off the DMFT: conditioning on each network's own start.

The DMFT (:mod:`pathdyn.numerics.dmft`) predicts the infinite-width mean of ``K(t)``. A
finite network starts from its own overlaps (``K(0) ~ N^{-1/2}``, ``|a|^2``, ``|b|^2`` and
the hidden layers' gains off their means by ``~N^{-1/2}``), and a deep pathway's escape
from its plateau is strongly nonlinear in them, so the mean over seeds can be shifted from
the infinite-width limit by ``O(Var) = O(1/N)`` with a large prefactor.
:func:`finite_width_gap` measures that: per width it trains the networks and compares
their seed mean with the ensemble DMFT and with the mean over the same seeds of the DMFT
conditioned on each network's own initial overlaps
(:func:`pathdyn.validation.sweep.dmft.predict_network`).

From the command line: ``pathdyn dmft-finite-width`` (:mod:`pathdyn.cli.finite_width`).
"""

from __future__ import annotations

from collections.abc import Sequence
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from pathdyn.io.jsonio import finite_or_none
from pathdyn.io.results import Record, labelled
from pathdyn._base.checks import distinct_seeds
from pathdyn._base.progress import Progress
from pathdyn._base.settings import TrainingTime
from pathdyn.errors import ConfigError, SimulationError
from pathdyn.numerics.dmft import solve_dmft
from pathdyn.theory.architecture import Architecture
from pathdyn.validation.sweep.dmft import predict_network
from pathdyn.validation.sweep.cases import default_dataset
from pathdyn.validation.sweep.statistics import fit_slope
from pathdyn.validation.sweep.tasks import network_cost
from pathdyn.numerics.datasets import Dataset, random_dataset
from pathdyn.numerics.display import number, text_summary
from pathdyn.validation.network import initialize_weights, simulate_gd

__all__ = ["FiniteWidthGap", "finite_width_gap", "escape_with_and_without_other_modes", "gap_at_worst_point", "half_times", "rms_gaps", "summarize"]

#: Records per run (as the validation suite: every ``steps // RECORD_POINTS`` steps).
RECORD_POINTS = 200


#: The metadata of an array with one entry per width.
PER_WIDTH = labelled(dims=("width",))


#: The curves of the pathway sum kept per width (arrays over time and mode).
CURVES = ("network", "conditioned", "network_std", "paired_std")


def _curves_to_xarray(curves: list) -> dict:
    return {f"total_curve_{name}": (("width", "time", "mode"), np.stack([np.asarray(c[name], dtype=float) for c in curves]), {})
            for name in CURVES if curves and name in curves[0]}


def _curves_from_xarray(dataset) -> list:
    names = [name for name in CURVES if f"total_curve_{name}" in dataset]
    if not names:
        return []
    widths = dataset.sizes["width"]
    return [{name: np.asarray(dataset[f"total_curve_{name}"].values[i], dtype=float) for name in names} for i in range(widths)]


@dataclass(frozen=True)
class FiniteWidthGap(Record):
    """The seed mean of finite networks against the ensemble and the conditioned DMFT.

    All errors are in units of ``S_1`` and are ``max`` over the recorded times, pathways
    and modes (``total_*``: over times and modes of ``sum_a K_{a alpha}``). Arrays have
    one entry per width (``per_network_*``: widths x seeds).

    Attributes
    ----------
    depths, widths, seeds : tuple of int
    init_scale, learning_rate, t_max : float
    steps : int
    dataset : str
    singular_values : tuple of float
    ensemble_gap : ndarray
        ``max |<K>_seeds - K_DMFT| / S_1`` (``c - a``).
    ensemble_noise : ndarray
        Sampling noise of ``<K>_seeds`` at that maximum: ``std_seeds(K) / sqrt(n) / S_1``.
    conditioned_gap : ndarray
        ``max |<K>_seeds - <K_DMFT | network>_seeds| / S_1`` (``c - b``).
    conditioned_noise : ndarray
        Sampling noise of that paired difference at its maximum:
        ``std_seeds(K - K_DMFT|network) / sqrt(n) / S_1``.
    conditioning_shift : ndarray
        ``max |<K_DMFT | network>_seeds - K_DMFT| / S_1`` (``b - a``): how far conditioning
        moves the predicted mean.
    total_ensemble_gap, total_ensemble_noise, total_conditioned_gap, total_conditioned_noise, total_conditioning_shift : ndarray
        The same for the pathway sum, where the race between equal pathways cancels.
    total_explained : ndarray
        ``1 - sum (c - b)^2 / sum (c - a)^2`` over times and modes of the pathway sum: the
        fraction of the squared gap the conditioned mean accounts for (1: all, 0: none,
        negative: it moves the wrong way).
    total_worst : list of dict
        Per width, at the time and mode of the largest pathway-sum gap: ``t``, ``mode``
        and the three values ``ensemble``, ``conditioned``, ``network`` of ``sum_a K``.
    per_network_ensemble, per_network_conditioned : ndarray, shape (widths, seeds)
        Each network's ``max |K - K_DMFT| / S_1``, unconditioned and conditioned.
    t : ndarray, shape (T,)
        The recorded times.
    total_ensemble_curve : ndarray, shape (T, modes)
        ``sum_a K_DMFT`` (a).
    total_curves : list of dict
        Per width, arrays of shape (T, modes) of the pathway sum: ``network`` (c),
        ``conditioned`` (b), ``network_std`` (seed std of the networks) and ``paired_std``
        (seed std of network minus its conditioned DMFT), for analyses at fixed ``t``.
    wall_time_s : float
    """

    XARRAY_TITLE: ClassVar[str] = "pathdyn finite-width gap to the DMFT"

    depths: tuple
    widths: tuple = field(metadata=labelled(coord="width"))
    seeds: tuple = field(metadata=labelled(coord="seed"))
    init_scale: float
    learning_rate: float
    t_max: float
    steps: int
    dataset: str
    singular_values: tuple = field(metadata=labelled(dims=("mode",)))
    ensemble_gap: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    ensemble_noise: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    conditioned_gap: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    conditioned_noise: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    conditioning_shift: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    total_ensemble_gap: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    total_ensemble_noise: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    total_conditioned_gap: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    total_conditioned_noise: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    total_conditioning_shift: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    total_explained: np.ndarray = field(repr=False, metadata=PER_WIDTH)
    total_worst: list = field(repr=False)
    per_network_ensemble: np.ndarray = field(repr=False, metadata=labelled(dims=("width", "seed")))
    per_network_conditioned: np.ndarray = field(repr=False, metadata=labelled(dims=("width", "seed")))
    t: np.ndarray | None = field(default=None, repr=False, metadata=labelled(coord="time"))
    total_ensemble_curve: np.ndarray | None = field(default=None, repr=False, metadata=labelled(dims=("time", "mode")))
    total_curves: list = field(default_factory=list, repr=False, metadata=labelled(
        decode=lambda curves: [{name: np.array(curve, dtype=float) for name, curve in c.items()} for c in curves],
        to_xarray=lambda curves: _curves_to_xarray(curves), from_xarray=lambda dataset: _curves_from_xarray(dataset),
        sample=lambda sizes, rng: [{name: rng.random((sizes["time"], sizes["mode"])) for name in CURVES}
                                   for _ in range(sizes["width"])]))
    wall_time_s: float = 0.0

    def summary_rows(self) -> list[tuple[str, str]]:
        """``(name, value)`` rows: the run, then the largest gaps by width, labelled as ``--summarize`` labels them.

        Returns
        -------
        list of (str, str)
        """
        def by_width(values) -> str:
            return ", ".join(f"{w}: {number(v)}" for w, v in zip(self.widths, values))

        return [("run", f"depths {','.join(map(str, self.depths))}, {len(self.widths)} widths x {len(self.seeds)} seeds, "
                        f"eta {number(self.learning_rate)}, t_max {number(self.t_max)}, sigma {number(self.init_scale)}; "
                        "units: S_1"),
                ("per pathway: c - a (max)", by_width(self.ensemble_gap)),
                ("pathway sum: c - a (max)", by_width(self.total_ensemble_gap)),
                ("pathway sum: c - b (max)", by_width(self.total_conditioned_gap))]

    def __repr__(self) -> str:
        return text_summary("FiniteWidthGap", self.summary_rows())

    def gap_slope(self, name: str = "total_ensemble_gap") -> tuple:
        """Slope of ``log gap`` against ``log width`` and its 95% interval.

        Parameters
        ----------
        name : str
            One of the per-width gap attributes (default ``total_ensemble_gap``).

        Returns
        -------
        (slope, (low, high))
            ``-1`` is the ``O(1/N)`` of a mean shifted by the initial overlaps' variance,
            ``-0.5`` a shift of the order of single fluctuations (NaN with fewer than 3
            widths for the interval, fewer than 2 for the slope).
        """
        slope, interval, _ = fit_slope(self.widths, np.asarray(getattr(self, name), dtype=float)[:, None])
        return slope, interval

    def json_extras(self) -> dict:
        """The units, and ``slopes``: :meth:`gap_slope` of the four gaps.

        Returns
        -------
        dict
        """
        slopes = {}
        for name in ("ensemble_gap", "conditioned_gap", "total_ensemble_gap", "total_conditioned_gap"):
            slope, (low, high) = self.gap_slope(name)
            slopes[name] = {"slope": finite_or_none(slope), "ci95": [finite_or_none(low), finite_or_none(high)]}
        return {"units": "fraction of S_1; max over recorded t, pathways (or the pathway sum, total_*) and modes",
                "slopes": slopes}


def _check_settings(depths: Architecture | Sequence[int], widths: Sequence[int], seeds: Sequence[int], init_scale: float,
                    learning_rate: float, t_max: float, dataset: Dataset | None
                    ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], Dataset]:
    """Validate the arguments of :func:`finite_width_gap`; return ``(depths, widths, seeds, dataset)``."""
    depths = Architecture.coerce(depths).depths
    try:
        widths = tuple(int(w) for w in widths)
        seeds = tuple(int(s) for s in seeds)
    except (TypeError, ValueError):
        raise ConfigError(f"widths, seeds: expected lists of whole numbers, got {widths!r}, {seeds!r}") from None
    if not widths or min(widths) < 1:
        raise ConfigError(f"widths: expected whole numbers >= 1, got {list(widths)}; give e.g. widths=(256, 512)")
    seeds = distinct_seeds("seeds", seeds)
    if len(seeds) < 2 or min(seeds) < 0:
        raise ConfigError(f"seeds: a seed mean needs at least 2 distinct seeds >= 0, got {list(seeds)}; give e.g. seeds=range(8)")
    for name, value in (("init_scale", init_scale), ("learning_rate", learning_rate), ("t_max", t_max)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name}: expected a positive finite number, got {value!r}")
    dataset = default_dataset() if dataset is None else dataset
    if not isinstance(dataset, Dataset):
        raise ConfigError(f"dataset: expected a Dataset, got {type(dataset).__name__}; use pathdyn.validation.sweep.width.default_dataset()")
    if not dataset.is_whitened:
        raise ConfigError(f"dataset: {dataset.name!r} is not whitened; the DMFT assumes Sigma_x = I, use whitened data")
    if any(len(block) > 1 for block in dataset.degenerate_blocks()):
        raise ConfigError(f"dataset: {dataset.name!r} has degenerate singular values, so per-mode K is undefined; "
                          "use non-degenerate data (e.g. random_dataset((2, 1.4, 0.9, 0.5)))")
    TrainingTime(learning_rate, t_max)  # refuses a t_max shorter than one step
    return depths, widths, seeds, dataset


def _train_and_condition(depths, dataset, width, seed, init_scale, learning_rate, steps, record):
    """One network's ``K`` on the records and the DMFT conditioned on its own initial overlaps."""

    weights = initialize_weights(depths, dataset.n_in, dataset.n_out, width, init="gaussian", init_scale=init_scale, seed=seed)
    conditioned = predict_network(weights, dataset, init_scale=init_scale, learning_rate=learning_rate, steps=steps).K[record]
    network = simulate_gd(depths, dataset, width, weights=weights, learning_rate=learning_rate, steps=steps,
                          record_every=int(record[1] - record[0]) if record.size > 1 else 1).K
    return network, conditioned


def _gap_and_noise(mean, reference, samples, scale):
    """``max |mean - reference| / scale`` and the sampling noise of ``samples``' mean at that maximum."""
    difference = np.abs(mean - reference)
    where = np.unravel_index(np.argmax(difference), difference.shape)
    noise = samples.std(axis=0, ddof=1)[where] / math.sqrt(samples.shape[0])
    return float(difference[where]) / scale, float(noise) / scale


def _counted(bar, run):
    """``run``, counted done on ``bar``."""
    bar.update()
    return run


def _width_figures(network, conditioned, ensemble, t, scale):
    """All figures of one width from the stacks ``network``, ``conditioned`` (seeds, T, M, modes) and ``ensemble``."""
    c, b = network.mean(axis=0), conditioned.mean(axis=0)
    figures = {}
    for prefix, (net, cond, ens, cm, bm) in {
        "": (network, conditioned, ensemble, c, b),
        "total_": (network.sum(axis=2), conditioned.sum(axis=2), ensemble.sum(axis=1), c.sum(axis=1), b.sum(axis=1)),
    }.items():
        figures[prefix + "ensemble_gap"], figures[prefix + "ensemble_noise"] = _gap_and_noise(cm, ens, net, scale)
        figures[prefix + "conditioned_gap"], figures[prefix + "conditioned_noise"] = _gap_and_noise(cm, bm, net - cond, scale)
        figures[prefix + "conditioning_shift"] = float(np.max(np.abs(bm - ens))) / scale
    c_total, b_total, a_total = c.sum(axis=1), b.sum(axis=1), ensemble.sum(axis=1)
    figures["total_explained"] = 1.0 - float(np.sum((c_total - b_total) ** 2) / max(np.sum((c_total - a_total) ** 2), 1e-300))
    i, mode = np.unravel_index(np.argmax(np.abs(c_total - a_total)), c_total.shape)
    figures["total_worst"] = {"t": float(t[i]), "mode": int(mode), "ensemble": float(a_total[i, mode]),
                              "conditioned": float(b_total[i, mode]), "network": float(c_total[i, mode])}
    figures["total_curves"] = {"network": c_total, "conditioned": b_total, "network_std": network.sum(axis=2).std(axis=0, ddof=1),
                               "paired_std": (network - conditioned).sum(axis=2).std(axis=0, ddof=1)}
    figures["per_network_ensemble"] = np.max(np.abs(network - ensemble), axis=(1, 2, 3)) / scale
    figures["per_network_conditioned"] = np.max(np.abs(network - conditioned), axis=(1, 2, 3)) / scale
    return figures


def finite_width_gap(depths: Architecture | Sequence[int], widths: Sequence[int], seeds: Sequence[int], *,
                     init_scale: float = 0.5, learning_rate: float = 0.02, t_max: float = 8.0,
                     dataset: Dataset | None = None, on_width: Callable[..., Any] | None=None,
                     progress: bool = False) -> FiniteWidthGap:
    """Measure the seed mean's distance from the ensemble DMFT and from the conditioned DMFT.

    Parameters
    ----------
    depths : Architecture or sequence of int
        Depth of each pathway.
    widths : sequence of int
        Hidden widths ``N``.
    seeds : sequence of int
        At least two distinct seeds; each (width, seed) is one Gaussian-initialised network
        (the same draw as ``pathdyn validate --theory dmft`` makes for that seed).
    init_scale : float
        ``sigma`` of every layer (the suite's DMFT cases use 0.5).
    learning_rate, t_max : float
        Gradient descent at ``eta`` for ``round(t_max / eta)`` steps; the DMFT is solved at
        the same ``eta`` (no ``O(eta)`` floor).
    dataset : Dataset, optional
        Whitened, non-degenerate data (default :func:`pathdyn.validation.sweep.width.default_dataset`).
    progress : bool
        Show progress on standard error: a bar on a terminal, a line every few seconds elsewhere.
    on_width : callable, optional
        Called with the report of the widths done so far after each width (to save partial
        results of a long run).

    Returns
    -------
    FiniteWidthGap

    Raises
    ------
    ConfigError
        Bad depths, widths, seeds, scales, or non-whitened or degenerate data.

    Notes
    -----
    Per width, with ``K^(s)`` network ``s``'s per-mode ``K_{a alpha}(t)``:

    * (a) the ensemble DMFT ``K_DMFT(t)``, the infinite-width mean;
    * (b) ``<K_DMFT | s>_s``, the mean over the seeds of the DMFT conditioned on network
      ``s``'s own ``|a|^2``, ``|b|^2``, ``K(0)`` and hidden-layer gains;
    * (c) ``<K^(s)>_s``, the networks' seed mean.

    If the finite-width shift of the mean comes from the initial overlaps, ``c - b`` is
    much smaller than ``c - a``; what remains is the hidden layers' own fluctuations (the
    conditioned DMFT keeps only their gains). The noise of ``c - a`` is that of ``c``
    (``std_s K^(s) / sqrt(n)``); the noise of ``c - b`` is that of the paired difference
    ``std_s (K^(s) - K_DMFT|s) / sqrt(n)``, smaller when conditioning tracks the networks.
    A gap set by the variance of the initial overlaps falls as ``1/N``
    (:meth:`FiniteWidthGap.gap_slope`).
    """
    started = time.perf_counter()
    depths, widths, seeds, dataset = _check_settings(depths, widths, seeds, init_scale, learning_rate, t_max, dataset)
    S = dataset.singular_values
    scale = float(np.max(S))
    run_time = TrainingTime(learning_rate, t_max, record_points=RECORD_POINTS)
    steps, every = run_time.steps, run_time.record_every
    record = np.arange(0, steps + 1, every)
    if record[-1] != steps:  # the network records its last step too
        record = np.append(record, steps)
    ensemble = solve_dmft(depths, S, learning_rate=learning_rate, steps=steps, init_scale=init_scale).K[record]
    t = learning_rate * record
    per_width = []
    weights = [network_cost(depths, width, dataset.n_in, dataset.n_out, steps) for width in widths for _ in seeds]
    with Progress(len(widths) * len(seeds), "dmft-finite-width networks", enabled=None if progress else False,
                  weights=weights) as bar:
        for done, width in enumerate(widths, start=1):
            runs = [_counted(bar, _train_and_condition(depths, dataset, width, seed, init_scale, learning_rate, steps, record))
                    for seed in seeds]
            network = np.stack([run[0] for run in runs])
            conditioned = np.stack([run[1] for run in runs])
            if network.shape[1] != record.size:
                raise SimulationError(f"width {width}: the networks recorded {network.shape[1]} times, the DMFT {record.size}; "
                                      "this is a bug in the recording schedule, please report it")
            per_width.append(_width_figures(network, conditioned, ensemble, t, scale))
            report = _report(depths, widths[:done], seeds, init_scale, learning_rate, t, steps, dataset, per_width,
                             ensemble.sum(axis=1), time.perf_counter() - started)
            if on_width is not None:
                on_width(report)
    return report


def _report(depths, widths, seeds, init_scale, learning_rate, t, steps, dataset, per_width, total_ensemble, wall) -> FiniteWidthGap:
    """Assemble a :class:`FiniteWidthGap` from the per-width figures."""
    names = ("ensemble_gap", "ensemble_noise", "conditioned_gap", "conditioned_noise", "conditioning_shift",
             "total_ensemble_gap", "total_ensemble_noise", "total_conditioned_gap", "total_conditioned_noise",
             "total_conditioning_shift", "total_explained", "per_network_ensemble", "per_network_conditioned")
    arrays = {name: np.array([figures[name] for figures in per_width]) for name in names}
    return FiniteWidthGap(depths=tuple(depths), widths=tuple(widths), seeds=tuple(seeds), init_scale=float(init_scale),
                          learning_rate=float(learning_rate), t_max=float(t[-1]), steps=steps, dataset=dataset.name,
                          singular_values=tuple(float(s) for s in dataset.singular_values),
                          total_worst=[figures["total_worst"] for figures in per_width], t=np.asarray(t, dtype=float),
                          total_ensemble_curve=total_ensemble, total_curves=[figures["total_curves"] for figures in per_width],
                          wall_time_s=wall, **arrays)


def rms_gaps(data: dict) -> dict:
    """Noise-corrected root-mean-square gaps of the pathway sum, from a saved report.

    Parameters
    ----------
    data : dict
        :meth:`FiniteWidthGap.to_json_dict` (or the JSON file's content).

    Returns
    -------
    dict
        Per width (lists): ``ensemble`` and ``conditioned``, the rms over recorded times and
        modes of ``c - a`` and ``c - b`` in units of ``S_1`` with the sampling noise's share
        removed; ``ensemble_noise`` and ``conditioned_noise``, the rms noise removed.

    Notes
    -----
    ``E (c - a)^2 = bias^2 + var(c)`` with ``var(c) = std_seeds(sum_a K)^2 / n``, so
    ``bias_rms^2 = mean_{t, alpha} [(c - a)^2 - std^2 / n]`` (0 when negative); likewise for
    ``c - b`` with the paired standard deviation. Unlike a maximum over ``t``, this does
    not grow with the noise, so it is the quantity to fit against width.
    """
    n = len(data["seeds"])
    scale = max(data["singular_values"])
    a = np.asarray(data["total_ensemble_curve"], dtype=float)
    out: dict[str, list] = {"ensemble": [], "conditioned": [], "ensemble_noise": [], "conditioned_noise": []}
    for curves in data["total_curves"]:
        c = np.asarray(curves["network"], dtype=float)
        for name, reference, spread in (("ensemble", a, curves["network_std"]),
                                        ("conditioned", np.asarray(curves["conditioned"], dtype=float), curves["paired_std"])):
            noise2 = np.asarray(spread, dtype=float) ** 2 / n
            out[name].append(math.sqrt(max(float(np.mean((c - reference) ** 2 - noise2)), 0.0)) / scale)
            out[name + "_noise"].append(math.sqrt(float(np.mean(noise2))) / scale)
    return out


def gap_at_worst_point(data: dict) -> dict:
    """The signed pathway-sum gaps at one fixed (t, mode): where ``|c - a|`` is largest at the largest width.

    Parameters
    ----------
    data : dict
        A saved report (:meth:`FiniteWidthGap.to_json_dict`).

    Returns
    -------
    dict
        ``t``, ``mode`` (0-based) and per width (lists, units of ``S_1``)
        ``network_minus_ensemble`` (c - a) with its noise ``network_noise``,
        ``conditioned_minus_ensemble`` (b - a) and ``network_minus_conditioned`` (c - b)
        with its paired noise ``paired_noise``.
    """
    n = len(data["seeds"])
    scale = max(data["singular_values"])
    a = np.asarray(data["total_ensemble_curve"], dtype=float)
    last = data["total_curves"][-1]
    i, mode = np.unravel_index(np.argmax(np.abs(np.asarray(last["network"]) - a)), a.shape)
    out: dict[str, Any] = {"t": float(data["t"][i]), "mode": int(mode), "network_minus_ensemble": [], "network_noise": [],
           "conditioned_minus_ensemble": [], "network_minus_conditioned": [], "paired_noise": []}
    for curves in data["total_curves"]:
        c, b = curves["network"][i][mode], curves["conditioned"][i][mode]
        out["network_minus_ensemble"].append((c - a[i, mode]) / scale)
        out["network_noise"].append(curves["network_std"][i][mode] / math.sqrt(n) / scale)
        out["conditioned_minus_ensemble"].append((b - a[i, mode]) / scale)
        out["network_minus_conditioned"].append((c - b) / scale)
        out["paired_noise"].append(curves["paired_std"][i][mode] / math.sqrt(n) / scale)
    return out


def _crossing_time(t, curve, level) -> float:
    """First time ``curve`` reaches ``level`` (linear interpolation; NaN when it never does)."""
    above = np.nonzero(curve >= level)[0]
    if above.size == 0 or above[0] == 0:
        return float("nan")
    i = above[0]
    return float(t[i - 1] + (level - curve[i - 1]) * (t[i] - t[i - 1]) / (curve[i] - curve[i - 1]))


def half_times(data: dict) -> dict:
    """When each mode is half learned: the time ``sum_a K_{a alpha}`` first reaches ``S_alpha / 2``.

    Parameters
    ----------
    data : dict
        A saved report (:meth:`FiniteWidthGap.to_json_dict`).

    Returns
    -------
    dict
        ``ensemble`` (modes,): the DMFT's half time; per width (lists of per-mode lists)
        ``network`` and ``conditioned``: the half times of the seed-mean curves ``c`` and
        ``b``, and ``network_noise``: the sampling noise of the network's, NaN where a curve
        does not reach ``S / 2`` by ``t_max``.

    Notes
    -----
    A plateau ends in a steep rise, so a small shift in *when* a mode escapes is a large
    difference in ``K`` at a fixed time; the half time measures the shift itself. Its
    noise is the noise of ``c`` at the crossing divided by the slope there,
    ``std_seeds(sum_a K) / sqrt(n) / (dc/dt)``.
    """
    t = np.asarray(data["t"], dtype=float)
    S = np.asarray(data["singular_values"], dtype=float)
    n = len(data["seeds"])
    a = np.asarray(data["total_ensemble_curve"], dtype=float)
    out: dict[str, list] = {"ensemble": [_crossing_time(t, a[:, m], S[m] / 2) for m in range(S.size)],
                            "network": [], "conditioned": [], "network_noise": []}
    for curves in data["total_curves"]:
        c, b, spread = (np.asarray(curves[name], dtype=float) for name in ("network", "conditioned", "network_std"))
        crossings = [_crossing_time(t, c[:, m], S[m] / 2) for m in range(S.size)]
        noise = []
        for m, when in enumerate(crossings):
            if np.isfinite(when):
                i = min(int(np.searchsorted(t, when)), t.size - 1)
                slope = (c[i, m] - c[i - 1, m]) / (t[i] - t[i - 1])
                noise.append(float(spread[i, m] / math.sqrt(n) / slope))
            else:
                noise.append(float("nan"))
        out["network"].append(crossings)
        out["conditioned"].append([_crossing_time(t, b[:, m], S[m] / 2) for m in range(S.size)])
        out["network_noise"].append(noise)
    return out


def summarize(data: dict) -> str:
    """Markdown tables of a saved report: the maxima, the noise-corrected rms gaps, one fixed point, the half times.

    Parameters
    ----------
    data : dict
        A saved report (:meth:`FiniteWidthGap.to_json_dict`).

    Returns
    -------
    str
        The tables and the slopes against width, as printed by ``--summarize``.
    """
    widths = data["widths"]

    def row(label, values, digits=4):
        return f"| {label} | " + " | ".join(f"{v:.{digits}f}" for v in values) + " |"

    head = ["| width | " + " | ".join(str(w) for w in widths) + " |", "|---|" + "---|" * len(widths)]
    lines = [f"depths {','.join(map(str, data['depths']))}, {len(data['seeds'])} seeds, t_max {data['t_max']:g}, "
             f"eta {data['learning_rate']:g}, sigma {data['init_scale']:g}; units: S_1", ""] + head
    for label, name in (("per pathway: c - a (max)", "ensemble_gap"), ("  noise there", "ensemble_noise"),
                        ("per pathway: c - b (max)", "conditioned_gap"), ("  noise there (paired)", "conditioned_noise"),
                        ("per pathway: b - a (max)", "conditioning_shift"),
                        ("pathway sum: c - a (max)", "total_ensemble_gap"), ("  noise there", "total_ensemble_noise"),
                        ("pathway sum: c - b (max)", "total_conditioned_gap"), ("  noise there (paired)", "total_conditioned_noise"),
                        ("pathway sum: b - a (max)", "total_conditioning_shift"),
                        ("pathway sum: share of (c - a)^2 explained by b", "total_explained")):
        lines.append(row(label, data[name]))
    rms = rms_gaps(data)
    for label, name in (("pathway sum rms c - a, noise removed", "ensemble"), ("  rms noise removed", "ensemble_noise"),
                        ("pathway sum rms c - b, noise removed", "conditioned"), ("  rms noise removed (paired)", "conditioned_noise")):
        lines.append(row(label, rms[name]))
    lines.append(row("median single network vs a", np.median(data["per_network_ensemble"], axis=1)))
    lines.append(row("median single network vs its own b", np.median(data["per_network_conditioned"], axis=1)))
    point = gap_at_worst_point(data)
    lines += ["", f"pathway sum at t = {point['t']:g}, mode {point['mode'] + 1}:", ""] + head
    for label, name in (("c - a", "network_minus_ensemble"), ("  noise", "network_noise"), ("b - a", "conditioned_minus_ensemble"),
                        ("c - b", "network_minus_conditioned"), ("  noise (paired)", "paired_noise")):
        lines.append(row(label, point[name]))
    halves = half_times(data)
    lines += ["", "half times (sum_a K reaches S/2); DMFT: " + ", ".join(f"mode {m + 1} {x:.3f}" for m, x in enumerate(halves["ensemble"])),
              "", "| width | mode | network (c) | noise | conditioned (b) | c - DMFT | b - DMFT |", "|---|---|---|---|---|---|---|"]
    for w, net, noise, cond in zip(widths, halves["network"], halves["network_noise"], halves["conditioned"]):
        for m, ens in enumerate(halves["ensemble"]):
            if np.isfinite(ens) or np.isfinite(net[m]):
                lines.append(f"| {w} | {m + 1} | {net[m]:.3f} | {noise[m]:.3f} | {cond[m]:.3f} | {net[m] - ens:+.3f} | {cond[m] - ens:+.3f} |")
    lines.append("")
    for name in ("ensemble_gap", "total_ensemble_gap", "total_conditioned_gap"):
        slope = data["slopes"][name]
        lines.append(f"slope of {name} against width: {_format_slope(slope['slope'], slope['ci95'])}")
    if len(widths) >= 2:
        for name in ("ensemble", "conditioned"):
            values = np.asarray(rms[name])
            if np.all(values > 0):
                slope, interval, _ = fit_slope(widths, values[:, None])
                text = _format_slope(slope, interval)
            else:  # a gap within its noise at some width has no logarithm to fit
                text = "n/a (within the noise at some width)"
            lines.append(f"slope of the noise-corrected rms {name} gap against width: {text}")
    return "\n".join(lines)


def _format_slope(slope, interval) -> str:
    if slope is None or not np.isfinite(slope):
        return "n/a"
    low, high = interval
    return f"{slope:.2f}" + ("" if low is None or not np.isfinite(low) else f" (95% CI {low:.2f} to {high:.2f})")


def escape_with_and_without_other_modes(depths: Architecture | Sequence[int], widths: Sequence[int], seeds: Sequence[int], *, mode: int = 2, init_scale: float = 0.5,
                                        learning_rate: float = 0.02, t_max: float = 8.0, dataset: Dataset | None = None,
                                        with_all_modes: bool = True) -> dict:
    """Whether the other modes speed up one mode's escape: its half time with all modes and alone.

    Trains the networks twice per (width, seed), on ``dataset`` and on data of the same
    dimensions whose only singular value is ``S_mode``, and reads when ``sum_a K`` of that
    mode first reaches ``S_mode / 2``. The DMFT has the modes decoupled, so it predicts the
    same half time for both.

    Parameters
    ----------
    depths, widths, seeds, init_scale, learning_rate, t_max, dataset
        As :func:`finite_width_gap`.
    mode : int
        The mode studied, 1-based (1 = the largest singular value).
    with_all_modes : bool
        ``False``: train only on the data with that mode alone (half the cost).

    Returns
    -------
    dict
        ``mode``, ``singular_value``, ``dmft_half_time`` (of the full data's DMFT) and
        ``dmft_half_time_alone`` (must agree: the modes decouple there), ``widths``, and per
        width lists of per-network half times ``with_all_modes`` (``None`` when not run)
        and ``alone`` (NaN: not reached by ``t_max``, written as null).

    Raises
    ------
    ConfigError
        Bad settings (as :func:`finite_width_gap`) or a mode outside ``1 .. modes``.
    """

    depths, widths, seeds, dataset = _check_settings(depths, widths, seeds, init_scale, learning_rate, t_max, dataset)
    S = dataset.singular_values
    if isinstance(mode, bool) or not isinstance(mode, int) or not 1 <= mode <= S.size:
        raise ConfigError(f"mode: expected a whole number from 1 to {S.size} (the data's modes), got {mode!r}")
    level = S[mode - 1] / 2
    alone = random_dataset((S[mode - 1],), n_in=dataset.n_in, n_out=dataset.n_out)
    run_time = TrainingTime(learning_rate, t_max, record_points=RECORD_POINTS)
    steps, every = run_time.steps, run_time.record_every

    def half_time(data, index, width, seed):
        weights = initialize_weights(depths, data.n_in, data.n_out, width, init="gaussian", init_scale=init_scale, seed=seed)
        run = simulate_gd(depths, data, width, weights=weights, learning_rate=learning_rate, steps=steps, record_every=every)
        return _crossing_time(run.t, run.K.sum(axis=1)[:, index], level)

    def dmft_half_time(data, index):
        run = solve_dmft(depths, data.singular_values, learning_rate=learning_rate, steps=steps, init_scale=init_scale)
        return _crossing_time(run.t, run.K.sum(axis=1)[:, index], level)

    def finite_list(values):
        return [finite_or_none(v) for v in values]

    return {
        "depths": list(depths), "seeds": list(seeds), "widths": list(widths), "mode": mode, "singular_value": float(S[mode - 1]),
        "init_scale": float(init_scale), "learning_rate": float(learning_rate), "t_max": float(t_max),
        "dmft_half_time": dmft_half_time(dataset, mode - 1), "dmft_half_time_alone": dmft_half_time(alone, 0),
        "with_all_modes": ([finite_list([half_time(dataset, mode - 1, w, s) for s in seeds]) for w in widths]
                           if with_all_modes else None),
        "alone": [finite_list([half_time(alone, 0, w, s) for s in seeds]) for w in widths],
    }
