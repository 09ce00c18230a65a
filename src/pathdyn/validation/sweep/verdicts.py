"""The verdict rules of width sweeps: when an error falls with width, and what a floor means.

A convergence or limit verdict needs at least :data:`MIN_WIDTHS` distinct widths and
:data:`MIN_SEEDS` seeds, otherwise it is "inconclusive" and says what to add. A "limit of
the model" claim needs, in the numbers of :func:`limit_evidence` (stored in the report):
the median error at the largest width at least :data:`LIMIT_FLOOR_RATIO` times the
``O(eta)`` floor, and a slope over the larger widths whose confidence interval excludes the
finite-width decrease ``N^{-1/2}`` (lower bound above :data:`FINITE_WIDTH_SLOPE`).
:func:`sweep_verdict` applies the rules; :func:`target_check` and :func:`slope_parts` word the
targets and the slope (the DMFT's sweep uses them too).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Sequence
import numpy as np
from numpy.typing import ArrayLike

from pathdyn.io.jsonio import finite_or_none
from pathdyn.theory.graph import GraphArchitecture
from pathdyn.validation.sweep.statistics import fit_slope

__all__ = ["AT_FLOOR_RATIO", "FINITE_WIDTH_SLOPE", "LIMIT_FLOOR_RATIO", "MIN_SEEDS", "MIN_WIDTHS", "ROUNDING_ULPS",
           "graph_stability_note", "limit_evidence", "richardson_floor", "slope_parts", "stability_limit", "stability_note", "tail_slope",
           "sweep_verdict", "target_check"]

#: A convergence or limit verdict needs at least this many distinct widths ...
MIN_WIDTHS = 3


#: ... and this many seeds per width; with fewer the verdict is "inconclusive".
MIN_SEEDS = 2


#: At most this many times the O(eta) floor, the error "is at the floor".
AT_FLOOR_RATIO = 2.0


#: A "limit of the model" claim needs the error at least this many times the O(eta) floor ...
LIMIT_FLOOR_RATIO = 5.0


#: ... and the larger widths' slope interval entirely above this (the N^{-1/2} decrease of
#: finite-width fluctuations is excluded).
FINITE_WIDTH_SLOPE = -0.5


#: A difference between the runs at eta and eta/2 below this many float64 ulps of K is rounding,
#: not an O(eta) floor: the floor is then not measurable (the data's scale, e.g. data scaled
#: by 1e-60, leaves nothing to measure) and no verdict leans on it.
ROUNDING_ULPS = 64


def richardson_floor(full_K: Any, half_K: Any, scale: float) -> float | None:
    """The ``O(eta)`` floor ``2 max |K(eta) - K(eta/2)| / scale``; None when it cannot be measured.

    Parameters
    ----------
    full_K, half_K : array_like
        ``K`` of the same network trained at ``eta`` and at ``eta / 2``, on the same times.
    scale : float
        What errors are relative to (``max S / lambda``, or ``S_1``).

    Returns
    -------
    float or None
        The floor; None when the shapes differ, when ``scale`` is not a positive finite
        number, or when the difference is within :data:`ROUNDING_ULPS` float64 ulps of
        ``max |K|`` (then the runs agree to rounding and their difference measures nothing).

    Notes
    -----
    Richardson: gradient descent at step ``eta`` follows the flow with an ``O(eta)`` error
    ``c eta``, so ``K(eta) - K(eta/2) = c eta / 2`` and the floor at ``eta`` is twice that.
    A floor of exactly 0 (an underflow) used to give "infinitely many times the floor".
    """
    full_K, half_K = np.asarray(full_K, dtype=float), np.asarray(half_K, dtype=float)
    if full_K.shape != half_K.shape or not (np.isfinite(scale) and scale > 0):
        return None
    difference = float(np.max(np.abs(full_K - half_K))) if full_K.size else 0.0
    resolution = ROUNDING_ULPS * np.finfo(float).eps * float(np.max(np.abs(full_K), initial=0.0))
    if not np.isfinite(difference) or difference <= resolution:
        return None
    floor = 2.0 * difference / float(scale)
    return floor if np.isfinite(floor) and floor > 0 else None


def stability_limit(depths: Sequence[int], singular_values: Any, input_variances: Any = None) -> float:
    """The largest stable learning rate of gradient descent at the solution, ``2 / sharpness`` (an estimate).

    Parameters
    ----------
    depths : sequence of int
        Depth of each pathway.
    singular_values : array_like
        ``S_alpha`` of the modes.
    input_variances : array_like, optional
        ``lambda_alpha`` (default 1, whitened inputs).

    Returns
    -------
    float
        ``2 / max_alpha lambda_alpha (n_1 + max_{a: D_a >= 2} D_a k_alpha^(2 - 2/D_a))`` with
        ``k_alpha = S_alpha / lambda_alpha``; ``inf`` without modes.

    Notes
    -----
    One mode of a pathway of depth ``D`` with balanced layers ``w`` (``w^D = K``) has the
    loss ``lambda (K - k)^2 / 2``; its Hessian at the solution ``K = k`` is ``lambda g g^T``
    with ``g_i = prod_{j != i} w_j``, so the sharpness is ``lambda D k^(2 - 2/D)``. With
    several pathways ``|g|^2`` adds over them; for depths >= 2 it is convex in how ``k``
    is split, so its largest value puts the whole mode on one pathway, and every depth-1
    pathway adds ``lambda`` whatever it carries (``n_1`` of them). Gradient descent is
    unstable at the solution beyond ``eta = 2 / sharpness``.
    """
    S = np.atleast_1d(np.asarray(singular_values, dtype=float))
    lam = np.ones_like(S) if input_variances is None else np.atleast_1d(np.asarray(input_variances, dtype=float))
    if S.size == 0:
        return float("inf")
    k = S / lam
    shallow = sum(1 for d in depths if d == 1)
    deep = [int(d) for d in depths if d >= 2]
    deepest = np.max([d * k ** (2.0 - 2.0 / d) for d in deep], axis=0) if deep else np.zeros_like(k)
    per_mode = lam * (shallow + deepest)
    sharpness = float(np.max(per_mode))
    return 2.0 / sharpness if sharpness > 0 else float("inf")


def stability_note(learning_rate: float, depths: Sequence[int], singular_values: Any, input_variances: Any = None) -> str | None:
    """A verdict's note when ``learning_rate`` is above :func:`stability_limit`; None below it.

    Parameters
    ----------
    learning_rate : float
        ``eta`` of the networks.
    depths, singular_values, input_variances
        As :func:`stability_limit`.

    Returns
    -------
    str or None
    """
    limit = stability_limit(depths, singular_values, input_variances)
    if not learning_rate > limit:
        return None
    return (f"note: the learning rate {learning_rate:g} is above about {limit:.3g}, the stability limit of gradient "
            "descent at the solution (2 / sharpness, balanced layers): the networks may oscillate or diverge and "
            f"t = eta * step no longer follows the flow; use a learning rate below {limit:.3g}")


def graph_stability_note(learning_rate: float, graph: GraphArchitecture, singular_values: Any,
                         input_variances: Any = None) -> str | None:
    """:func:`stability_note` for a graph: its paths taken as pathways of their depths.

    Parameters
    ----------
    learning_rate : float
        ``eta`` of the networks.
    graph : GraphArchitecture
    singular_values, input_variances
        As :func:`stability_limit`.

    Returns
    -------
    str or None

    Notes
    -----
    At a solution where one path of depth ``D`` carries a mode with balanced edges and every
    other edge is zero, the Hessian along that path is a pathway's, ``lambda D k^(2 - 2/D)``;
    an edge between two nodes of the path adds to it. The limit of :func:`stability_limit`
    over the path depths (:attr:`GraphArchitecture.distinct_path_lengths`) is therefore never below that solution's true limit: a learning rate
    above it is unstable there, and no note is given where it is not.
    """
    return stability_note(learning_rate, graph.distinct_path_lengths, singular_values, input_variances)


def larger_half(widths: Sequence[int], errors: Any) -> tuple:
    """The larger half of the widths (at least two) and their errors.

    Parameters
    ----------
    widths : sequence of int
    errors : array_like, shape (widths, seeds)

    Returns
    -------
    (tuple of int, ndarray)
    """
    half = max(2, (len(widths) + 1) // 2)
    return tuple(widths[-half:]), np.asarray(errors)[-half:]


def tail_slope(widths: Sequence[int], errors: Any) -> float:
    """The slope of ``log error`` against ``log width`` over the larger half of the widths.

    Parameters
    ----------
    widths : sequence of int
    errors : array_like, shape (widths, seeds)

    Returns
    -------
    float
        NaN with fewer than two widths.
    """
    if len(widths) < 2:
        return float("nan")
    return fit_slope(*larger_half(widths, errors))[0]


def limit_evidence(widths: Sequence[int], errors: Any, lr_floor: float | None, confidence: float = 0.95) -> dict:
    """The numbers a convergence or limit verdict rests on (stored in the report's ``"evidence"``).

    Parameters
    ----------
    widths : sequence of int
    errors : array_like, shape (widths, seeds)
    lr_floor : float or None
        The measured ``O(eta)`` floor.
    confidence : float
        Level of the tail slope's interval.

    Returns
    -------
    dict
        ``num_widths``, ``num_seeds``, ``error_at_largest_width`` (median over seeds),
        ``lr_floor``, ``floor_ratio`` (their ratio), ``tail_widths`` (the larger half of
        the widths), ``tail_slope`` and ``tail_slope_ci`` (fitted on them),
        ``enough_data`` (at least :data:`MIN_WIDTHS` widths and :data:`MIN_SEEDS` seeds),
        ``well_above_floor`` (``floor_ratio >= LIMIT_FLOOR_RATIO``), ``no_decrease``
        (the tail interval's lower bound above :data:`FINITE_WIDTH_SLOPE`) and
        ``requirements`` (the thresholds).
    """
    errors = np.asarray(errors, dtype=float)
    median = np.median(errors, axis=1)
    num_widths, num_seeds = len(set(widths)), errors.shape[1]
    tail_widths, tail_errors = larger_half(widths, errors)
    tail_slope, tail_ci = float("nan"), (float("nan"), float("nan"))
    if len(widths) >= 2:
        tail_slope, tail_ci, _ = fit_slope(tail_widths, tail_errors, confidence)
    ratio = None
    if lr_floor is not None and np.isfinite(lr_floor) and lr_floor > 0:  # a zero floor was not measured
        ratio = float(median[-1] / lr_floor)
        ratio = ratio if np.isfinite(ratio) else None
    return {
        "num_widths": num_widths,
        "num_seeds": num_seeds,
        "enough_data": bool(num_widths >= MIN_WIDTHS and num_seeds >= MIN_SEEDS),
        "error_at_largest_width": float(median[-1]),
        "lr_floor": finite_or_none(lr_floor),
        "floor_ratio": finite_or_none(ratio),
        "well_above_floor": bool(ratio is not None and ratio >= LIMIT_FLOOR_RATIO),
        "tail_widths": [int(w) for w in tail_widths],
        "tail_slope": finite_or_none(tail_slope),
        "tail_slope_ci": [finite_or_none(tail_ci[0]), finite_or_none(tail_ci[1])],
        "no_decrease": bool(np.isfinite(tail_ci[0]) and tail_ci[0] > FINITE_WIDTH_SLOPE),
        "requirements": {
            "min_widths": MIN_WIDTHS, "min_seeds": MIN_SEEDS, "floor_ratio_at_least": LIMIT_FLOOR_RATIO,
            "tail_slope_ci_low_above": FINITE_WIDTH_SLOPE, "at_floor_ratio_at_most": AT_FLOOR_RATIO,
        },
    }


def _inconclusive(evidence: dict) -> str:
    missing = []
    if evidence["num_widths"] < MIN_WIDTHS:
        missing.append(f"{MIN_WIDTHS - evidence['num_widths']} more width(s)")
    if evidence["num_seeds"] < MIN_SEEDS:
        missing.append(f"{MIN_SEEDS - evidence['num_seeds']} more seed(s)")
    return (
        f"inconclusive: {evidence['num_widths']} width(s) and {evidence['num_seeds']} seed(s), but a convergence or "
        f"limit verdict needs at least {MIN_WIDTHS} widths and {MIN_SEEDS} seeds; add {' and '.join(missing)}"
    )


def _floor_part(evidence: dict, expected_exact: bool, naive: bool) -> str:
    """What the error at the largest width says against the O(eta) floor, with the numbers."""
    lr_floor, ratio = evidence["lr_floor"], evidence["floor_ratio"]
    if lr_floor is None or ratio is None:
        return "O(eta) floor not measured (or not measurable: the runs at eta and eta/2 agree to rounding): no claim about a limit"
    shown_ratio = f"{ratio:.1f}x"
    if ratio is not None and ratio <= AT_FLOOR_RATIO:
        return f"at the O(eta) floor {lr_floor:.4f}"
    if expected_exact and not naive:
        return f"{shown_ratio} the O(eta) floor {lr_floor:.4f}: above the discretisation floor"
    low, high = evidence["tail_slope_ci"]
    tail = (f"slope over widths {evidence['tail_widths'][0]}-{evidence['tail_widths'][-1]} "
            f"{evidence['tail_slope']:.2f} (CI {low:.2f} to {high:.2f})" if low is not None else
            "no slope interval over the larger widths")
    if evidence["well_above_floor"] and evidence["no_decrease"]:
        kind = "the naive initial state is wrong, not the discretisation" if naive else \
            "a limit of the reduced model, not of the discretisation"
        return (f"{shown_ratio} the O(eta) floor {lr_floor:.4f} (>= {LIMIT_FLOOR_RATIO:g}x) and no N^-1/2 decrease "
                f"over the larger widths: {tail}, an interval above {FINITE_WIDTH_SLOPE:g}: {kind}")
    reasons = []
    if not evidence["well_above_floor"]:
        reasons.append(f"the error is less than {LIMIT_FLOOR_RATIO:g}x the floor")
    if not evidence["no_decrease"]:
        reasons.append(f"it may still fall over the larger widths ({tail}, an interval reaching {FINITE_WIDTH_SLOPE:g}); "
                       "add larger widths or seeds")
    return f"{shown_ratio} the O(eta) floor {lr_floor:.4f}; no limit claim: " + " and ".join(reasons)


def sweep_verdict(slope: float, ci: tuple[float, float], tail: float, errors: ArrayLike, widths: Sequence[int], lr_floor: float | None,
                  targets: dict[str, Any], expected_exact: bool, naive: bool = False,
                  confidence: float = 0.95) -> tuple[str, bool | None]:
    """The verdict line and whether the targets were met (None without targets or enough data).

    See the module docstring for the rules; the numbers come from :func:`limit_evidence`.

    Parameters
    ----------
    slope : float
        Slope of ``log error`` against ``log width`` over all widths.
    ci : (float, float)
        Its confidence interval.
    tail : float
        The slope over the larger half of the widths.
    errors : array_like, shape (widths, seeds)
    widths : sequence of int
    lr_floor : float or None
        The measured ``O(eta)`` floor.
    targets : dict
        As :func:`target_check`.
    expected_exact : bool
        Whether theory says the compared model is the infinite-width limit.
    naive : bool
        The naive-mapping counter-example.
    confidence : float

    Returns
    -------
    (str, bool or None)
    """
    evidence = limit_evidence(widths, errors, lr_floor, confidence)
    median = np.median(np.asarray(errors, dtype=float), axis=1)
    measured = f"median error {median[-1]:.4f} at width {widths[-1]}"
    if not evidence["enough_data"]:
        parts = [_inconclusive(evidence), measured]
        if np.isfinite(slope):
            parts.append(f"slope {slope:.2f} (indicative only)")
        return "; ".join(parts), None
    parts = slope_parts(slope, ci, tail) + [measured, _floor_part(evidence, expected_exact, naive)]
    head, passed = target_check(slope, ci, median[-1], targets)
    return "; ".join(([head] if head else []) + parts), passed


def slope_parts(slope: float, ci: tuple[float, float], tail: float) -> list[str]:
    """The verdict's words on the slope: whether the error falls, and the slope over the larger widths.

    Parameters
    ----------
    slope : float
        Slope of ``log error`` against ``log width`` (NaN if not fitted).
    ci : (float, float)
        Its confidence interval.
    tail : float
        The slope over the larger half of the widths (NaN if not fitted).

    Returns
    -------
    list of str
        "error falls with width" when the interval lies below zero, "no significant
        decrease" when it is finite but reaches zero (nothing when it is not finite), then
        the tail slope when finite; each with its numbers.
    """
    parts = []
    if np.isfinite(ci[1]) and ci[1] < 0:
        parts.append(f"error falls with width: slope {slope:.2f} (CI {ci[0]:.2f} to {ci[1]:.2f})")
    elif np.isfinite(slope) and np.isfinite(ci[1]):
        parts.append(f"no significant decrease with width: slope {slope:.2f} (CI {ci[0]:.2f} to {ci[1]:.2f})")
    if np.isfinite(tail):
        parts.append(f"slope over the larger half of the widths {tail:.2f}")
    return parts


def target_check(slope: float, ci: tuple[float, float], error: float, targets: dict[str, Any], noise: float | None = None) -> tuple[str | None, bool | None]:
    """``(head, passed)``: the verdict's first words against ``targets``; ``(None, None)`` without them.

    Parameters
    ----------
    slope : float
        The fitted slope of ``log error`` against ``log width``.
    ci : (float, float)
        Its confidence interval.
    error : float
        The error compared at the largest width.
    targets : dict
        ``{"max_slope": s, "max_error": e}`` (either may be absent or ``None``); empty:
        no targets.
    noise : float, optional
        The sampling noise of ``error`` (a seed mean's standard error); None: not measured.

    Returns
    -------
    head : str or None
        ``"TARGET NOT MET (...)"`` naming each failed target, ``"TARGET MET"``, or, when a
        slope target is met only by the point estimate (its interval reaching zero), a
        ``"TARGET MET by the point estimates, ..."`` that says so; ``None`` without targets.
        When ``noise`` is above the error target: ``"indicative: noise X above target Y;
        more seeds decide"``.
    passed : bool or None
        Whether every target was met (a NaN slope or error fails); ``None`` without targets
        or with ``noise`` above the error target.

    Notes
    -----
    The error compared is ``max |<K>_seeds - K_theory| / S_1``; with seed noise ``sigma``
    above the target ``e`` even an exact theory gives an error about ``sigma > e``, so the
    target can neither be met nor be shown missed: the verdict is indicative, not a failure.
    """
    if not targets:
        return None, None
    max_error = targets.get("max_error")
    if noise is not None and max_error is not None and noise > max_error:
        return f"indicative: noise {noise:.4f} above target {max_error:g}; more seeds decide", None
    failures = []
    if targets.get("max_slope") is not None and not (slope <= targets["max_slope"]):
        failures.append(f"slope {slope:.2f} > {targets['max_slope']}")
    if targets.get("max_error") is not None and not (error <= targets["max_error"]):
        failures.append(f"error {error:.4f} > {targets['max_error']}")
    if failures:
        return "TARGET NOT MET (" + "; ".join(failures) + ")", False
    if targets.get("max_slope") is not None and not (np.isfinite(ci[1]) and ci[1] < 0):
        return "TARGET MET by the point estimates, but the slope's interval includes no decrease (add widths or seeds)", True
    return "TARGET MET", True
