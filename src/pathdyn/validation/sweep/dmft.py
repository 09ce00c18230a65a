"""Finite networks against the DMFT: the seed mean of ``K`` as width grows.

The DMFT (:mod:`pathdyn.numerics.dmft`) predicts the infinite-width limit of ``K(t)``,
which is the limit of the ensemble mean over initial weights. :func:`validate_dmft_width`
trains ``len(seeds)`` networks at every width, compares the mean of their ``K`` with the
DMFT (error ``max_{t, a, alpha} |<K>_seeds - K_DMFT| / S_1``), fits its slope against
width, and reports how far single networks scatter around the DMFT and how that
scatter scales with width.

With at most :data:`MAX_DISCRETE_STEPS` gradient steps the DMFT is solved in discrete time
at the networks' own learning rate (exact at infinite width: no ``O(eta)`` floor); with
more it is solved in continuous time and the ``O(eta)`` floor is measured as for the
other theories.
"""

from __future__ import annotations

from collections.abc import Sequence
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from pathdyn.errors import ConfigError
from pathdyn.numerics.compile import compile_rhs
from pathdyn.numerics.datasets import Dataset
from pathdyn.numerics.dmft import DMFTInitialOverlaps, solve_dmft, solve_dmft_flow
from pathdyn.numerics.integrate import integrate
from pathdyn.numerics.race import race_final_strengths
from pathdyn.numerics.trajectory import Trajectory
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.models import MODELS, models_of_kind
from pathdyn.validation.mapping import default_method, forward_backward_vectors, map_initial_state
from pathdyn.validation.models import reduced_equations
from pathdyn.validation.network import initialize_weights, simulate_gd
from pathdyn.validation.network.torch_engine import resolve_device
from pathdyn.validation.sweep.cases import DMFT_DEFAULTS, ValidationCase, default_dataset
from pathdyn.validation.sweep.distributed import check_cluster_options
from pathdyn.validation.sweep.report import TIME_MAPPING, DMFTWidthReport
from pathdyn.validation.sweep.statistics import fit_slope
from pathdyn.validation.sweep.tasks import network_tasks, train_networks
from pathdyn.validation.sweep.verdicts import (MIN_SEEDS, MIN_WIDTHS, limit_evidence, richardson_floor, slope_parts,
                                            stability_note, tail_slope, target_check)

__all__ = ["MAX_DISCRETE_STEPS", "SeedMeanStatistics", "dmft_prediction", "ensemble_verdict", "network_overlaps", "predict_network",
           "seed_mean_statistics", "single_network_study", "validate_dmft_width"]

#: Up to this many gradient steps the DMFT is solved at the networks' learning rate.
MAX_DISCRETE_STEPS = 800
#: Tolerance of the continuous-time solve (relative to S_1) beyond it.
FLOW_TOL = 2e-4
COMPARED = "seed mean of per-mode K = diag(U^T Omega_a V) against the DMFT (the infinite-width ensemble mean)"


