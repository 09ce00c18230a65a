"""Concentration with depth: how much of each mode the dominant pathway carries.

The paper's headline claim: with two parallel pathways of equal depth ``D``, each mode
is increasingly learned by one pathway as ``D`` grows. For every depth, activation and
seed a network with two pathways of depth ``D`` is trained by gradient descent; for each
mode ``alpha`` the *dominant fraction* is ``max_a |K_{a alpha}| / sum_a |K_{a alpha}|`` at
the end of training (1/2: an even split, 1: one pathway carries the mode). The mean over
seeds and modes is reported with a t-distribution confidence interval over seeds (the
modes of one network are not independent, so each seed contributes its mean over modes),
clipped to the feasible range [1/2, 1] of a two-pathway fraction.

For linear networks the race oracle (:func:`pathdyn.numerics.race.race_final_strengths`)
predicts the final split from each network's own initial state, mapped to q/p by
:func:`pathdyn.validation.mapping.map_initial_state` (exact for depth 2, growth-matched
beyond); the report gives how often it names the winning pathway of each mode and its
predicted dominant fraction.
"""

from __future__ import annotations

from collections.abc import Sequence
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from pathdyn._base.settings import TrainingTime
from pathdyn.errors import ConfigError
from pathdyn.io.jsonio import to_jsonable
from pathdyn.io.labelled import require
from pathdyn.io.results import Record, labelled
from pathdyn.numerics.alignment import check_alignment
from pathdyn.numerics.datasets import Dataset
from pathdyn.numerics.display import html_summary, number, text_summary
from pathdyn.numerics.race import race_final_strengths
from pathdyn.validation.mapping import map_initial_state
from pathdyn.validation.network import ACTIVATIONS, initialize_weights, simulate_gd
from pathdyn.validation.network.torch_engine import resolve_device
from pathdyn.validation.sweep.cases import default_dataset
from pathdyn.validation.sweep.distributed import check_cluster_options, progress_for, task_runner
from pathdyn.validation.sweep.statistics import mean_interval
from pathdyn.validation.sweep.tasks import network_cost

__all__ = ["ConcentrationResult", "measure_concentration", "dominant_fraction", "CONCENTRATION_DEFAULTS"]

#: Defaults of :func:`measure_concentration` and ``pathdyn concentration``.
CONCENTRATION_DEFAULTS: dict[str, Any] = {
    "width": 64,
    "init": "gaussian",
    "init_scale": 0.5,
    "learning_rate": 0.03,
    "t_max": 90.0,
}


def dominant_fraction(K: Any) -> np.ndarray:
    """``max_a |K_a| / sum_a |K_a|`` over the pathway axis (second to last) of ``K (..., M, modes)``.

    Parameters
    ----------
    K : array_like, shape ``(..., M, modes)``
        Mode strengths ``K_{a alpha}``; only their absolute values count.

    Returns
    -------
    ndarray, shape ``(..., modes)``
        The dominant fraction of each mode, in ``[1/M, 1]``; NaN where every pathway's
        ``K`` is zero (the mode was not learned at all).
    """
    K = np.abs(np.asarray(K, dtype=float))
    total = K.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, K.max(axis=-2) / np.where(total > 0, total, 1.0), np.nan)


