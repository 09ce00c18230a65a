"""Width sweeps: how fast finite networks approach the reduced theory as width grows.

:func:`validate_width` runs one :class:`~pathdyn.validation.sweep.cases.ValidationCase` (or
one built from keyword arguments). It trains one network per (width, seed) by gradient descent, maps
*that network's own* initial weights to the reduced model's initial state
(:mod:`pathdyn.validation.mapping`), integrates the reduced model from it on the
network's time grid, and records the error of :func:`pathdyn.validation.compare.compare`.
The slope of log error against log width is fitted on all (width, seed) points with a
t-distribution confidence interval. The ``O(eta)`` error of gradient descent against
the flow (the learning-rate floor) is measured at the largest width by halving the
learning rate. The report says which limit is compared, the time mapping, and gives a
verdict (against targets, when given).

Verdict rules (:func:`_verdict`): a convergence or limit verdict needs at least
:data:`MIN_WIDTHS` distinct widths and :data:`MIN_SEEDS` seeds, otherwise it is
"inconclusive" and says what to add. A "limit of the model" claim needs, in the numbers of
:func:`limit_evidence` (stored in the report): the median error at the largest width at
least :data:`LIMIT_FLOOR_RATIO` times the ``O(eta)`` floor, and a slope over the larger
widths whose confidence interval excludes the finite-width decrease ``N^{-1/2}`` (lower
bound above :data:`FINITE_WIDTH_SLOPE`).

Data whose inputs are not whitened is compared with the reduced model of its own input
variances (docs/non-whitened.md); data whose inputs are misaligned with its modes is
refused unless ``allow_misaligned``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from pathdyn.errors import ConfigError
from pathdyn.numerics.alignment import check_alignment
from pathdyn.io.jsonio import save_json
from pathdyn.theory.architecture import Architecture
from pathdyn.theory.models import MODELS, models_with_mappings
from pathdyn.validation.sweep.cases import (
    DEFAULT_SINGULAR_VALUES,
    DEFAULT_SUITE,
    QUICK_SUITE,
    ValidationCase,
    default_dataset,
)
from pathdyn.validation.compare import compare
from pathdyn.validation.mapping import map_initial_state
from pathdyn.validation.sweep.statistics import fit_slope

__all__ = [
    "DEFAULT_SINGULAR_VALUES",
    "DEFAULT_SUITE",
    "QUICK_SUITE",
    "WidthScalingReport",
    "default_dataset",
    "fit_slope",
    "limit_compared",
    "limit_evidence",
    "network_tasks",
    "reduced_equations",
    "slope_parts",
    "target_check",
    "train_networks",
    "validate_width",
]

TIME_MAPPING = "t = eta * step (loss 1/(2P) sum_i ||y_i - f(x_i)||^2, tau = 1; no fitted factor)"
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


def reduced_equations(depths, theory: str, whitened: bool = True):
    """The reduced :class:`ModeEquations` of a named model (``qp`` or ``two-channel``).

    Parameters
    ----------
    depths : sequence of int
        ``D_a >= 1`` per pathway.
    theory : {"qp", "two-channel"}
        The reduced model (a name of :data:`pathdyn.theory.models.MODELS` that has
        initial-state mappings).
    whitened : bool
        ``True`` (default): equations for whitened inputs; ``False``: each mode's input
        variance ``lambda`` is an extra parameter after ``S``.

    Returns
    -------
    ModeEquations
        The model's per-mode equations for this architecture (derived by sympy).

    Raises
    ------
    ConfigError
        If ``theory`` is not a registered model with initial-state mappings (``"dmft"``
        has none: it is compared with the seed mean by :mod:`pathdyn.validation.sweep.dmft`).
    ArchitectureError
        If ``depths`` is not a valid architecture.
    """
    mapped = models_with_mappings()
    if theory not in mapped:
        raise ConfigError(f"theory: {theory!r} has no per-mode equations started from each network; "
                          f"choose {' or '.join(mapped)}")
    return MODELS[theory].derive(Architecture(depths=tuple(depths), whitened=whitened))


def limit_compared(theory: str, method: str, init: str, depths) -> str:
    """A sentence naming the limit a sweep compares against, and whether theory says it is exact.

    Parameters
    ----------
    theory : str
        The reduced model, ``"qp"`` or ``"two-channel"``.
    method : str
        The initial-state mapping (:mod:`pathdyn.validation.mapping`); ``"naive"`` marks the
        counter-example that is not expected to converge.
    init : str
        The hidden layers' initialisation (``"gaussian"``, ``"orthogonal"``, ...).
    depths : sequence of int
        The pathways' depths; any depth >= 3 makes the comparison "deep".

    Returns
    -------
    str
        One sentence for the report's ``limit``: the infinite-width limit (depth-2
        pathways, or the two-channel model with orthogonal hidden layers), or a reduction
        with an expected error floor, or the naive counter-example.
    """
    deep = max(depths) >= 3
    if method == "naive":
        return (
            "counter-example: q/p from the naive initial state q0 = sigma, p0 = K0 / sigma^(D-1); "
            "not expected to converge (the initial condition is part of the theory)"
        )
    if theory == "qp" and not deep:
        return (
            "infinite-width limit of depth-2 pathways: the q/p flow is exact there from the exact "
            "initial mapping q0^2 + p0^2 = |a|^2 + |b|^2, q0 p0 = a.b; the error should fall with width down to the O(eta) floor"
        )
    if theory == "qp":
        return (
            f"q/p with growth-matched q0 at depth {max(depths)} ({init} init): a two-number summary of a "
            "higher-dimensional state, NOT the infinite-width limit for depth >= 3; an error floor is expected"
        )
    if not deep:
        return (
            "infinite-width limit of depth-2 pathways: the width-2 chain spans span(a, b) exactly and closes "
            "on (K, |a|^2 + |b|^2) like q/p"
        )
    if init == "orthogonal":
        return (
            "infinite-width limit with orthogonal hidden layers: each mode is exactly a width-2 chain "
            "(two-channel model) started from the network's projected state"
        )
    return (
        f"two-channel model with {init} hidden layers: not exact at infinite width (W W^T b is not parallel "
        "to b; a Krylov hierarchy opens), an error floor is expected"
    )


@dataclass(frozen=True)
class WidthScalingReport:
    """Result of :func:`validate_width`.

    Attributes
    ----------
    depths : tuple of int
    widths : tuple of int
    seeds : tuple of int
    init : str
    init_scale : float
    theory : str
        ``"qp"`` or ``"two-channel"``.
    mapping : str
        The initial-state mapping (:mod:`pathdyn.validation.mapping`).
    dataset : str
    singular_values : tuple of float
    learning_rate : float
    t_max : float
    steps : int
    errors : ndarray, shape (widths, seeds)
        ``max_{t, a, alpha} |K_GD - K_theory| / S_1`` per network.
    slope : float
        Fitted slope of ``log error`` vs ``log width``.
    slope_ci : tuple of float
        Its confidence interval (``confidence`` level, t-distribution).
    tail_slope : float
        The slope fitted on the larger half of the widths only (at least two): near 0
        when the error has reached a floor.
    confidence : float
    lr_floor : float or None
        Estimated ``|K_GD(eta) - K_flow| / S_1`` at the largest width (first seed):
        ``2 max |K(eta) - K(eta/2)| / S_1`` (Richardson, error ``O(eta)``).
    time_mapping : str
    limit : str
        Which limit is compared and whether theory says it is exact.
    compared : str
        The compared quantity (per-mode ``K`` or subspace singular values).
    verdict : str
    passed : bool or None
        Whether the targets were met (None without targets).
    targets : dict
        ``{"max_slope": ..., "max_error": ...}`` as given.
    final_K_gd, final_K_theory : ndarray, shape (widths, seeds, M, modes)
        Final mode strengths per network (how each mode is split between pathways).
    example : dict or None
        ``{"width", "seed", "t", "K_gd", "K_theory"}`` of the largest width's first
        network (for overlay plots).
    wall_time_s : float
    mapping_notes : tuple of str
        ``"width W, seed S: ..."`` for every network whose initial-state mapping had to
        approximate (e.g. growth-matched modes clipped to the q/p minimum).
    evidence : dict
        The numbers behind the verdict (:func:`limit_evidence`).
    input_variances : tuple of float
        ``lambda_alpha`` of the data (all 1 for whitened inputs); the theory used them.
    misalignment : float
        Of the data (:func:`pathdyn.numerics.alignment.input_alignment`).
    warnings : tuple of str
        E.g. misaligned inputs compared anyway (``allow_misaligned``).
    """

    depths: tuple
    widths: tuple
    seeds: tuple
    init: str
    init_scale: float
    theory: str
    mapping: str
    dataset: str
    singular_values: tuple
    learning_rate: float
    t_max: float
    steps: int
    errors: np.ndarray = field(repr=False)
    slope: float
    slope_ci: tuple
    tail_slope: float
    confidence: float
    lr_floor: float | None
    time_mapping: str
    limit: str
    compared: str
    verdict: str
    passed: bool | None = None
    targets: dict = field(default_factory=dict)
    final_K_gd: np.ndarray | None = field(default=None, repr=False)
    final_K_theory: np.ndarray | None = field(default=None, repr=False)
    example: dict | None = field(default=None, repr=False)
    wall_time_s: float = 0.0
    mapping_notes: tuple = ()
    evidence: dict = field(default_factory=dict)
    input_variances: tuple = ()
    misalignment: float = 0.0
    warnings: tuple = ()

    def __post_init__(self) -> None:
        errors = np.asarray(self.errors, dtype=float)
        if errors.shape != (len(self.widths), len(self.seeds)):
            raise ConfigError(
                f"errors: expected shape (widths, seeds) = ({len(self.widths)}, {len(self.seeds)}), got {errors.shape}"
            )
        object.__setattr__(self, "errors", errors)
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "slope_ci", tuple(float(v) for v in self.slope_ci))

    def __repr__(self) -> str:
        from pathdyn.numerics.display import text_summary
        from pathdyn.validation.reports.labelled import width_report_rows

        return text_summary("WidthScalingReport", width_report_rows(self))

    def _repr_html_(self) -> str:
        from pathdyn.numerics.display import html_summary
        from pathdyn.validation.reports.labelled import width_report_rows

        return html_summary("WidthScalingReport", width_report_rows(self))

    def to_xarray(self):
        """This sweep as an ``xarray.Dataset`` (width, seed, time, pathway, mode; needs the ``xarray`` extra).

        Returns
        -------
        xarray.Dataset
            Variables ``error (width, seed)``, ``median_error (width)``, ``singular_values
            (mode)`` and, where present, the final and example ``K`` of network and theory;
            the case, slope, interval, floor and verdict are attributes
            (:func:`pathdyn.validation.reports.labelled.width_report_to_xarray`).

        Raises
        ------
        ConfigError
            If ``xarray`` is not installed.
        """
        from pathdyn.validation.reports.labelled import width_report_to_xarray

        return width_report_to_xarray(self)

    def to_dataframe(self, name: str = "case 1"):
        """One pandas row per width: error statistics over seeds and the slope (needs the ``xarray`` extra).

        Parameters
        ----------
        name : str
            The value of the ``case`` column.

        Returns
        -------
        pandas.DataFrame
            Columns ``case, depths, init, init_scale, theory, mapping, learning_rate, width,
            seeds, median_error, min_error, max_error, slope, slope_ci_low, slope_ci_high,
            lr_floor, passed`` (:func:`pathdyn.validation.reports.labelled.width_reports_to_dataframe`).

        Raises
        ------
        ConfigError
            If ``pandas`` is not installed.
        """
        from pathdyn.validation.reports.labelled import width_reports_to_dataframe

        return width_reports_to_dataframe([self], names=[name])

    def save_netcdf(self, path) -> None:
        """Write :meth:`to_xarray` as netCDF3 (scipy backend), atomically.

        Parameters
        ----------
        path : str or Path
            Destination, ending in ``.nc``.

        Raises
        ------
        ConfigError
            If ``path`` does not end in ``.nc`` or ``xarray`` is not installed.
        """
        from pathdyn.io.labelled import save_netcdf

        save_netcdf(self.to_xarray(), path)

    @classmethod
    def from_json_dict(cls, data: dict) -> "WidthScalingReport":
        """Rebuild a report from :meth:`to_json_dict` (e.g. one case of ``pathdyn validate -o``).

        Parameters
        ----------
        data : dict
            What :meth:`to_json_dict` wrote for one case (a ``null`` slope or interval bound becomes NaN).

        Returns
        -------
        WidthScalingReport
            Always the base class, also for data a subclass wrote.

        Raises
        ------
        ConfigError
            If a required entry is missing or malformed.
        """
        from pathdyn.validation.reports.labelled import width_report_from_json_dict

        return width_report_from_json_dict(data)

    @property
    def median_errors(self) -> np.ndarray:
        """Median over seeds of the error at each width."""
        return np.median(self.errors, axis=1)

    def to_json_dict(self) -> dict:
        """``config``, ``widths``, ``errors`` (per width, per-seed list), ``slope``, ``slope_ci``, ``verdict`` and more.

        Returns
        -------
        dict
            ``config`` (the case's settings, seeds and targets), ``widths``, ``errors``
            (widths x seeds), ``median_errors``, ``slope``, ``slope_ci``, ``tail_slope``,
            ``lr_floor``, ``time_mapping``, ``limit``, ``compared``, ``verdict``, ``passed``,
            ``wall_time_s``, ``mapping_notes``, ``evidence`` and ``warnings``; where present
            also ``final_K_gd``, ``final_K_theory`` and ``example`` as nested lists. A
            non-finite slope, interval bound or floor is written as ``None``.
        """

        def number(value):
            return None if value is None or not np.isfinite(value) else float(value)

        out = {
            "config": {
                "depths": list(self.depths),
                "init": self.init,
                "init_scale": self.init_scale,
                "theory": self.theory,
                "mapping": self.mapping,
                "dataset": self.dataset,
                "singular_values": list(self.singular_values),
                "learning_rate": self.learning_rate,
                "t_max": self.t_max,
                "steps": self.steps,
                "seeds": list(self.seeds),
                "confidence": self.confidence,
                "targets": dict(self.targets),
                "input_variances": list(self.input_variances),
                "misalignment": float(self.misalignment),
            },
            "widths": list(self.widths),
            "errors": [[float(e) for e in row] for row in self.errors],
            "median_errors": [float(e) for e in self.median_errors],
            "slope": number(self.slope),
            "slope_ci": [number(v) for v in self.slope_ci],
            "tail_slope": number(self.tail_slope),
            "lr_floor": number(self.lr_floor),
            "time_mapping": self.time_mapping,
            "limit": self.limit,
            "compared": self.compared,
            "verdict": self.verdict,
            "passed": self.passed,
            "wall_time_s": float(self.wall_time_s),
            "mapping_notes": list(self.mapping_notes),
            "evidence": self.evidence,
            "warnings": list(self.warnings),
        }
        if self.final_K_gd is not None:
            out["final_K_gd"] = np.asarray(self.final_K_gd).tolist()
            out["final_K_theory"] = np.asarray(self.final_K_theory).tolist()
        if self.example is not None:
            out["example"] = {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in self.example.items()}
        return out

    def save_json(self, path) -> None:
        """Write :meth:`to_json_dict` atomically (indented by one space).

        Parameters
        ----------
        path : str or Path
        """
        save_json(path, self.to_json_dict(), indent=1)


def _tail(widths, errors) -> tuple:
    """The larger half of the widths (at least two) and their errors."""
    half = max(2, (len(widths) + 1) // 2)
    return tuple(widths[-half:]), np.asarray(errors)[-half:]


def _tail_slope(widths, errors) -> float:
    if len(widths) < 2:
        return float("nan")
    return fit_slope(*_tail(widths, errors))[0]


def _finite(value):
    return None if value is None or not np.isfinite(value) else float(value)


def limit_evidence(widths, errors, lr_floor, confidence: float = 0.95) -> dict:
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
    tail_widths, tail_errors = _tail(widths, errors)
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
        "lr_floor": _finite(lr_floor),
        "floor_ratio": None if ratio is None else (ratio if np.isfinite(ratio) else None),
        "well_above_floor": bool(ratio is not None and ratio >= LIMIT_FLOOR_RATIO),
        "tail_widths": [int(w) for w in tail_widths],
        "tail_slope": _finite(tail_slope),
        "tail_slope_ci": [_finite(tail_ci[0]), _finite(tail_ci[1])],
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


def _verdict(slope, ci, tail, errors, widths, lr_floor, targets, expected_exact: bool, naive: bool = False,
             confidence: float = 0.95) -> tuple:
    """The verdict line and whether the targets were met (None without targets or enough data).

    See the module docstring for the rules; the numbers come from :func:`limit_evidence`.
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


def target_check(slope, ci, error, targets) -> tuple:
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

    Returns
    -------
    head : str or None
        ``"TARGET NOT MET (...)"`` naming each failed target, ``"TARGET MET"``, or, when a
        slope target is met only by the point estimate (its interval reaching zero), a
        ``"TARGET MET by the point estimates, ..."`` that says so; ``None`` without targets.
    passed : bool or None
        Whether every target was met (a NaN slope or error fails); ``None`` without targets.
    """
    if not targets:
        return None, None
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


def validate_width(case, widths=None, seeds=None, *, progress=False, device: str = "numpy", workers: int | None = None,
                   scheduler: str | None = None, runner=None, **options) -> WidthScalingReport:
    """Sweep widths: each network against the reduced model from its own initial state.

    Parameters
    ----------
    case : ValidationCase, Architecture or sequence of int
        The case to run, or the depths of the pathways of a case built from ``widths``,
        ``seeds`` and ``options`` (:meth:`ValidationCase.from_options`).
    widths : sequence of int, optional
        Hidden widths ``N`` (at least two distinct for a slope); only without a case.
    seeds : sequence of int, optional
        Initial-weight seeds (default ``(0, 1, 2)``); each (width, seed) is one network.
    progress : bool or object with ``update(n)``
        Draw a progress bar on standard error (only on a terminal), or advance this one.
    device : str
        Where the networks train: ``"numpy"`` (default) or a PyTorch device (``"cuda"``,
        ``"cpu"``); see :func:`pathdyn.validation.network.simulate_gd`.
    workers : int, optional
        Train the networks on a local Dask cluster of this many processes
        (:mod:`pathdyn.validation.sweep.distributed`; the extra ``distributed``). The report
        is bit-identical to the serial one.
    scheduler : str, optional
        Train them on the existing Dask cluster at this address instead.
    runner : optional
        An open :func:`pathdyn.validation.sweep.distributed.task_runner` (several sweeps on one cluster).
    **options
        Any other field of :class:`ValidationCase` (``init``, ``init_scale``, ``theory``,
        ``mapping``, ``dataset``, ``learning_rate``, ``t_max``, ``record_points``,
        ``measure_lr_floor``, ``targets``, ``confidence``, ``rtol``, ``atol``,
        ``allow_misaligned``); only without a case. ``theory="dmft"`` compares the seed
        mean with the DMFT (:func:`pathdyn.validation.sweep.dmft.validate_dmft_width`).

    Returns
    -------
    WidthScalingReport

    Raises
    ------
    ConfigError
        Bad widths, seeds, theory, mapping or settings, or a case given with options.
    DatasetError
        Inputs misaligned with the modes, without ``allow_misaligned``.
    SimulationError, IntegrationError
        From the simulation or the integration.

    Notes
    -----
    Data with degenerate singular values is compared by subspace-invariant quantities;
    inputs that are not whitened but aligned with the modes are compared with the reduced
    model of their input variances ``lambda`` (docs/non-whitened.md). The ``O(eta)``
    floor is ``2 max |K(eta) - K(eta/2)| / S_1`` at the largest width, first seed.
    """
    case = ValidationCase.from_options(case, widths, seeds, **options)
    if case.theory == "dmft":  # the DMFT predicts the seed mean, not each network: its own sweep
        from pathdyn.validation.sweep.dmft import validate_dmft_width

        return validate_dmft_width(case, progress=progress, device=device, workers=workers, scheduler=scheduler,
                                   runner=runner)
    from pathdyn.validation.sweep.distributed import check_cluster_options
    from pathdyn.validation.network.torch_engine import resolve_device

    started = time.perf_counter()
    device = resolve_device(device)
    check_cluster_options(workers, scheduler)
    data = _sweep_data(case)
    # One task per network (the O(eta) floor's half-step run too), each from its own seed.
    tasks, labels = network_tasks(case, data.dataset, mapped=(case.theory, case.method, data.U, data.V),
                                  half_eta=case.measure_lr_floor, device=device, prefix="validate")
    results = train_networks(tasks, labels, progress=progress, label=f"validate {','.join(map(str, case.depths))}",
                             workers=workers, scheduler=scheduler, runner=runner)
    comparison = _compare_with_theory(case, data, results[: len(case.widths) * len(case.seeds)])
    lr_floor = None
    if case.measure_lr_floor:
        lr_floor = _lr_floor(comparison.largest_network, results[-1][1], data.S / data.alignment.input_variances)
    return _width_report(case, data, comparison, lr_floor, wall_time_s=time.perf_counter() - started)


@dataclass(frozen=True)
class _SweepData:
    """The data of a sweep in mode coordinates, and its alignment with the modes."""

    dataset: object
    alignment: object
    warnings: tuple
    U: np.ndarray
    S: np.ndarray
    V: np.ndarray
    blocks: list

    @property
    def general(self) -> bool:
        """Whether the inputs are not whitened (the theory then takes their variances)."""
        return not self.alignment.unit_variances


def _sweep_data(case: ValidationCase) -> _SweepData:
    """The case's data, checked for alignment (its warnings recorded), in mode coordinates."""
    import warnings

    dataset = case.resolved_dataset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alignment = check_alignment(dataset, case.allow_misaligned)
    rank = alignment.input_variances.size  # the modes with S > 0, as simulate_gd records them
    U, S, Vt = dataset.modes()
    blocks = [block for block in dataset.degenerate_blocks() if block[0] < rank]
    return _SweepData(dataset, alignment, tuple(str(w.message) for w in caught), U[:, :rank], S[:rank], Vt[:rank].T,
                      blocks)


def network_tasks(case: ValidationCase, dataset, *, mapped, half_eta: bool, device: str, prefix: str) -> tuple:
    """The arguments of :func:`_train_network` for every network of a case, and their labels.

    Parameters
    ----------
    case : ValidationCase
    dataset : Dataset
        The case's resolved data.
    mapped : tuple or None
        ``(theory, method, U, V)``: also map each network's initial state; None: do not.
    half_eta : bool
        Add the ``O(eta)`` floor's run: the largest width, first seed, at ``eta / 2`` for
        twice the steps (never mapped).
    device : str
        Where the networks train.
    prefix : str
        First word of every label (the task names on a cluster).

    Returns
    -------
    (tasks, labels) : list of tuple, list of str
        In the order widths x seeds, the half-step run last.
    """
    depths, name = case.depths, "-".join(map(str, case.depths))
    tasks = [(depths, dataset, w, s, case.init, case.sigma, case.learning_rate, case.steps, case.record_every, mapped, device)
             for w in case.widths for s in case.seeds]
    labels = [f"{prefix}-{name}-w{w}-s{s}" for w in case.widths for s in case.seeds]
    if half_eta:
        tasks.append((depths, dataset, case.widths[-1], case.seeds[0], case.init, case.sigma, case.learning_rate / 2,
                      2 * case.steps, 2 * case.record_every, None, device))
        labels.append(f"{prefix}-{name}-w{case.widths[-1]}-s{case.seeds[0]}-half-eta")
    return tasks, labels


def train_networks(tasks, labels, *, progress, label: str, workers=None, scheduler=None, runner=None) -> list:
    """Run :func:`_train_network` on every task, serially or on a Dask cluster, in task order.

    Parameters
    ----------
    tasks, labels : list
        From :func:`network_tasks`.
    progress : bool or object with ``update(n)``
        A progress bar to draw (``True``) or to advance.
    label : str
        The progress bar's label.
    workers, scheduler, runner : optional
        As :func:`pathdyn.validation.sweep.distributed.task_runner`.

    Returns
    -------
    list of (InitialState or None, Trajectory)
        One per task; the same bits whichever path ran them.

    Raises
    ------
    ConfigError
        Bad cluster options.
    SimulationError
        From a network's training.
    """
    from pathdyn.validation.sweep.distributed import progress_for, task_runner

    def cost(task):  # multiply-adds per step (hidden N x N layers, N x n_in and n_out ends) times steps
        depths, dataset, width, steps = task[0], task[1], task[2], task[7]
        return steps * sum((d - 2) * width**2 + width * (dataset.n_in + dataset.n_out) for d in depths)

    with progress_for(progress, len(tasks), label) as bar, task_runner(workers, scheduler, runner) as tasks_on:
        # longest first on a cluster, so that the longest does not start last
        return tasks_on.map(_train_network, tasks, labels, bar, priorities=[cost(task) for task in tasks])


@dataclass(frozen=True)
class _Comparison:
    """Every network of a sweep against the theory integrated from its own initial state."""

    errors: np.ndarray
    compared: str
    final_gd: np.ndarray
    final_theory: np.ndarray
    example: dict
    mapping_notes: tuple
    largest_network: object  # the GD trajectory of the largest width's first seed
    t: np.ndarray


def _mapped_initial_states(case, results, compiled) -> tuple:
    """The reduced initial state of every network, ``(widths, seeds, state, modes)``, and the mapping's notes."""
    initial = None
    notes = []
    for index, (state, _) in enumerate(results):
        i, j = divmod(index, len(case.seeds))
        row = state.state_array(compiled)
        if initial is None:
            initial = np.zeros((len(case.widths), len(case.seeds)) + row.shape)
        initial[i, j] = row
        if state.notes:
            notes.append(f"width {case.widths[i]}, seed {case.seeds[j]}: {state.notes}")
    return initial, tuple(notes)


def _compare_with_theory(case: ValidationCase, data: _SweepData, results) -> _Comparison:
    """Integrate the reduced model from every network's initial state on its time grid, and compare."""
    import warnings

    from pathdyn.numerics.compile import compile_rhs
    from pathdyn.numerics.integrate import integrate

    compiled = compile_rhs(reduced_equations(case.depths, case.theory, whitened=not data.general))
    initial, notes = _mapped_initial_states(case, results, compiled)
    gd_t = results[0][1].t
    theory = integrate(
        compiled, initial, data.S, float(gd_t[-1]), t_eval=gd_t, rtol=case.rtol, atol=case.atol,
        parameters={"lambda": data.alignment.input_variances} if data.general else None,
        provenance={"validate": "width sweep", "mapping": case.method},
    )
    shape = (len(case.widths), len(case.seeds))
    errors = np.zeros(shape)
    final_gd = np.zeros(shape + (len(case.depths), data.S.size))
    final_theory = np.zeros_like(final_gd)
    for index, (_, gd) in enumerate(results):
        i, j = divmod(index, len(case.seeds))
        member = replace(theory, K=theory.K[:, i, j], loss=theory.loss[:, i, j], state=None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the misalignment warning is recorded once, in _sweep_data
            result = compare(gd, member, singular_values=data.S, blocks=data.blocks, allow_misaligned=case.allow_misaligned)
        errors[i, j] = result.error
        final_gd[i, j], final_theory[i, j] = gd.K[-1], member.K[-1]
        if (i, j) == (shape[0] - 1, 0):
            largest, example = gd, {"width": case.widths[i], "seed": case.seeds[j], "t": np.asarray(gd.t),
                                    "K_gd": np.asarray(gd.K), "K_theory": np.asarray(member.K)}
    return _Comparison(errors, result.quantity, final_gd, final_theory, example, notes, largest, gd_t)


def _lr_floor(full, half, scales) -> float | None:
    """``2 max |K(eta) - K(eta/2)| / max(S / lambda)`` (Richardson, error ``O(eta)``); None if the grids differ."""
    if half.K.shape == full.K.shape and np.allclose(half.t, full.t):
        return 2.0 * float(np.max(np.abs(full.K - half.K))) / float(np.max(scales))
    return None


def _width_report(case: ValidationCase, data: _SweepData, comparison: _Comparison, lr_floor, wall_time_s: float):
    """The slope, the verdict and the :class:`WidthScalingReport` of a compared sweep."""
    widths, errors, confidence = case.widths, comparison.errors, case.confidence
    slope, ci, _ = fit_slope(widths, errors, confidence)
    tail = _tail_slope(widths, errors)
    expected_exact = MODELS[case.theory].is_exact(case.depths, case.init, case.method)
    verdict, passed = _verdict(slope, ci, tail, errors, widths, lr_floor, dict(case.targets), expected_exact,
                               naive=case.method == "naive", confidence=confidence)
    return WidthScalingReport(
        depths=case.depths, widths=widths, seeds=case.seeds, init=case.init, init_scale=case.sigma, theory=case.theory,
        mapping=case.method, dataset=data.dataset.name, singular_values=tuple(float(s) for s in data.S),
        learning_rate=float(case.learning_rate), t_max=float(comparison.t[-1]), steps=case.steps, errors=errors,
        slope=slope, slope_ci=ci, tail_slope=tail, confidence=confidence, lr_floor=lr_floor, time_mapping=TIME_MAPPING,
        limit=limit_compared(case.theory, case.method, case.init, case.depths), compared=comparison.compared,
        verdict=verdict, passed=passed, targets=dict(case.targets), final_K_gd=comparison.final_gd,
        final_K_theory=comparison.final_theory, example=comparison.example, wall_time_s=wall_time_s,
        mapping_notes=comparison.mapping_notes, evidence=limit_evidence(widths, errors, lr_floor, confidence),
        input_variances=tuple(float(v) for v in data.alignment.input_variances),
        misalignment=data.alignment.misalignment, warnings=data.warnings,
    )


def _train_network(depths, dataset, width, seed, init, sigma, learning_rate, steps, record_every, mapped, device="numpy"):
    """One task of :func:`validate_width`: train one network; map its initial state when ``mapped`` is given.

    ``mapped = (theory, method, U, V)``. Returns ``(InitialState or None, GD trajectory)``.
    """
    from pathdyn.validation.network import initialize_weights, simulate_gd

    weights = initialize_weights(depths, dataset.n_in, dataset.n_out, width, init=init, init_scale=sigma, seed=seed)
    state = None
    if mapped is not None:
        theory, method, U, V = mapped
        state = map_initial_state(weights, U, V, theory=theory, method=method, init_scale=sigma)
    trajectory = simulate_gd(depths, dataset, width, weights=weights, learning_rate=learning_rate, steps=steps,
                             record_every=record_every, device=device)
    # A sweep keeps every network's trajectory but never its final weights (128 MB each at
    # width 2048, depth 7): drop them here so a many-seed sweep's memory does not grow with them.
    extras = {key: value for key, value in trajectory.extras.items() if key != "final_weights"}
    return state, replace(trajectory, extras=extras)
