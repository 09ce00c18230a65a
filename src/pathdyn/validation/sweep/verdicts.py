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

from pathdyn.io.jsonio import finite_or_none
from pathdyn.validation.sweep.statistics import fit_slope

__all__ = ["AT_FLOOR_RATIO", "FINITE_WIDTH_SLOPE", "LIMIT_FLOOR_RATIO", "MIN_SEEDS", "MIN_WIDTHS", "limit_evidence",
           "slope_parts", "tail_slope", "sweep_verdict", "target_check"]

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
    if lr_floor is not None and np.isfinite(lr_floor):
        ratio = float(median[-1] / lr_floor) if lr_floor > 0 else float("inf")
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
    if lr_floor is None:
        return "O(eta) floor not measured: no claim about a limit"
    shown_ratio = f"{ratio:.1f}x" if ratio is not None else "infinitely many times"
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


def sweep_verdict(slope, ci, tail, errors, widths, lr_floor, targets, expected_exact: bool, naive: bool = False,
             confidence: float = 0.95) -> tuple:
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


def slope_parts(slope, ci, tail) -> list:
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


def target_check(slope, ci, error, targets, noise: float | None = None) -> tuple:
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
