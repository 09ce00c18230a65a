"""The reports of width sweeps: :class:`WidthScalingReport` and, for the DMFT, :class:`DMFTWidthReport`.

Both are records of the one result protocol (:class:`pathdyn.io.results.Record`): they
write and read JSON (the document ``pathdyn validate -o`` writes), xarray/netCDF and pandas
tables with every field. Each says which figure it reports (:attr:`WidthScalingReport.ERROR_LABEL`):
the median over seeds of single networks' errors, or, for the DMFT, the error of the seed
mean; the summary lines, the repr and the table name the same figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pathdyn.errors import ConfigError
from pathdyn.io.results import Record, labelled, read_json, record_from_json, records_to_dataframe
from pathdyn.numerics.display import html_summary, number, text_summary

__all__ = ["DMFTWidthReport", "TIME_MAPPING", "WidthScalingReport", "load_width_reports", "width_reports_to_dataframe"]

#: How the networks' steps map to the theory's time.
TIME_MAPPING = "t = eta * step (loss 1/(2P) sum_i ||y_i - f(x_i)||^2, tau = 1; no fitted factor)"
#: The JSON ``config`` group of a width report: the case and its data.
CONFIG_FIELDS = ("depths", "init", "init_scale", "theory", "mapping", "dataset", "singular_values", "learning_rate", "t_max",
                 "steps", "seeds", "confidence", "targets", "input_variances", "misalignment")
#: Entries of ``example`` that are arrays.
EXAMPLE_ARRAYS = ("t", "K_gd", "K_theory")


def _example_to_xarray(example: dict) -> dict:
    """The example network as variables over ``time``, ``pathway`` and ``mode``."""
    where = {"width": int(example["width"]), "seed": int(example["seed"])}
    return {
        "time": (("time",), np.asarray(example["t"], dtype=float), {"units": "t = eta * step"}),
        "example_K_gd": (("time", "pathway", "mode"), np.asarray(example["K_gd"], dtype=float),
                         {"long_name": "K(t) of one network", **where}),
        "example_K_theory": (("time", "pathway", "mode"), np.asarray(example["K_theory"], dtype=float),
                             {"long_name": "K(t) of the reduced model from that network's initial state"}),
    }


def _example_from_xarray(dataset: Any) -> dict | None:
    if "example_K_gd" not in dataset:
        return None
    gd = dataset["example_K_gd"]
    return {"width": int(gd.attrs["width"]), "seed": int(gd.attrs["seed"]), "t": np.asarray(dataset["time"].values, dtype=float),
            "K_gd": np.asarray(gd.values, dtype=float), "K_theory": np.asarray(dataset["example_K_theory"].values, dtype=float)}


def _mode_array(**kwargs: Any) -> Any:
    return field(default=(), metadata=labelled(dims=("mode",), **kwargs))


@dataclass(frozen=True)
class WidthScalingReport(Record):
    """Result of :func:`pathdyn.validation.sweep.width.validate_width`.

    Attributes
    ----------
    depths : tuple of int
    widths : tuple of int
    seeds : tuple of int
    init : str
    init_scale : float
    theory : str
        A model networks are compared with (``"qp"``, ``"two-channel"``).
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
        The numbers behind the verdict (:func:`pathdyn.validation.sweep.verdicts.limit_evidence`).
    input_variances : tuple of float
        ``lambda_alpha`` of the data (all 1 for whitened inputs); the theory used them.
    misalignment : float
        Of the data (:func:`pathdyn.numerics.alignment.input_alignment`).
    warnings : tuple of str
        E.g. misaligned inputs compared anyway (``allow_misaligned``).
    """

    JSON_GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {"config": CONFIG_FIELDS}
    XARRAY_TITLE: ClassVar[str] = "pathdyn width sweep"
    TABLE_DIM: ClassVar[str | None] = "width"
    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("depths", "init", "init_scale", "theory", "mapping", "learning_rate", "slope",
                                               "slope_ci", "lr_floor", "passed")
    #: The figure :attr:`median_errors` holds, as the summary lines and the repr name it.
    ERROR_LABEL: ClassVar[str] = "median error by width"

    depths: tuple
    widths: tuple = field(metadata=labelled(coord="width"))
    seeds: tuple = field(metadata=labelled(coord="seed"))
    init: str
    init_scale: float
    theory: str
    mapping: str
    dataset: str
    singular_values: tuple = field(metadata=labelled(dims=("mode",)))
    learning_rate: float
    t_max: float
    steps: int
    errors: np.ndarray = field(repr=False, metadata=labelled(dims=("width", "seed"), name="error"))
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
    final_K_gd: np.ndarray | None = field(default=None, repr=False,
                                          metadata=labelled(dims=("width", "seed", "pathway", "mode")))
    final_K_theory: np.ndarray | None = field(default=None, repr=False,
                                              metadata=labelled(dims=("width", "seed", "pathway", "mode")))
    example: dict | None = field(default=None, repr=False, metadata=labelled(
        array_keys=EXAMPLE_ARRAYS, to_xarray=_example_to_xarray, from_xarray=_example_from_xarray,
        sample=lambda sizes, rng: {"width": 64, "seed": 0, "t": np.linspace(0.0, 1.0, sizes["time"]),
                                   "K_gd": rng.random((sizes["time"], sizes["pathway"], sizes["mode"])),
                                   "K_theory": rng.random((sizes["time"], sizes["pathway"], sizes["mode"]))}))
    wall_time_s: float = 0.0
    mapping_notes: tuple = ()
    evidence: dict = field(default_factory=dict)
    input_variances: tuple = _mode_array()
    misalignment: float = 0.0
    warnings: tuple = ()

    def __post_init__(self) -> None:
        errors = np.asarray(self.errors, dtype=float)
        if errors.shape != (len(self.widths), len(self.seeds)):
            raise ConfigError(
                f"errors: expected shape (widths, seeds) = ({len(self.widths)}, {len(self.seeds)}), got {errors.shape}"
            )
        object.__setattr__(self, "errors", errors)
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "slope_ci", tuple(float(v) for v in self.slope_ci))

    @property
    def median_errors(self) -> np.ndarray:
        """The figure the verdict is about, per width: here the median over seeds of the error."""
        return np.median(self.errors, axis=1)

    def json_extras(self) -> dict:
        """``median_errors`` (the figure of :attr:`ERROR_LABEL`) for readers of the JSON.

        Returns
        -------
        dict
        """
        return {"median_errors": [float(e) for e in self.median_errors]}

    def xarray_extras(self) -> dict:
        """``median_error (width)``: the figure of :attr:`ERROR_LABEL`.

        Returns
        -------
        dict
        """
        return {"median_error": (("width",), self.median_errors, {"long_name": self.ERROR_LABEL})}

    def summary_rows(self) -> list[tuple[str, str]]:
        """``(name, value)`` rows: the case, the errors by width (named as :attr:`ERROR_LABEL`), the slope, the verdict.

        Returns
        -------
        list of (str, str)
            For :func:`pathdyn.numerics.display.text_summary` and ``html_summary``.
        """
        depths = ", ".join(map(str, self.depths))
        low, high = self.slope_ci
        rows = [
            ("case", f"depths ({depths}), {self.init} init scale {number(self.init_scale)}, {self.theory} theory, "
                     f"{self.mapping} mapping"),
            ("run", f"{len(self.widths)} widths x {len(self.seeds)} seeds, eta {number(self.learning_rate)}, "
                    f"t_max {number(self.t_max)} ({self.steps} steps), data {self.dataset}"),
            (self.ERROR_LABEL, ", ".join(f"{w}: {number(e, 3)}" for w, e in zip(self.widths, self.median_errors))),
            ("slope", f"{number(self.slope, 3)} [{number(low, 3)}, {number(high, 3)}] "
                      f"({self.confidence:.0%} CI), larger half {number(self.tail_slope, 3)}"),
            ("O(eta) floor", number(self.lr_floor, 3)),
            ("verdict", self.verdict),
        ]
        if self.mapping_notes:
            rows.append(("mapping notes", f"{len(self.mapping_notes)} network(s) approximated"))
        if self.input_variances and any(v != 1.0 for v in self.input_variances):
            rows.append(("input variances", "[" + ", ".join(number(v, 3) for v in self.input_variances) + "]"
                         f", misalignment {number(self.misalignment, 3)}"))
        for warning in self.warnings:
            rows.append(("warning", warning))
        if self.wall_time_s:
            rows.append(("wall time", f"{number(self.wall_time_s, 3)} s"))
        return rows

    def __repr__(self) -> str:
        return text_summary(type(self).__name__, self.summary_rows())

    def _repr_html_(self) -> str:
        return html_summary(type(self).__name__, self.summary_rows())


@dataclass(frozen=True, repr=False)
class DMFTWidthReport(WidthScalingReport):
    """A :class:`WidthScalingReport` for the DMFT, whose prediction is the ensemble mean.

    ``errors`` (widths, seeds) are single networks against the DMFT (their scatter plus
    the finite-width bias); the slope, verdict and :attr:`median_errors` use
    ``ensemble_errors``, the error of the seed mean.

    Attributes
    ----------
    ensemble_errors : ndarray, shape (widths,)
        ``max_{t, a, alpha} |<K>_seeds - K_DMFT| / S_1``.
    standard_errors : ndarray, shape (widths,)
        Standard error of the seed mean, ``std_seeds(K) / sqrt(seeds) / S_1``, at the
        (t, a, alpha) of the largest difference: the sampling noise of the comparison.
    scatter : ndarray, shape (widths,)
        ``max_{t, a, alpha} std_seeds(K) / S_1``: how far single networks spread.
    scatter_slope : float
        Slope of ``log scatter`` against ``log width`` (-0.5 for plain ``N^{-1/2}``).
    discrete : bool
        Whether the DMFT was solved at the networks' learning rate.
    qp_ensemble_errors : ndarray or None, shape (widths,)
        ``max |<K_qp>_seeds - <K>_seeds| / S_1``: the q/p model on the same networks.
    total_errors, total_standard_errors : ndarray, shape (widths,)
        The same error and its sampling noise for ``sum_a K_{a alpha}``: the race
        between pathways cancels there, so the check is far less noisy.
    """

    JSON_GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {"config": CONFIG_FIELDS + ("discrete",)}
    XARRAY_TITLE: ClassVar[str] = "pathdyn DMFT width sweep"
    ERROR_LABEL: ClassVar[str] = "seed-mean error by width"

    ensemble_errors: np.ndarray | None = field(default=None, repr=False, metadata=labelled(dims=("width",), name="ensemble_error"))
    standard_errors: np.ndarray | None = field(default=None, repr=False, metadata=labelled(dims=("width",), name="standard_error"))
    scatter: np.ndarray | None = field(default=None, repr=False, metadata=labelled(dims=("width",)))
    scatter_slope: float = float("nan")
    discrete: bool = True
    qp_ensemble_errors: np.ndarray | None = field(default=None, repr=False,
                                                  metadata=labelled(dims=("width",), name="qp_ensemble_error"))
    total_errors: np.ndarray | None = field(default=None, repr=False, metadata=labelled(dims=("width",), name="total_error"))
    total_standard_errors: np.ndarray | None = field(default=None, repr=False,
                                                     metadata=labelled(dims=("width",), name="total_standard_error"))

    @property
    def median_errors(self) -> np.ndarray:
        """The error of the seed mean at each width (the quantity the DMFT predicts)."""
        return np.asarray(self.ensemble_errors, dtype=float)

    def json_extras(self) -> dict:
        """``median_errors`` (the seed-mean errors) and ``config.dmft_time`` in words.

        Returns
        -------
        dict
        """
        time = "discrete at the learning rate" if self.discrete else "continuous (flow)"
        return dict(super().json_extras(), **{"config.dmft_time": time})


def _report_class(data: dict) -> type:
    """The report class of one case's JSON, also for files written before it named its class."""
    if "record" not in data and "ensemble_errors" in data:
        return DMFTWidthReport
    return WidthScalingReport