@dataclass(frozen=True)
class ConcentrationResult(Record):
    """Result of :func:`measure_concentration`.

    Attributes
    ----------
    depths : tuple of int
        Depth ``D`` of both pathways, one entry per measured point.
    activations : tuple of str
    seeds : tuple of int
    config : dict
        Every setting (width, init, learning rate, time, dataset, confidence).
    fractions : dict
        Activation -> ndarray ``(depths, seeds, modes)`` of dominant fractions.
    final_loss_ratio : dict
        Activation -> ndarray ``(depths, seeds)``: final loss over the zero network's loss.
    race_agreement : ndarray or None
        ``(depths, seeds, modes)``: 1 where the race oracle names the pathway that wins
        in the linear network, 0 where not.
    race_fraction : ndarray or None
        ``(depths, seeds, modes)``: the race oracle's predicted dominant fraction.
    wall_time_s : float
    """

    XARRAY_TITLE: ClassVar[str] = "pathdyn concentration"

    depths: tuple = field(metadata=labelled(coord="depth"))
    activations: tuple = field(metadata=labelled(coord="activation"))
    seeds: tuple = field(metadata=labelled(coord="seed"))
    config: dict
    fractions: dict = field(repr=False, metadata=labelled(dims=("activation", "depth", "seed", "mode"), name="fraction",
                                                          keyed=True))
    final_loss_ratio: dict = field(repr=False, metadata=labelled(dims=("activation", "depth", "seed"), keyed=True))
    race_agreement: np.ndarray | None = field(default=None, repr=False, metadata=labelled(dims=("depth", "seed", "mode")))
    race_fraction: np.ndarray | None = field(default=None, repr=False, metadata=labelled(dims=("depth", "seed", "mode")))
    wall_time_s: float = 0.0

    def __post_init__(self) -> None:
        shape = (len(self.depths), len(self.seeds))
        for activation in self.activations:
            if activation not in self.fractions or np.shape(self.fractions[activation])[:2] != shape:
                raise ConfigError(f"fractions[{activation!r}]: expected shape (depths, seeds, modes) with (depths, seeds) = {shape}")

    def summary_rows(self) -> list[tuple[str, str]]:
        """``(name, value)`` rows: the run, then the mean dominant fraction per depth and activation.

        Returns
        -------
        list of (str, str)
            For :func:`pathdyn.numerics.display.text_summary` and ``html_summary``.
        """
        config = self.config
        rows = [
            ("run", f"depths {list(self.depths)}, {len(self.seeds)} seeds, width {config.get('width')}, "
                    f"{config.get('init')} init scale {number(config.get('init_scale'))}, "
                    f"eta {number(config.get('learning_rate'))}, t_max {number(config.get('t_max'))}"),
        ]
        for activation in self.activations:
            means, _ = self.summary(activation)
            rows.append((f"{activation} fraction", ", ".join(f"D={d}: {number(m, 3)}" for d, m in zip(self.depths, means))))
        if self.race_agreement is not None:
            agreement = [float(np.nanmean(a)) for a in self.race_agreement]
            rows.append(("race agreement", ", ".join(f"D={d}: {number(a, 3)}" for d, a in zip(self.depths, agreement))))
        if self.wall_time_s:
            rows.append(("wall time", f"{number(self.wall_time_s, 3)} s"))
        return rows

    def __repr__(self) -> str:
        return text_summary("ConcentrationResult", self.summary_rows())

    def _repr_html_(self) -> str:
        return html_summary("ConcentrationResult", self.summary_rows())

    def to_dataframe(self, name: str = "case 1") -> Any:
        """One pandas row per (activation, depth): mean fraction and interval (needs the ``xarray`` extra).

        Parameters
        ----------
        name : str
            Not used (one measurement is one table); kept for the protocol's signature.

        Returns
        -------
        pandas.DataFrame
            Columns ``activation, depth, seeds, mean_fraction, ci_low, ci_high`` and, with
            the race oracle, ``race_agreement, race_fraction`` (NaN on non-linear rows).
        """
        pd = require("pandas")
        rows = []
        for activation in self.activations:
            means, cis = self.summary(activation)
            for i, depth in enumerate(self.depths):
                row = {"activation": activation, "depth": int(depth), "seeds": len(self.seeds), "mean_fraction": means[i],
                       "ci_low": cis[i][0], "ci_high": cis[i][1]}
                if self.race_agreement is not None and self.race_fraction is not None:
                    linear = activation == "linear"
                    row["race_agreement"] = float(np.nanmean(self.race_agreement[i])) if linear else np.nan
                    row["race_fraction"] = float(np.nanmean(self.race_fraction[i])) if linear else np.nan
                rows.append(row)
        return pd.DataFrame(rows)

    def table(self) -> str:
        """The printed summary of ``pathdyn concentration``: one row per activation, one column per depth.

        Returns
        -------
        str
            ``mean [low,high]`` of the dominant fraction per depth and activation (``None``
            where no seed learned a mode), then the race oracle's winner agreement and
            predicted fraction when the race was run; lines joined by newlines.
        """
        document = self.to_json_dict()
        lines = ["depth        " + " ".join(f"{d:>16d}" for d in self.depths)]
        for activation in self.activations:
            cells = [f"{m:.3f} [{c[0]:.3f},{c[1]:.3f}]" if m is not None and c[0] is not None else f"{m}"
                     for m, c in zip(document["dominant_fraction"][activation], document["ci"][activation])]
            lines.append(f"{activation:<12} " + " ".join(f"{c:>16}" for c in cells))
        if "race" in document:
            lines.append("race agrees  " + " ".join(f"{v:>16.3f}" for v in document["race"]["winner_agreement"]))
            lines.append("race fraction" + " ".join(f"{v:>16.3f}" for v in document["race"]["predicted_fraction_mean"]))
        return "\n".join(lines)

    def summary(self, activation: str) -> tuple:
        """``(means, cis)`` per depth: mean over seeds of each seed's mean over modes, and its interval.

        Parameters
        ----------
        activation : str
            One of :attr:`activations`.

        Returns
        -------
        means : list of float
            One per depth; NaN where no seed has a finite fraction.
        cis : list of [float, float]
            One ``[low, high]`` t-interval per depth at ``config["confidence"]`` (default
            0.95), clipped to ``[1/2, 1]``; NaN with fewer than two seeds.

        Raises
        ------
        KeyError
            If ``activation`` was not measured.

        Notes
        -----
        Each seed first contributes its mean over modes, since the modes of one network are
        not independent samples (see :func:`pathdyn.validation.sweep.statistics.mean_interval`).
        """
        confidence = self.config.get("confidence", 0.95)
        per_seed = np.nanmean(self.fractions[activation], axis=-1)
        pairs = [mean_interval(row, confidence) for row in per_seed]
        return [p[0] for p in pairs], [list(p[1]) for p in pairs]

    def json_extras(self) -> dict:
        """The summaries readers of the JSON want: means and intervals per depth, and the race oracle's.

        Returns
        -------
        dict
            ``dominant_fraction`` and ``ci`` (activation -> one mean / ``[low, high]`` per
            depth, from :meth:`summary`), ``dominant_fraction_per_mode`` (activation ->
            depths x modes, mean over seeds), ``dominant_fraction_per_seed`` (activation ->
            depths x seeds, mean over modes) and, with the race oracle, ``race``
            (``winner_agreement``, ``predicted_fraction_mean``, ``predicted_fraction_ci`` per
            depth, and ``mapping``). NaN is written as ``null``.
        """

        def as_json(value):  # NaN (no seed learned the mode) as JSON null
            return to_jsonable(value, non_finite="null")

        dominant, ci, per_mode, per_seed = {}, {}, {}, {}
        for activation in self.activations:
            means, cis = self.summary(activation)
            dominant[activation] = as_json([float(m) for m in means])
            ci[activation] = as_json([[float(v) for v in c] for c in cis])
            per_mode[activation] = as_json(np.nanmean(self.fractions[activation], axis=1).tolist())
            per_seed[activation] = as_json(np.nanmean(self.fractions[activation], axis=2).tolist())
        out: dict[str, Any] = {"dominant_fraction": dominant, "ci": ci, "dominant_fraction_per_mode": per_mode,
                               "dominant_fraction_per_seed": per_seed}
        if self.race_agreement is not None and self.race_fraction is not None:
            confidence = self.config.get("confidence", 0.95)
            agreement = [float(np.nanmean(a)) for a in self.race_agreement]
            predicted = [mean_interval(np.nanmean(r, axis=-1), confidence) for r in self.race_fraction]
            out["race"] = {
                "winner_agreement": as_json(agreement),
                "predicted_fraction_mean": as_json([float(p[0]) for p in predicted]),
                "predicted_fraction_ci": as_json([[float(v) for v in p[1]] for p in predicted]),
                "mapping": "q/p: exact for depth 2, growth-matched beyond (each network's own initial state)",
            }
        return out