def network_overlaps(weights: list[list], U: np.ndarray, V: np.ndarray, gains: bool = False) -> DMFTInitialOverlaps:
    """One network's ``|a|^2``, ``|b|^2`` and initial ``K`` per pathway and mode (``a = W^1 v``, ``b = (W^D)^T u``).

    ``overlap`` is ``K(0) = u^T Omega_a v`` (``a.b`` at depth 2). With ``gains`` also each
    hidden matrix's gain on the network's own initial fields (see
    :class:`pathdyn.numerics.dmft.DMFTInitialOverlaps`).

    Parameters
    ----------
    weights : list of list of ndarray
        ``weights[a][d]``, the layout of :func:`pathdyn.validation.network.initialize_weights`.
    U : ndarray, shape (n_out, modes)
        Left singular vectors ``u_alpha`` of the data as columns.
    V : ndarray, shape (n_in, modes)
        Right singular vectors ``v_alpha`` as columns.
    gains : bool
        Also measure the hidden matrices' gains (default False: the ensemble's ``sigma^2``).

    Returns
    -------
    DMFTInitialOverlaps
        ``input_norm2``, ``output_norm2`` and ``overlap`` of shape ``(M, modes)`` (norms 1
        for a depth-1 pathway, which has no ``a`` or ``b``) and, with ``gains``, per
        pathway ``(forward, backward)`` of shape ``(D_a - 1, modes)``.

    Raises
    ------
    ConfigError
        If a norm or overlap is not finite (weights holding NaN or infinities).
    """
    norms_in, norms_out, overlaps, site_gains = [], [], [], []
    for layers in weights:
        f, g = forward_backward_vectors(layers, U, V)
        depth = len(layers)
        a, b = f[1], g[depth - 1]
        if depth == 1:
            norms_in.append(np.ones(U.shape[1]))
            norms_out.append(np.ones(U.shape[1]))
        else:
            norms_in.append(np.einsum("im,im->m", a, a))
            norms_out.append(np.einsum("im,im->m", b, b))
        overlaps.append(np.einsum("im,im->m", U, f[-1]))  # K(0); equals a.b at depth 2
        f2 = [np.einsum("im,im->m", x, x) for x in f]
        g2 = [np.einsum("im,im->m", x, x) for x in g]
        sites = max(depth - 1, 0)
        forward = np.ones((sites, U.shape[1]))
        backward = np.ones((sites, U.shape[1]))
        for k in range(1, sites):  # hidden matrix k is layer k + 1 (0-based W_{k+1})
            forward[k] = f2[k + 1] / f2[k]
            backward[k] = g2[k] / g2[k + 1]
        site_gains.append((forward, backward))
    return DMFTInitialOverlaps(np.array(norms_in), np.array(norms_out), np.array(overlaps),
                               gains=tuple(site_gains) if gains else None)