def load_width_reports(path: str | Path) -> tuple[list, list]:
    """The reports of a ``pathdyn validate -o FILE.json`` (one case or a suite) and their names.

    Each case is read as the class that wrote it (a DMFT case as :class:`DMFTWidthReport`,
    with its seed-mean errors), with every field.

    Parameters
    ----------
    path : str or Path
        The JSON file.

    Returns
    -------
    (reports, names) : tuple of list

    Raises
    ------
    ConfigError
        When the file is missing, not JSON, or holds no validate report.
    """
    data = read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"path: {str(path)!r} holds no validate report; write it with pathdyn validate -o")
    cases = data["cases"] if "cases" in data else [data]
    names = [case.get("name", f"case {k + 1}") for k, case in enumerate(cases)] if "cases" in data else ["custom"]
    return [record_from_json(_report_class(case), case) for case in cases], names


def width_reports_to_dataframe(reports: Any, names: Any = None) -> Any:
    """One row per (case, width) of several reports (:func:`pathdyn.io.results.records_to_dataframe`).

    Parameters
    ----------
    reports : WidthScalingReport or sequence of them
    names : sequence of str, optional
        Case names (default ``"case 1"``, ...).

    Returns
    -------
    pandas.DataFrame
        ``case``, the case's settings, ``width``, ``seeds``, ``median_error``,
        ``min_error``, ``max_error``, the slope and its interval, the floor, ``passed`` and,
        for the DMFT, ``ensemble_error``, ``standard_error``, ``scatter`` and the others
        per width.
    """
    return records_to_dataframe(reports, names)