def measure_concentration(
    depths: Sequence[int] = (2, 3, 4, 5, 7),
    activations: Sequence[str] = ("linear", "relu", "tanh"),
    seeds: Sequence[int] = tuple(range(20)),
    *,
    width: int = CONCENTRATION_DEFAULTS["width"],
    init: str = CONCENTRATION_DEFAULTS["init"],
    init_scale: float = CONCENTRATION_DEFAULTS["init_scale"],
    learning_rate: float = CONCENTRATION_DEFAULTS["learning_rate"],
    t_max: float = CONCENTRATION_DEFAULTS["t_max"],
    dataset: Dataset | None = None,
    race: bool = True,
    confidence: float = 0.95,
    progress: bool = False,
    device: str = "numpy",
    workers: int | None = None,
    scheduler: str | None = None,
) -> ConcentrationResult:
    """Dominant-pathway fraction against depth, per activation, over many seeds.

    Parameters
    ----------
    depths : sequence of int
        Depth ``D`` of both pathways (architecture ``(D, D)``), one point each.
    activations : sequence of {"linear", "relu", "tanh"}
    seeds : sequence of int
        One network per seed (the same seeds at every depth and activation).
    width : int
        Hidden width ``N`` (default 64: finite-width fluctuations between the pathways
        seed the race; see the README for the measured numbers).
    init, init_scale : str, float
        Initialisation (default Gaussian with variance ``init_scale^2 / N``, scale 0.5:
        small enough for a long race, large enough that depth 7 learns within ``t_max``).
    learning_rate, t_max : float
        ``eta`` and training time (``steps = round(t_max / eta)``).
    dataset : Dataset, optional
        Default :func:`pathdyn.validation.sweep.cases.default_dataset`.
    race : bool
        For linear networks, also run the race oracle from each network's initial state
        (ending at ``S / lambda`` for aligned non-whitened inputs; misaligned inputs are refused).
    confidence : float
        Level of the intervals.
    progress : bool
        Progress bar on standard error (terminals only).
    device : str
        Where the networks train: ``"numpy"`` (default) or a PyTorch device (``"cuda"``,
        ``"cpu"``); see :func:`pathdyn.validation.network.simulate_gd`.
    workers : int, optional
        Train the networks on a local Dask cluster of this many processes, one task per
        (depth, seed, activation) (:mod:`pathdyn.validation.sweep.distributed`; the extra
        ``distributed``). The result is bit-identical to the serial one.
    scheduler : str, optional
        Train them on the existing Dask cluster at this address instead.

    Returns
    -------
    ConcentrationResult

    Raises
    ------
    ConfigError
        Bad depths, activations, seeds or settings.

    Warns
    -----
    UserWarning
        When some networks did not finish learning (final loss above 1% of the zero
        network's): their split is not final.
    """

    started = time.perf_counter()
    depths, activations, seeds = _checked_settings(depths, activations, seeds, width, learning_rate, t_max, init_scale)
    device = resolve_device(device)
    check_cluster_options(workers, scheduler)
    dataset = default_dataset() if dataset is None else dataset
    steps = TrainingTime(learning_rate, t_max).steps
    race_target = _race_target(dataset) if race and "linear" in activations else None
    # One task per network: (depth, seed, activation), each from its own seed.
    cells = [(i, j, activation) for i in range(len(depths)) for j in range(len(seeds)) for activation in activations]
    U, _, Vt = dataset.modes()
    tasks = [((depths[i], depths[i]), dataset, width, init, init_scale, seeds[j], activation, learning_rate, steps,
              (U, Vt.T, race_target) if race_target is not None and activation == "linear" else None, device)
             for i, j, activation in cells]
    labels = [f"concentration-d{depths[i]}-s{seeds[j]}-{activation}" for i, j, activation in cells]
    weights = [network_cost((depths[i],) * 2, width, dataset.n_in, dataset.n_out, steps) for i, _, _ in cells]
    with progress_for(progress, len(tasks), "concentration", weights) as bar, task_runner(workers, scheduler) as runner:
        results = runner.map(_train_concentration_network, tasks, labels, bar,
                             priorities=[depths[i] for i, _, _ in cells])
    measured = _collect_fractions(cells, results, (len(depths), len(seeds), race_target is not None), activations, dataset)
    if measured["unfinished"]:
        warnings.warn(
            f"measure_concentration: {measured['unfinished']} network(s) ended with loss above 1% of the zero network's; "
            "their split is not final: raise t_max or init_scale",
            stacklevel=2,
        )
    config = _concentration_config(width, init, init_scale, learning_rate, steps, seeds, dataset, confidence)
    return ConcentrationResult(
        depths=tuple(depths), activations=tuple(activations), seeds=tuple(seeds), config=config, fractions=measured["fractions"],
        final_loss_ratio=measured["loss_ratio"], race_agreement=measured["agreement"],
        race_fraction=measured["race_fraction"], wall_time_s=time.perf_counter() - started,
    )