def dmft_prediction(depths: Sequence[int], singular_values: ArrayLike, *, init_scale: float, learning_rate: float, steps: int,
                    record_steps: ArrayLike, initial_overlaps: DMFTInitialOverlaps | None = None,
                    init: str = "gaussian") -> tuple[np.ndarray, bool]:
    """The DMFT's ``K`` at the gradient steps ``record_steps`` (time ``t = eta * step``).

    Discrete at ``learning_rate`` when ``steps <= MAX_DISCRETE_STEPS``; otherwise the
    continuous-time solution, interpolated.

    Parameters
    ----------
    depths : sequence of int
        ``D_a >= 1`` per pathway.
    singular_values : array_like, shape (modes,)
        ``S_alpha`` of the data.
    init_scale : float
        ``sigma``: hidden ``N x N`` layers have entries of variance ``sigma^2 / N``.
    learning_rate : float
        ``eta`` of the networks.
    steps : int
        Number of gradient steps of the networks.
    record_steps : array_like of int
        The steps (``0 .. steps``) at which ``K`` is wanted.
    initial_overlaps : DMFTInitialOverlaps, optional
        Condition on one network (:func:`network_overlaps`); default the ensemble.

    Returns
    -------
    K : ndarray, shape (len(record_steps), M, modes)
        The DMFT's ``K_{a alpha}`` at those steps (linearly interpolated in time when solved
        in continuous time, on a grid of four times as many points).
    discrete : bool
        Whether it was solved in discrete time at ``learning_rate``.

    Raises
    ------
    ConfigError
        Bad depths, singular values, scales or steps (as :func:`pathdyn.numerics.dmft.solve_dmft`).
    IntegrationError
        If ``K`` blows up.
    """
    record_steps = np.asarray(record_steps, dtype=int)
    if steps <= MAX_DISCRETE_STEPS:
        trajectory = solve_dmft(depths, singular_values, learning_rate=learning_rate, steps=steps,
                                init_scale=init_scale, initial_overlaps=initial_overlaps, init=init)
        return trajectory.K[record_steps], True
    t = learning_rate * record_steps
    flow = solve_dmft_flow(depths, singular_values, t_max=learning_rate * steps, num_points=4 * t.size,
                           init_scale=init_scale, initial_overlaps=initial_overlaps, tol=FLOW_TOL, init=init)
    flat = flow.K.reshape(flow.t.size, -1)
    K = np.stack([np.interp(t, flow.t, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return K.reshape(t.size, *flow.K.shape[1:]), False


def validate_dmft_width(case: ValidationCase | Architecture | Sequence[int], widths: Sequence[int] | None = None, seeds: Sequence[int] | None = None, *,
                        progress: Any = False, device: str = "numpy", workers: int | None = None, scheduler: str | None = None,
                        runner: Any = None, **options: Any) -> DMFTWidthReport:
    """Sweep widths: the seed mean of ``K`` against the DMFT.

    Parameters
    ----------
    case : ValidationCase, Architecture or sequence of int
        A case with ``theory="dmft"``, or the depths of a case built from ``widths``,
        ``seeds`` and ``options`` with the defaults of :data:`~pathdyn.validation.sweep.cases.DMFT_DEFAULTS`
        (8 seeds, ``eta = 0.02``, ``t_max = 8``, 200 recorded times).
    widths : sequence of int, optional
        Hidden widths; only without a case.
    seeds : sequence of int, optional
        At least two; every (width, seed) is one network. Only without a case.
    progress, device, workers, scheduler, runner
        Where and how the networks train, as :func:`pathdyn.validation.sweep.width.validate_width`:
        each network is one task of :func:`pathdyn.validation.sweep.distributed.task_runner`,
        so a cluster gives the same report bit for bit.
    **options
        Other fields of :class:`~pathdyn.validation.sweep.cases.ValidationCase`: ``init``
        (``"gaussian"``, the cavity DMFT, or ``"orthogonal"``, the exact overlap march of
        :mod:`pathdyn.numerics.dmft_orthogonal`), ``init_scale`` (default
        0.3; input and output layers at the same scale), ``dataset`` (whitened,
        non-degenerate), ``learning_rate``, ``t_max``, ``record_points``,
        ``measure_lr_floor`` (used only when the DMFT is solved in continuous time),
        ``targets``, ``confidence``, ``rtol``/``atol`` (of the q/p comparison),
        ``mapping`` (None: the DMFT has no initial-state mapping) and ``compare_qp``: also
        integrate the q/p model from every network's own (growth-matched) initial state and
        report how far the seed mean of those predictions is from the seed mean of the
        networks (``qp_ensemble_errors``).

    Returns
    -------
    DMFTWidthReport

    Raises
    ------
    ConfigError
        An init other than Gaussian or orthogonal, a non-whitened or degenerate dataset, fewer than two seeds, a
        case of another theory, or bad settings.
    """

    if not isinstance(case, ValidationCase):
        options.setdefault("theory", models_of_kind("dmft")[0])
    case = ValidationCase.from_options(case, widths, seeds, defaults=DMFT_DEFAULTS, **options)
    if not MODELS[case.theory].predicts_seed_mean:
        raise ConfigError(f"case: theory {case.theory!r}, but validate_dmft_width compares with the DMFT; "
                          "give theory='dmft' or call validate_width")
    started = time.perf_counter()
    device = resolve_device(device)
    check_cluster_options(workers, scheduler)
    dataset = case.resolved_dataset()
    S = dataset.modes()[1]
    K_dmft, discrete = dmft_prediction(case.depths, S, init_scale=case.sigma, learning_rate=case.learning_rate,
                                       steps=case.steps, record_steps=_record_steps(case), init=case.init)
    floor = not discrete and case.measure_lr_floor
    # One task per network (and the O(eta) floor's half-step run), as in validate_width.
    tasks, labels = network_tasks(case, dataset, mapping=None, half_eta=floor, device=device, prefix="dmft")
    results = train_networks(tasks, labels, progress=progress, label=f"validate dmft {','.join(map(str, case.depths))}",
                             workers=workers, scheduler=scheduler, runner=runner)
    stacks = [np.stack([trajectory.K for _, trajectory in results[i * len(case.seeds): (i + 1) * len(case.seeds)]])
              for i in range(len(case.widths))]  # per width: (seeds, T, M, modes)
    lr_floor = _half_step_floor(stacks[-1][0], results[-1][1], float(np.max(S))) if floor else None
    statistics = seed_mean_statistics(stacks, K_dmft, float(np.max(S)))
    gd_t = results[0][1].t
    qp_errors = _qp_ensemble_errors(case, dataset, stacks, gd_t) if case.compare_qp else None
    example = {"width": case.widths[-1], "seed": case.seeds[0], "t": np.asarray(gd_t), "K_gd": stacks[-1].mean(axis=0),
               "K_theory": np.asarray(K_dmft)}
    return _dmft_report(case, dataset, statistics, K_dmft, discrete, lr_floor, qp_errors, example,
                        wall_time_s=time.perf_counter() - started)


def _record_steps(case) -> list:
    """The gradient steps ``simulate_gd`` records: every ``record_every``-th, and the last one."""
    record_steps = list(range(0, case.steps + 1, case.record_every))
    if record_steps[-1] != case.steps:  # simulate_gd records the last step too
        record_steps.append(case.steps)
    return record_steps


def _half_step_floor(full_K, half, scale: float) -> float | None:
    """``2 max |K(eta) - K(eta/2)| / S_1`` of the largest width's first network; None if the grids differ."""
    return richardson_floor(full_K, half.K, scale)


@dataclass(frozen=True)
class SeedMeanStatistics:
    """How the networks of each width compare with the DMFT, one entry per width (see :class:`DMFTWidthReport`).

    Attributes
    ----------
    errors : ndarray, shape (widths, seeds)
        Single networks: ``max_{t, a, alpha} |K - K_DMFT| / S_1``.
    ensemble, standard, scatter : ndarray, shape (widths,)
        The seed mean's error, its sampling noise there, and the largest spread of single networks.
    total_errors, total_standard : ndarray, shape (widths,)
        The same for ``sum_a K_{a alpha}``.
    final_gd : ndarray, shape (widths, seeds, M, modes)
        Final ``K`` of every network.
    """

    errors: np.ndarray
    ensemble: np.ndarray
    standard: np.ndarray
    scatter: np.ndarray
    total_errors: np.ndarray
    total_standard: np.ndarray
    final_gd: np.ndarray


def seed_mean_statistics(stacks: Sequence[np.ndarray], K_dmft: np.ndarray, scale: float) -> SeedMeanStatistics:
    """The errors of single networks and of their seed mean against the DMFT, width by width.

    Parameters
    ----------
    stacks : sequence of ndarray, each (seeds, T, M, modes)
        ``K`` of every network of one width, on the DMFT's times.
    K_dmft : ndarray, shape (T, M, modes)
    scale : float
        ``S_1``: every error is relative to it.

    Returns
    -------
    SeedMeanStatistics

    Notes
    -----
    At the ``(t, a, alpha)`` of the largest ``|<K>_seeds - K_DMFT|`` the sampling noise is
    ``std_seeds(K) / sqrt(seeds)``; summed over pathways the race between them cancels, so
    the check of ``sum_a K_a`` is far less noisy.
    """
    count = len(stacks)
    seeds = stacks[0].shape[0]
    errors = np.zeros((count, seeds))
    ensemble, standard, scatter, total_errors, total_standard = (np.zeros(count) for _ in range(5))
    final_gd = np.zeros((count, seeds) + stacks[0].shape[2:])
    for i, stack in enumerate(stacks):
        errors[i] = np.max(np.abs(stack - K_dmft), axis=(1, 2, 3)) / scale
        difference = np.abs(stack.mean(axis=0) - K_dmft)
        spread = stack.std(axis=0, ddof=1)
        where = np.unravel_index(np.argmax(difference), difference.shape)
        ensemble[i] = difference[where] / scale
        standard[i] = spread[where] / math.sqrt(seeds) / scale
        scatter[i] = float(np.max(spread)) / scale
        total = stack.sum(axis=2)
        total_difference = np.abs(total.mean(axis=0) - K_dmft.sum(axis=1))
        where_total = np.unravel_index(np.argmax(total_difference), total_difference.shape)
        total_errors[i] = total_difference[where_total] / scale
        total_standard[i] = total.std(axis=0, ddof=1)[where_total] / math.sqrt(seeds) / scale
        final_gd[i] = stack[:, -1]
    return SeedMeanStatistics(errors, ensemble, standard, scatter, total_errors, total_standard, final_gd)


def _qp_ensemble_errors(case, dataset, stacks, gd_t) -> np.ndarray:
    """``max |<K_qp>_seeds - <K>_seeds| / S_1`` per width: the q/p model started from every network."""

    U, S, Vt = dataset.modes()
    initial = []
    for width in case.widths:
        for seed in case.seeds:  # the same weights again (a seeded draw): the q/p model starts from each network
            weights = initialize_weights(case.depths, dataset.n_in, dataset.n_out, width, init=case.init,
                                         init_scale=case.sigma, seed=seed)
            initial.append(_qp_state(weights, U, Vt.T, case.depths, case.sigma))
    qp_K = _qp_trajectories(case.depths, np.stack(initial), S, gd_t, rtol=case.rtol, atol=case.atol)
    qp_K = qp_K.reshape(gd_t.size, len(case.widths), len(case.seeds), len(case.depths), S.size)
    return np.array([np.max(np.abs(qp_K[:, i].mean(axis=1) - stack.mean(axis=0))) / float(np.max(S))
                     for i, stack in enumerate(stacks)])


def _dmft_verdict(case, statistics, lr_floor, qp_errors) -> tuple:
    """Slope, interval, tail slope, evidence, verdict line and ``passed`` of the seed-mean errors."""
    widths, ensemble = case.widths, statistics.ensemble
    mean_errors = ensemble[:, None]
    slope, ci, _ = fit_slope(widths, mean_errors, case.confidence)
    tail = tail_slope(widths, mean_errors)
    scatter_slope = fit_slope(widths, statistics.scatter[:, None])[0]
    evidence = limit_evidence(widths, mean_errors, lr_floor, case.confidence)
    # the seed mean is one number per width, but it averages len(seeds) networks
    evidence.update(num_seeds=len(case.seeds),
                    enough_data=bool(evidence["num_widths"] >= MIN_WIDTHS and len(case.seeds) >= MIN_SEEDS))
    verdict, passed = ensemble_verdict(slope, ci, tail, ensemble, widths, evidence, dict(case.targets),
                                       statistics.standard[-1])
    if qp_errors is not None:
        verdict += f"; q/p (growth-matched, per network, averaged) misses the same seed mean by {qp_errors[-1]:.4f}"
    verdict += f"; summed over pathways {statistics.total_errors[-1]:.4f} (noise {statistics.total_standard[-1]:.4f})"
    verdict += (f"; sampling noise of the mean {statistics.standard[-1]:.4f} at width {widths[-1]}"
                f"; single networks scatter {statistics.scatter[-1]:.4f} (slope {scatter_slope:.2f} against width)")
    return slope, ci, tail, scatter_slope, evidence, verdict, passed


def _dmft_report(case, dataset, statistics, K_dmft, discrete, lr_floor, qp_errors, example, wall_time_s) -> DMFTWidthReport:
    """The :class:`DMFTWidthReport` of a compared sweep (``example``: the largest width's seed mean)."""
    slope, ci, tail, scatter_slope, evidence, verdict, passed = _dmft_verdict(case, statistics, lr_floor, qp_errors)
    S = dataset.modes()[1]
    note = stability_note(case.learning_rate, case.depths, S)  # the DMFT's data are whitened (lambda = 1)
    verdict = verdict if note is None else f"{verdict}; {note}"
    gd_t = example["t"]
    return DMFTWidthReport(
        depths=case.depths, widths=case.widths, seeds=case.seeds, init=case.init, init_scale=case.sigma, theory=case.theory,
        mapping=case.method, dataset=dataset.name, singular_values=tuple(float(s) for s in S),
        learning_rate=float(case.learning_rate), t_max=float(gd_t[-1]), steps=case.steps, errors=statistics.errors,
        slope=slope, slope_ci=ci, tail_slope=tail, confidence=case.confidence, lr_floor=lr_floor, time_mapping=TIME_MAPPING,
        limit=(MODELS[case.theory].limit_compared(case.method, case.init, case.depths) + "; "
               + ("solved at the networks' learning rate (no O(eta) floor)" if discrete else "solved in continuous time")),
        compared=COMPARED, verdict=verdict, passed=passed, targets=dict(case.targets), final_K_gd=statistics.final_gd,
        final_K_theory=np.broadcast_to(K_dmft[-1], statistics.final_gd.shape).copy(), example=example,
        wall_time_s=wall_time_s, ensemble_errors=statistics.ensemble, standard_errors=statistics.standard,
        scatter=statistics.scatter, scatter_slope=scatter_slope, discrete=discrete, qp_ensemble_errors=qp_errors,
        total_errors=statistics.total_errors, total_standard_errors=statistics.total_standard, evidence=evidence,
    )


def ensemble_verdict(slope: float, ci: tuple, tail: float, ensemble: np.ndarray, widths: Sequence[int],
                     evidence: dict, targets: dict, noise: float) -> tuple:
    """The verdict of the seed-mean error, in the words of :func:`pathdyn.validation.sweep.verdicts.sweep_verdict`.

    Parameters
    ----------
    slope : float
        Slope of ``log error`` of the seed mean against ``log width``.
    ci : (float, float)
        Its confidence interval.
    tail : float
        The slope over the larger half of the widths (NaN if not fitted).
    ensemble : ndarray, shape (widths,)
        The seed mean's error at each width.
    widths : sequence of int
    evidence : dict
        :func:`pathdyn.validation.sweep.verdicts.limit_evidence` of the seed-mean errors.
    targets : dict
        As :func:`pathdyn.validation.sweep.verdicts.target_check`.
    noise : float
        The seed mean's standard error at the largest width: above the error target, the
        verdict is indicative, not a failure.

    Returns
    -------
    (str, bool or None)
        The verdict line and whether the targets were met (None: no targets, too little data,
        or noise above the error target).
    """
    measured = f"seed-mean error {ensemble[-1]:.4f} at width {widths[-1]}"
    if not evidence["enough_data"]:
        return f"inconclusive: give at least {MIN_WIDTHS} widths and {MIN_SEEDS} seeds; {measured}", None
    parts = slope_parts(slope, ci, tail) + [measured]
    head, passed = target_check(slope, ci, ensemble[-1], targets, noise=float(noise))
    return "; ".join(([head] if head else []) + parts), passed


def _qp_state(weights, U, V, depths, sigma):
    """The q/p initial state of one network (growth-matched, or exact at depth 2), for the side-by-side comparison."""

    equations = reduced_equations(depths, "qp")
    state = map_initial_state(weights, U, V, theory="qp", method=default_method("qp", depths), init_scale=sigma)
    return state.state_array(equations)


def _qp_trajectories(depths, initial, S, times, rtol=1e-9, atol=1e-11):
    """q/p ``K`` of every network (batch) on ``times``; shape (T, batch, M, modes)."""

    compiled = compile_rhs(reduced_equations(depths, "qp"))
    return integrate(compiled, initial, S, float(times[-1]), t_eval=times, rtol=rtol, atol=atol).K


def predict_network(weights: list[list[np.ndarray]], dataset: Dataset, *, init_scale: float, learning_rate: float, steps: int,
                    gains: bool = True) -> Trajectory:
    """The DMFT conditioned on one network's own ``|a|^2``, ``|b|^2`` and initial ``K``.

    At depth 2 this is the exact per-network limit (the depth-2 mapping); deeper, the
    initial ``K`` enters as a constant cross covariance of the last site's sources and,
    with ``gains``, each hidden matrix's gain on the network's own initial fields replaces
    ``sigma^2`` in the sources: approximations, measured in ``docs/dmft.md``.

    Parameters
    ----------
    weights : list of list of ndarray
        The network's initial weights ``weights[a][d]`` (layout of
        :func:`pathdyn.validation.network.initialize_weights`); the depths come from them.
    dataset : Dataset
        Its training data (its modes ``U``, ``S``, ``V``).
    init_scale : float
        ``sigma`` of the initialisation.
    learning_rate : float
        ``eta``; the DMFT is solved in discrete time at it.
    steps : int
        Number of gradient steps.
    gains : bool
        Use the hidden matrices' gains on the network's own fields (default True).

    Returns
    -------
    Trajectory
        As :func:`pathdyn.numerics.dmft.solve_dmft`: ``K`` of shape (steps + 1, M, modes).

    Raises
    ------
    ConfigError, IntegrationError
        As :func:`pathdyn.numerics.dmft.solve_dmft`.
    """
    U, S, Vt = dataset.modes()
    depths = tuple(len(layers) for layers in weights)
    overlaps = network_overlaps(weights, U, Vt.T, gains=gains)
    return solve_dmft(depths, S, learning_rate=learning_rate, steps=steps, init_scale=init_scale, initial_overlaps=overlaps)


def single_network_study(depths: Architecture | Sequence[int], width: int, seeds: Sequence[int], *, init_scale: float = 0.5, learning_rate: float = 0.04,
                         steps: int = 200, dataset: Dataset | None = None) -> dict:
    """How well the DMFT, conditioned on each network (:func:`predict_network`), predicts single networks.

    For every seed a network is trained; the winner of each mode is the pathway with the
    larger ``|K|`` at the end. Compared: the ensemble DMFT and the conditioned DMFT (median
    over networks of ``max |K - K_theory| / S_1``), and how often the conditioned DMFT and the
    race oracle (q/p race from the growth-matched mapping, ``t = infinity``, as ``pathdyn
    concentration`` uses it) name the winner.

    Parameters
    ----------
    depths : Architecture or sequence of int
        Exactly two pathways.
    width : int
        Hidden width ``N`` of every network.
    seeds : sequence of int
        One network per seed (Gaussian initialisation).
    init_scale : float
        ``sigma`` of the initialisation.
    learning_rate : float
        ``eta``.
    steps : int
        Number of gradient steps (the networks and both DMFTs).
    dataset : Dataset, optional
        Default :func:`pathdyn.validation.sweep.cases.default_dataset`.

    Returns
    -------
    dict
        ``ensemble_error``, ``conditioned_error``, ``dmft_winner_rate``, ``race_winner_rate``,
        ``modes`` (counted), ``unfinished`` (modes whose sum over pathways is still more
        than 5% from ``S`` at the end).

    Raises
    ------
    ConfigError
        If ``depths`` does not have two pathways.
    ArchitectureError
        If ``depths`` is not a valid architecture.
    """

    dataset = default_dataset() if dataset is None else dataset
    depths = Architecture.coerce(depths).depths
    if len(depths) != 2:
        raise ConfigError(f"depths: the winner study needs two pathways, got {list(depths)}")
    U, S, Vt = dataset.modes()
    ensemble = solve_dmft(depths, S, learning_rate=learning_rate, steps=steps, init_scale=init_scale).K
    ensemble_errors, conditioned_errors, dmft_hits, race_hits, unfinished = [], [], 0, 0, 0
    for seed in seeds:
        weights = initialize_weights(depths, dataset.n_in, dataset.n_out, width, init="gaussian", init_scale=init_scale, seed=seed)
        K = simulate_gd(depths, dataset, width, weights=weights, learning_rate=learning_rate, steps=steps).K
        conditioned = predict_network(weights, dataset, init_scale=init_scale, learning_rate=learning_rate, steps=steps).K
        ensemble_errors.append(np.abs(K - ensemble).max() / S[0])
        conditioned_errors.append(np.abs(K - conditioned).max() / S[0])
        state = map_initial_state(weights, U, Vt.T, theory="qp")
        q0, p0 = state.qp_arrays()
        try:
            race = race_final_strengths(depths, q0, p0, S)
        except ConfigError:
            race = np.full_like(K[-1], np.nan)
        winner = np.argmax(np.abs(K[-1]), axis=0)
        dmft_hits += int(np.sum(np.argmax(np.abs(conditioned[-1]), axis=0) == winner))
        race_hits += int(np.sum(np.argmax(np.abs(race), axis=0) == winner))
        unfinished += int(np.sum(np.abs(K[-1].sum(axis=0) - S) > 0.05 * S))
    modes = len(ensemble_errors) * S.size
    return {
        "ensemble_error": float(np.median(ensemble_errors)),
        "conditioned_error": float(np.median(conditioned_errors)),
        "dmft_winner_rate": dmft_hits / modes,
        "race_winner_rate": race_hits / modes,
        "modes": modes,
        "unfinished": unfinished,
    }