def _checked_settings(depths, activations, seeds, width, learning_rate, t_max, init_scale) -> tuple:
    """``(depths, activations, seeds)`` as tuples; every problem at once in one ConfigError."""

    try:
        depths = tuple(int(d) for d in depths)
        seeds = tuple(int(s) for s in seeds)
    except (TypeError, ValueError):
        raise ConfigError(f"depths, seeds: expected whole numbers, got {depths!r}, {seeds!r}") from None
    activations = tuple(activations)
    problems = []
    if not depths or any(d < 1 for d in depths):
        problems.append(f"depths: {list(depths)}: give depths >= 1, e.g. 2,3,4,5,7")
    if not seeds or any(s < 0 for s in seeds):
        problems.append(f"seeds: {list(seeds)}: give at least one seed >= 0")
    bad = [a for a in activations if a not in ACTIVATIONS]
    if not activations or bad:
        problems.append(f"activations: {list(activations)}: choose from {', '.join(ACTIVATIONS)}")
    if not isinstance(width, int) or width < 1:
        problems.append(f"width: {width!r} is not a positive whole number")
    for name, value in (("learning_rate", learning_rate), ("t_max", t_max), ("init_scale", init_scale)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            problems.append(f"{name}: {value!r} is not a positive number")
    if problems:
        raise ConfigError("; ".join(problems))
    return depths, activations, seeds


def _race_target(dataset) -> np.ndarray:
    """Where the race ends, ``sum_a K_a = S / lambda`` (``lambda = 1`` for whitened inputs).

    Misaligned inputs have no per-mode race and are refused (DatasetError).
    """

    S = dataset.modes()[1]
    lam = np.ones_like(S)
    variances = check_alignment(dataset).input_variances
    lam[:variances.size] = variances  # modes with S = 0 (none in the default data) keep 1
    return S / lam


def _collect_fractions(cells, results, shape, activations, dataset) -> dict:
    """Dominant fractions, loss ratios and race agreement of every network, in arrays by (depth, seed).

    ``shape = (depths, seeds, race)``. Returns ``fractions``, ``loss_ratio`` (per activation),
    ``agreement``, ``race_fraction`` (None without the race) and ``unfinished`` (networks
    whose final loss is above 1% of the zero network's).
    """
    num_depths, num_seeds, race = shape
    modes = dataset.modes()[1].size
    zero_loss = 0.5 * float(np.sum(dataset.Y**2)) / dataset.num_samples
    fractions = {a: np.full((num_depths, num_seeds, modes), np.nan) for a in activations}
    loss_ratio = {a: np.full((num_depths, num_seeds), np.nan) for a in activations}
    agreement = np.full((num_depths, num_seeds, modes), np.nan)
    race_fraction = np.full_like(agreement, np.nan)
    unfinished = 0
    for (i, j, activation), (K, final_loss, predicted) in zip(cells, results):
        fractions[activation][i, j] = dominant_fraction(K)
        loss_ratio[activation][i, j] = final_loss / zero_loss
        if loss_ratio[activation][i, j] > 0.01:
            unfinished += 1
        if predicted is not None:
            winner = np.argmax(np.abs(K), axis=0)
            agreement[i, j] = (np.argmax(np.abs(predicted), axis=0) == winner).astype(float)
            race_fraction[i, j] = dominant_fraction(predicted)
    return {"fractions": fractions, "loss_ratio": loss_ratio, "agreement": agreement if race else None,
            "race_fraction": race_fraction if race else None,
            "unfinished": unfinished}


def _concentration_config(width, init, init_scale, learning_rate, steps, seeds, dataset, confidence) -> dict:
    """The ``config`` of a :class:`ConcentrationResult`: every setting of the measurement."""
    return {
        "width": width,
        "init": init,
        "init_scale": float(init_scale),
        "learning_rate": float(learning_rate),
        "t_max": float(steps * learning_rate),
        "steps": steps,
        "seeds": len(seeds),
        "seed_list": list(seeds),
        "architecture": "two pathways of equal depth D",
        "dataset": dataset.name,
        "singular_values": [float(s) for s in dataset.modes()[1]],
        "confidence": confidence,
        "fraction": "max_a |K_a| / sum_a |K_a| per mode at the end of training; mean over modes per seed, "
                    "then mean and t-interval over seeds",
        "time_mapping": "t = eta * step",
    }


def _train_concentration_network(architecture, dataset, width, init, init_scale, seed, activation, learning_rate, steps,
                                 race_modes, device="numpy"):
    """One task of :func:`measure_concentration`: ``(final K, final loss, race prediction or None)``.

    ``race_modes = (U, V, S / lambda)`` also runs the race oracle from the network's own initial
    state (q/p mapping); None where it is not asked for or cannot resolve the split.
    """

    weights = initialize_weights(architecture, dataset.n_in, dataset.n_out, width, init=init, init_scale=init_scale,
                                 seed=seed)
    result = simulate_gd(architecture, dataset, width, weights=weights, activation=activation,
                         learning_rate=learning_rate, steps=steps, record_every=steps, device=device)
    predicted = None
    if race_modes is not None:
        U, V, target = race_modes
        state = map_initial_state(weights, U, V, theory="qp")
        q0, p0 = state.qp_arrays()
        try:
            predicted = race_final_strengths(architecture, q0, p0, target)
        except ConfigError:
            predicted = None
    return result.K[-1], float(result.loss[-1]), predicted
